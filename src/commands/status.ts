// `ganymede status`: a GEO × hour matrix of the last hours, then what runs now, what failed, and the
// last feed and send. Symbols read without colour (cron mail, NO_COLOR); colour only adds emphasis.
import type mysql from 'mysql2/promise';
import type { LoadedConfig } from '../config/load.js';
import { cycleOf, formatCycle } from '../cycle.js';
import { paint } from '../render/style.js';
import { formatTime, renderTable } from '../render/table.js';
import { listGeos } from '../state/geos.js';
import { withStateDb } from './context.js';

export type CellState = 'done' | 'running' | 'late' | 'failed' | 'missing' | 'waiting';

export interface StatusResult {
  hours: string[];
  geos: Array<{ name: string; enabled: boolean; cells: Array<{ cycle: string; state: CellState; step: string | null; txnId: number | null }> }>;
  running: Array<{ step: string; geo: string | null; cycle: string; txnId: number | null; host: string | null; pid: number | null; elapsedSeconds: number }>;
  failed: Array<{ txnId: number; geo: string; cycle: string; state: string; step: string | null; error: string | null; attempts: number; nextRetryAt: string | null; logPath: string | null }>;
  lastFeed: string | null;
  lastSend: string | null;
}

const symbols: Record<CellState, string> = { done: '#', running: '>', late: '!', failed: 'x', missing: '.', waiting: '-' };

function cellState(txnState: string | undefined, cycleStart: Date, deadlineMinutes: number, now: Date): CellState {
  if (txnState === 'done') return 'done';
  if (txnState === 'failed' || txnState === 'refused' || txnState === 'agent_failed') return 'failed';
  if (txnState && txnState !== 'cancelled') return cycleStart.getTime() + deadlineMinutes * 60_000 < now.getTime() ? 'late' : 'running';
  return cycleStart.getTime() + deadlineMinutes * 60_000 < now.getTime() ? 'missing' : 'waiting';
}

export async function runStatus({ loaded, hours }: { loaded: LoadedConfig; hours?: number | undefined }): Promise<StatusResult> {
  const count = Math.min(Math.max(hours ?? 24, 1), 24 * 14);
  const now = new Date();
  const newest = cycleOf(now);
  const cycles = Array.from({ length: count }, (_, i) => new Date(newest.getTime() - (count - 1 - i) * 3_600_000));
  return withStateDb(loaded, async (db) => {
    const geos = await listGeos(db);
    const [txns] = await db.query<mysql.RowDataPacket[]>('SELECT id, geo_id, cycle_start, state, step, error FROM transactions WHERE cycle_start >= ?', [cycles[0]]);
    const byKey = new Map(txns.map((row) => [`${row.geo_id}@${(row.cycle_start as Date).getTime()}`, row]));
    const [running] = await db.query<mysql.RowDataPacket[]>(
      `SELECT s.name, s.txn_id, s.cycle_start, s.lease_host, s.lease_pid, TIMESTAMPDIFF(SECOND, s.started_at, UTC_TIMESTAMP()) AS elapsed, g.name AS geo
       FROM steps s LEFT JOIN transactions t ON t.id = s.txn_id LEFT JOIN geos g ON g.id = t.geo_id WHERE s.state = 'running' ORDER BY s.started_at`,
    );
    const [failed] = await db.query<mysql.RowDataPacket[]>(
      `SELECT t.id, g.name AS geo, t.cycle_start, t.state, t.step, t.error,
              (SELECT s.attempts FROM steps s WHERE s.txn_id = t.id ORDER BY s.id DESC LIMIT 1) AS attempts,
              (SELECT s.next_run_at FROM steps s WHERE s.txn_id = t.id AND s.state = 'pending' ORDER BY s.id DESC LIMIT 1) AS next_retry,
              (SELECT a.log_path FROM step_attempts a JOIN steps s ON s.id = a.step_id WHERE s.txn_id = t.id ORDER BY a.id DESC LIMIT 1) AS log_path
       FROM transactions t JOIN geos g ON g.id = t.geo_id
       WHERE t.state IN ('failed', 'refused', 'agent_failed') OR (t.state = 'processing' AND t.error IS NOT NULL) OR EXISTS
         (SELECT 1 FROM steps s WHERE s.txn_id = t.id AND s.state = 'pending' AND s.last_error IS NOT NULL)
       ORDER BY t.cycle_start DESC LIMIT 20`,
    );
    const [last] = await db.query<mysql.RowDataPacket[]>('SELECT MAX(fed_at) AS fed, MAX(sent_at) AS sent FROM cycles');
    const deadline = loaded.config.centre.cycle_deadline_minutes;
    return {
      hours: cycles.map(formatCycle),
      geos: geos.map((geo) => ({
        name: geo.name,
        enabled: geo.enabled,
        cells: cycles.map((cycle) => {
          const txn = byKey.get(`${geo.id}@${cycle.getTime()}`);
          return { cycle: formatCycle(cycle), state: cellState(txn?.state, cycle, deadline, now), step: txn?.step ?? null, txnId: txn ? Number(txn.id) : null };
        }),
      })),
      running: running.map((row) => ({
        step: row.name, geo: row.geo ?? null, cycle: formatCycle(row.cycle_start), txnId: row.txn_id === null ? null : Number(row.txn_id),
        host: row.lease_host, pid: row.lease_pid === null ? null : Number(row.lease_pid), elapsedSeconds: Number(row.elapsed ?? 0),
      })),
      failed: failed.map((row) => ({
        txnId: Number(row.id), geo: row.geo, cycle: formatCycle(row.cycle_start), state: row.state, step: row.step, error: row.error,
        attempts: Number(row.attempts ?? 0), nextRetryAt: row.next_retry ? (row.next_retry as Date).toISOString() : null, logPath: row.log_path,
      })),
      lastFeed: last[0]?.fed ? (last[0].fed as Date).toISOString() : null,
      lastSend: last[0]?.sent ? (last[0].sent as Date).toISOString() : null,
    };
  });
}

