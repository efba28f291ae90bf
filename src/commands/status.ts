// `ganymede status`: a GEO × hour matrix of the last hours, then what runs now, what failed, and the
// last feed and send. Symbols read without colour (cron mail, NO_COLOR); colour only adds emphasis.
import type { LoadedConfig } from '../config/load.js';
import { cycleOf, formatCycle, hourMs } from '../cycle.js';
import { paint } from '../render/style.js';
import { formatTime, renderTable } from '../render/table.js';
import { lastFeedAndSend } from '../state/cycles.js';
import { listGeos } from '../state/geos.js';
import { listRunningSteps } from '../state/steps.js';
import { listTransactionCellsSince, listTroubledTransactions } from '../state/transactions.js';
import { withStateDb } from './context.js';
import { cellState, cellSymbol, type CellState } from '../render/cell-state.js';

export type { CellState } from '../render/cell-state.js';

export interface StatusResult {
  hours: string[];
  geos: Array<{ name: string; enabled: boolean; cells: Array<{ cycle: string; state: CellState; step: string | null; txnId: number | null }> }>;
  running: Array<{ step: string; geo: string | null; cycle: string; txnId: number | null; host: string | null; pid: number | null; elapsedSeconds: number }>;
  failed: Array<{ txnId: number; geo: string; cycle: string; state: string; step: string | null; error: string | null; attempts: number; nextRetryAt: string | null; logPath: string | null }>;
  lastFeed: string | null;
  lastSend: string | null;
}

export async function runStatus({ loaded, hours }: { loaded: LoadedConfig; hours?: number | undefined }): Promise<StatusResult> {
  const count = Math.min(Math.max(hours ?? 24, 1), 24 * 14);
  const now = new Date();
  const newest = cycleOf(now);
  const cycles = Array.from({ length: count }, (_, i) => new Date(newest.getTime() - (count - 1 - i) * hourMs));
  return withStateDb(loaded, async (db) => {
    const geos = await listGeos(db);
    const txns = await listTransactionCellsSince(db, cycles[0]!);
    const byKey = new Map(txns.map((txn) => [`${txn.geoId}@${txn.cycleStart.getTime()}`, txn]));
    const running = await listRunningSteps(db);
    const failed = await listTroubledTransactions(db, 20);
    const last = await lastFeedAndSend(db);
    const deadline = loaded.config.centre.cycle_deadline_minutes;
    return {
      hours: cycles.map(formatCycle),
      geos: geos.map((geo) => ({
        name: geo.name,
        enabled: geo.enabled,
        cells: cycles.map((cycle) => {
          const txn = byKey.get(`${geo.id}@${cycle.getTime()}`);
          return { cycle: formatCycle(cycle), state: cellState(txn?.state, cycle, deadline, now), step: txn?.step ?? null, txnId: txn ? txn.id : null };
        }),
      })),
      running: running.map((step) => ({
        step: step.name, geo: step.geo, cycle: formatCycle(step.cycleStart), txnId: step.txnId, host: step.host, pid: step.pid, elapsedSeconds: step.elapsedSeconds,
      })),
      failed: failed.map((txn) => ({
        txnId: txn.id, geo: txn.geo, cycle: formatCycle(txn.cycleStart), state: txn.state, step: txn.step, error: txn.error,
        attempts: txn.attempts, nextRetryAt: txn.nextRetryAt ? txn.nextRetryAt.toISOString() : null, logPath: txn.logPath,
      })),
      lastFeed: last.fedAt ? last.fedAt.toISOString() : null,
      lastSend: last.sentAt ? last.sentAt.toISOString() : null,
    };
  });
}

const colour: Record<CellState, (text: string) => string> = {
  done: paint.green, running: paint.yellow, late: paint.magenta, failed: paint.red, missing: paint.gray, waiting: paint.gray,
};

export function describeStatus(result: StatusResult): string {
  const nameWidth = Math.max(4, ...result.geos.map((geo) => geo.name.length));
  const lines: string[] = [];
  // Every hour labelled, its two digits stacked above its cell (one character and a space per hour), so 24
  // hours still fit 80 columns beside a 10-character GEO name and no column has to be counted.
  const digit = (index: number) => result.hours.map((hour) => hour.slice(11 + index, 12 + index)).join(' ');
  lines.push(`UTC hours ${result.hours[0] ?? ''} .. ${result.hours.at(-1) ?? ''}`);
  lines.push(`${''.padEnd(nameWidth)}  ${digit(0)}`, `${''.padEnd(nameWidth)}  ${digit(1)}`);
  for (const geo of result.geos) {
    const cells = geo.cells.map((cell) => colour[cell.state](cellSymbol(cell.state, cell.step))).join(' ');
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
