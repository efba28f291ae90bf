// `ganymede check`: for monitoring systems (Nagios/Icinga plugin conventions): one summary line first,
// then one line per finding; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (when the check itself cannot run).
// The silent GEOs and hours come from the dead-man switch (src/alerts/dead-man.ts), which the webhook shares.
import { statfs } from 'node:fs/promises';
import type { LoadedConfig } from '../config/load.js';
import { centreDirs } from '../config/load.js';
import { findDeadManProblems, type MissedHour, type ProblemKind } from '../alerts/dead-man.js';
import { lastArchivedAt } from '../state/archive.js';
import { listLateCycles, listUnsentCycles } from '../state/cycles.js';
import { lastMetricAt } from '../state/metrics.js';
import { listFailedTransactionsSince } from '../state/transactions.js';
import { listSchemaChangesSince } from '../state/geo-schemas.js';
import { describeSchemaChange } from '../dump/table-schema.js';
import { hourMs } from '../cycle.js';
import { withStateDb } from './context.js';
import type { Config } from '../config/schema.js';
import type { Db } from '../state/db.js';

/** Changes named per GEO hour in a finding; the feed's manifest lists them all. */
const schemaChangesShown = 5;

export const CheckStatus = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;
export type CheckLevel = keyof typeof CheckStatus;

export type FindingKind = ProblemKind | 'late-cycle' | 'failed-transactions' | 'unsent-cycles' | 'archive-age' | 'tick-age' | 'disk' | 'schema-change';

/** One problem; `--json` carries what names it (the GEO, the hours, the host) besides the line. */
export interface Finding {
  level: Exclude<CheckLevel, 'unknown'>;
  kind: FindingKind;
  what: string;
  /** For the dead-man problems: the key the alert webhook announces it under. */
  key?: string;
  geo?: string;
  host?: string;
  hours?: MissedHour[];
  lastDelivered?: string | null;
  lastOpened?: string | null;
}

export interface CheckResult {
  status: CheckLevel;
  summary: string;
  findings: Finding[];
}

export interface CheckOptions {
  loaded: LoadedConfig;
  /** The clock: tests ask about a fixed moment. */
  now?: Date;
}

async function diskFindings(label: string, path: string, warn: number, crit: number): Promise<Finding[]> {
  try {
    const stats = await statfs(path);
    const freePercent = (Number(stats.bavail) / Number(stats.blocks)) * 100;
    if (freePercent < crit) return [{ level: 'critical', kind: 'disk', what: `${label} ${path}: only ${freePercent.toFixed(1)}% free` }];
    if (freePercent < warn) return [{ level: 'warning', kind: 'disk', what: `${label} ${path}: ${freePercent.toFixed(1)}% free` }];
    return [];
  } catch {
    return [];
  }
}

/**
 * The checks themselves, over an open Ganymede database: what `ganymede check` prints and the console's
 * health page shows. Disk space is measured on the host that asks.
 */
export async function evaluateCheck(db: Db, config: Config, now = new Date()): Promise<CheckResult> {
  const { check, centre } = config;
  const findings: Finding[] = [];
  // Silent GEOs and hours, dead hosts: the same problems the webhook announces.
  findings.push(...(await findDeadManProblems(db, config, now)));
  for (const late of await listLateCycles(db, centre.cycle_deadline_minutes, now)) {
    findings.push({ level: 'warning', kind: 'late-cycle', what: `cycle ${late.cycle} is late: waiting for ${late.waitingFor.join(',')} to reach the warehouse` });
  }
  const failed = await listFailedTransactionsSince(db, new Date(now.getTime() - check.failed_window_hours * hourMs));
  if (failed.length > 0) {
    const which = failed.map((txn) => `${txn.id} ${txn.geo} ${txn.state}`).join(', ');
    findings.push({ level: 'critical', kind: 'failed-transactions', what: `${failed.length} failed transactions in the last ${check.failed_window_hours} h: ${which.slice(0, 300)}` });
  }
  const unsent = await listUnsentCycles(db, check.send_deadline_minutes, check.failed_window_hours, now);
  if (unsent.length > 0) {
    findings.push({
      level: 'critical',
      kind: 'unsent-cycles',
      what: `${unsent.length} cycles not sent by their deadline (${check.send_deadline_minutes} min): ${unsent.map((row) => `${row.cycle} ${row.state}`).slice(0, 6).join(', ')}`,
    });
  }
  const lastArchive = await lastArchivedAt(db);
  if (!lastArchive) findings.push({ level: 'warning', kind: 'archive-age', what: 'nothing has been archived yet' });
  else if (now.getTime() - lastArchive.getTime() > check.archive_max_age_minutes * 60_000) {
    findings.push({ level: 'critical', kind: 'archive-age', what: `the last archive is ${Math.round((now.getTime() - lastArchive.getTime()) / 60_000)} min old (limit ${check.archive_max_age_minutes})` });
  }
  const lastTick = await lastMetricAt(db, 'tick.run');
  if (!lastTick || now.getTime() - lastTick.getTime() > check.tick_max_age_minutes * 60_000) {
    findings.push({
      level: 'critical',
      kind: 'tick-age',
      what: lastTick ? `jupiter tick last ran ${Math.round((now.getTime() - lastTick.getTime()) / 60_000)} min ago (limit ${check.tick_max_age_minutes}): is its cron line in place?` : 'jupiter tick has never run',
    });
  }
  if (check.warn_on_schema_change) {
    // The GEO hours loaded within the lookback whose schema differs from the GEO's hour before (load records them).
    for (const hour of await listSchemaChangesSince(db, new Date(now.getTime() - check.lookback_hours * hourMs))) {
      const shown = hour.changes.slice(0, schemaChangesShown).map(describeSchemaChange).join('; ');
      const more = hour.changes.length > schemaChangesShown ? `; and ${hour.changes.length - schemaChangesShown} more` : '';
      findings.push({ level: 'warning', kind: 'schema-change', geo: hour.geo, what: `GEO ${hour.geo} hour ${hour.cycle}: schema changed since ${hour.previousCycle}: ${shown}${more}` });
    }
  }
  const dirs = centreDirs(config);
  for (const [label, path] of [['inbox', dirs.inbox], ['work dir', dirs.work]] as const) {
    findings.push(...(await diskFindings(label, path, check.disk_warning_percent, check.disk_critical_percent)));
  }
  const status: CheckLevel = findings.some((finding) => finding.level === 'critical') ? 'critical' : findings.length > 0 ? 'warning' : 'ok';
  const summary = `GANYMEDE ${status.toUpperCase()} - ${findings.length === 0 ? 'all hours delivered, fed and sent; archive and tick current' : findings.map((finding) => finding.what).join('; ').slice(0, 200)}`;
  return { status, summary, findings };
}

export async function runCheck({ loaded, now = new Date() }: CheckOptions): Promise<CheckResult> {
  return withStateDb(loaded, (db) => evaluateCheck(db, loaded.config, now));
}

export function describeCheck(result: CheckResult): string {
  return [result.summary, ...result.findings.map((finding) => `${finding.level.toUpperCase()}: ${finding.what}`)].join('\n');
}
