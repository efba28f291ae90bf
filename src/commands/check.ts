// `ganymede check`: for monitoring systems (Nagios/Icinga plugin conventions): one summary line first,
// then one line per finding; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (when the check itself cannot run).
import { statfs } from 'node:fs/promises';
import type mysql from 'mysql2/promise';
import type { LoadedConfig } from '../config/load.js';
import { centreDirs } from '../config/load.js';
import { formatCycle } from '../cycle.js';
import { formatAgo } from '../render/age.js';
import { listHosts } from '../state/hosts.js';
import { withStateDb } from './context.js';

export const CheckStatus = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;
export type CheckLevel = keyof typeof CheckStatus;

export interface Finding {
  level: Exclude<CheckLevel, 'unknown'>;
  what: string;
}

export interface CheckResult {
  status: CheckLevel;
  summary: string;
  findings: Finding[];
}

async function diskFindings(label: string, path: string, warn: number, crit: number): Promise<Finding[]> {
  try {
    const stats = await statfs(path);
    const freePercent = (Number(stats.bavail) / Number(stats.blocks)) * 100;
    if (freePercent < crit) return [{ level: 'critical', what: `${label} ${path}: only ${freePercent.toFixed(1)}% free` }];
    if (freePercent < warn) return [{ level: 'warning', what: `${label} ${path}: ${freePercent.toFixed(1)}% free` }];
    return [];
  } catch {
    return [];
  }
}

export async function runCheck({ loaded, now = new Date() }: { loaded: LoadedConfig; now?: Date }): Promise<CheckResult> {
  const { check, centre } = loaded.config;
  const findings: Finding[] = [];
  await withStateDb(loaded, async (db) => {
    const query = async (sql: string, params: unknown[] = []) => (await db.query<mysql.RowDataPacket[]>(sql, params))[0];
    // Late GEOs: cycles past their deadline still collecting, naming who is missing.
    const late = await query(
      `SELECT c.cycle_start, (SELECT GROUP_CONCAT(g.name ORDER BY g.name) FROM geos g WHERE g.enabled = 1 AND NOT EXISTS
         (SELECT 1 FROM transactions t WHERE t.geo_id = g.id AND t.cycle_start = c.cycle_start AND t.warehoused_at IS NOT NULL)) AS missing
       FROM cycles c WHERE c.state = 'collecting' AND c.cycle_start + INTERVAL ? MINUTE < ? ORDER BY c.cycle_start`,
      [centre.cycle_deadline_minutes, now],
    );
    for (const row of late) if (row.missing) findings.push({ level: 'warning', what: `cycle ${formatCycle(row.cycle_start)} is late: waiting for ${row.missing}` });
    const failed = await query(
      `SELECT COUNT(*) AS n, GROUP_CONCAT(CONCAT(t.id, ' ', g.name, ' ', t.state) ORDER BY t.id SEPARATOR ', ') AS which FROM transactions t JOIN geos g ON g.id = t.geo_id
       WHERE t.state IN ('failed', 'refused') AND t.cycle_start > ? - INTERVAL ? HOUR`,
      [now, check.failed_window_hours],
    );
    if (Number(failed[0]?.n) > 0) findings.push({ level: 'critical', what: `${failed[0]!.n} failed transactions in the last ${check.failed_window_hours} h: ${String(failed[0]!.which).slice(0, 300)}` });
    const unsent = await query(
      `SELECT cycle_start, state FROM cycles WHERE state NOT IN ('sent', 'empty') AND cycle_start + INTERVAL ? MINUTE < ? AND cycle_start > ? - INTERVAL ? HOUR ORDER BY cycle_start`,
      [check.send_deadline_minutes, now, now, check.failed_window_hours],
    );
    if (unsent.length > 0) {
      findings.push({ level: 'critical', what: `${unsent.length} cycles not sent by their deadline (${check.send_deadline_minutes} min): ${unsent.map((row) => `${formatCycle(row.cycle_start)} ${row.state}`).slice(0, 6).join(', ')}` });
    }
    const archive = await query("SELECT MAX(archived_at) AS last FROM archive_records WHERE state = 'archived'");
    const lastArchive = archive[0]?.last as Date | null;
    if (!lastArchive) findings.push({ level: 'warning', what: 'nothing has been archived yet' });
    else if (now.getTime() - lastArchive.getTime() > check.archive_max_age_minutes * 60_000) {
      findings.push({ level: 'critical', what: `the last archive is ${Math.round((now.getTime() - lastArchive.getTime()) / 60_000)} min old (limit ${check.archive_max_age_minutes})` });
    }
    const tick = await query("SELECT MAX(at) AS last FROM metric_points WHERE name = 'tick.run'");
    const lastTick = tick[0]?.last as Date | null;
    if (!lastTick || now.getTime() - lastTick.getTime() > check.tick_max_age_minutes * 60_000) {
      findings.push({ level: 'critical', what: lastTick ? `jupiter tick last ran ${Math.round((now.getTime() - lastTick.getTime()) / 60_000)} min ago (limit ${check.tick_max_age_minutes}): is its cron line in place?` : 'jupiter tick has never run' });
    }
    // A central host gone quiet: its own work is retried elsewhere, but the operator should know (`hosts forget` once it is gone for good).
    for (const host of (await listHosts(db, centre.host_dead_after_ms, now)).filter((candidate) => !candidate.alive)) {
      findings.push({ level: 'warning', what: `host ${host.name} is dead: its last heartbeat was ${formatAgo(host.lastSeenAgoMs)} (limit ${Math.round(centre.host_dead_after_ms / 1000)} s)` });
    }
  });
  const dirs = centreDirs(loaded.config);
  for (const [label, path] of [['inbox', dirs.inbox], ['work dir', dirs.work]] as const) {
    findings.push(...(await diskFindings(label, path, check.disk_warning_percent, check.disk_critical_percent)));
  }
  const status: CheckLevel = findings.some((finding) => finding.level === 'critical') ? 'critical' : findings.length > 0 ? 'warning' : 'ok';
  const summary = `GANYMEDE ${status.toUpperCase()} - ${findings.length === 0 ? 'all hours delivered, fed and sent; archive and tick current' : findings.map((finding) => finding.what).join('; ').slice(0, 200)}`;
  return { status, summary, findings };
}

export function describeCheck(result: CheckResult): string {
  return [result.summary, ...result.findings.map((finding) => `${finding.level.toUpperCase()}: ${finding.what}`)].join('\n');
}