const colour: Record<CellState, (text: string) => string> = {
  done: paint.green, running: paint.yellow, late: paint.magenta, failed: paint.red, missing: paint.gray, waiting: paint.gray,
};

export function describeStatus(result: StatusResult): string {
  const nameWidth = Math.max(4, ...result.geos.map((geo) => geo.name.length));
  const lines: string[] = [];
  // Hour labels every 3 columns (2 characters each), so 24 hours fit 80 columns beside a 10-char GEO name.
  const header = result.hours.map((hour, i) => (i % 3 === 0 ? hour.slice(11, 13).padEnd(6) : '')).join('');
  lines.push(`${'UTC'.padEnd(nameWidth)}  ${header.trimEnd()}    (${result.hours[0]?.slice(0, 10)} .. ${result.hours.at(-1)})`);
  for (const geo of result.geos) {
    const cells = geo.cells.map((cell) => colour[cell.state](cell.state === 'running' && cell.step ? cell.step[0]! : symbols[cell.state])).join(' ');
    lines.push(`${geo.name.padEnd(nameWidth)}  ${cells}${geo.enabled ? '' : '  (disabled)'}`);
  }
  if (result.geos.length === 0) lines.push('no GEOs yet: `ganymede geo add`');
  lines.push(`legend: # done  > or d/l/e/c running (step)  ! late  x failed  . missing  - not due yet`);
  lines.push('', result.running.length === 0 ? 'running now: nothing' : 'running now:');
  if (result.running.length > 0) {
    lines.push(renderTable(['STEP', 'GEO', 'CYCLE', 'TXN', 'HOST', 'PID', 'ELAPSED'], result.running.map((row) => [
      row.step, row.geo ?? '-', row.cycle, row.txnId === null ? '-' : String(row.txnId), row.host ?? '-', row.pid === null ? '-' : String(row.pid), `${row.elapsedSeconds}s`,
    ])));
  }
  lines.push('', result.failed.length === 0 ? 'failed: nothing' : 'failed or retrying:');
  for (const row of result.failed) {
    lines.push(`  txn ${row.txnId} ${row.geo} ${row.cycle} ${row.state}${row.step ? ` at ${row.step}` : ''}, ${row.attempts} attempts${row.nextRetryAt ? `, next retry ${formatTime(new Date(row.nextRetryAt))}` : ''}`);
    if (row.error) lines.push(`    ${row.error.slice(0, 150)}`);
    if (row.logPath) lines.push(`    log: ${row.logPath}`);
  }
  lines.push('', `last feed: ${result.lastFeed ? formatTime(new Date(result.lastFeed)) : 'never'}   last send: ${result.lastSend ? formatTime(new Date(result.lastSend)) : 'never'}`);
  return lines.join('\n');
}
