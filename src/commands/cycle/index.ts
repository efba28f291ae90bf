// `cycle list`, `cycle show C`, `cycle feed C --allow-missing`: the hours, their GEOs and their feed.
import type { LoadedConfig } from '../../config/load.js';
import { formatCycle, parseCycle } from '../../cycle.js';
import { nothingToDo, usageError, notFoundError } from '../../errors.js';
import { formatTime, renderTable } from '../../render/table.js';
import { geosInCycle, getCycle, listCycles, listFeedFiles, markCycleReady, type Cycle, type FeedFileRecord } from '../../state/cycles.js';
import { listGeos } from '../../state/geos.js';
import { listTransactions, type Transaction } from '../../state/transactions.js';
import { withStateDb } from '../context.js';
import { auditCli } from '../audit.js';

function cycleArgument(text: string): Date {
  const cycle = parseCycle(text);
  if (!cycle) throw usageError(`${text}: not a UTC hour`, 'write it as YYYY-MM-DDTHH, e.g. 2026-11-24T20');
  return cycle;
}

export type ShownCycle = Cycle & { late: boolean };

/** A collecting cycle past centre.cycle_deadline_minutes is late: that is how operators see it. */
function withLateness(loaded: LoadedConfig, cycle: Cycle, now = Date.now()): ShownCycle {
  return { ...cycle, late: cycle.state === 'collecting' && cycle.cycleStart.getTime() + loaded.config.centre.cycle_deadline_minutes * 60_000 < now };
}

const shownState = (cycle: ShownCycle) => (cycle.late ? 'late' : cycle.state);

export async function runCycleList({ loaded, limit }: { loaded: LoadedConfig; limit?: number | undefined }): Promise<ShownCycle[]> {
  return withStateDb(loaded, async (db) => (await listCycles(db, { limit: limit ?? 48 })).map((cycle) => withLateness(loaded, cycle)));
}

export function describeCycleList(cycles: ShownCycle[]): string {
  if (cycles.length === 0) return 'no cycles yet: a cycle starts when the first GEO opens its hour';
  return renderTable(
    ['CYCLE', 'STATE', 'TRANSACTIONS', 'MISSING', 'READY', 'FED', 'SENT'],
    cycles.map((cycle) => [
      cycle.cycle,
      shownState(cycle),
      Object.entries(cycle.transactions).map(([state, n]) => `${n} ${state}`).join(', ') || '-',
      cycle.missingGeos.join(',') || '-',
      formatTime(cycle.readyAt),
      formatTime(cycle.fedAt),
      formatTime(cycle.sentAt),
    ]),
  );
}

export interface CycleShowResult {
  cycle: ShownCycle;
  transactions: Transaction[];
  waitingFor: string[];
  feedFiles: FeedFileRecord[];
}

export async function runCycleShow({ loaded, cycle }: { loaded: LoadedConfig; cycle: string }): Promise<CycleShowResult> {
  const cycleStart = cycleArgument(cycle);
  return withStateDb(loaded, async (db) => {
    const found = await getCycle(db, cycleStart);
    if (!found) throw notFoundError(`no cycle ${formatCycle(cycleStart)}`, 'see `ganymede cycle list`');
    const transactions = await listTransactions(db, { from: cycleStart, to: cycleStart, limit: 10_000 });
    const inWarehouse = new Set(await geosInCycle(db, cycleStart));
    const waitingFor = (await listGeos(db)).filter((geo) => geo.enabled && !inWarehouse.has(geo.name)).map((geo) => geo.name);
    return { cycle: withLateness(loaded, found), transactions, waitingFor, feedFiles: await listFeedFiles(db, cycleStart) };
  });
}

export function describeCycleShow(result: CycleShowResult): string {
  const { cycle } = result;
  const lines = [`cycle ${cycle.cycle}: ${shownState(cycle)}${cycle.error ? ` — ${cycle.error}` : ''}`];
  if (result.waitingFor.length > 0 && cycle.state === 'collecting') lines.push(`waiting for: ${result.waitingFor.join(', ')}`);
  if (cycle.missingGeos.length > 0) lines.push(`fed without: ${cycle.missingGeos.join(', ')}`);
  lines.push('', renderTable(['GEO', 'TXN', 'STATE', 'STEP', 'DELIVERED', 'WAREHOUSED'], result.transactions.map((txn) => [
    txn.geo, String(txn.id), txn.state, txn.step ?? '-', formatTime(txn.deliveredAt), formatTime(txn.warehousedAt),
  ])));
  if (result.feedFiles.length > 0) {
    lines.push('', 'sent to Glassbeam:', renderTable(['FILE', 'BYTES', 'SHA256', 'SENT'], result.feedFiles.map((file) => [file.remotePath, String(file.size), file.sha256.slice(0, 16), formatTime(file.sentAt)])));
  }
  return lines.join('\n');
}

/** Operator: feed a cycle now, without the GEOs that are not in the warehouse yet. */
export async function runCycleFeed({ loaded, cycle, allowMissing, dryRun = false }: { loaded: LoadedConfig; cycle: string; allowMissing: boolean; dryRun?: boolean }) {
  const cycleStart = cycleArgument(cycle);
  return withStateDb(loaded, async (db) => {
    const found = await getCycle(db, cycleStart);
    if (!found) throw notFoundError(`no cycle ${formatCycle(cycleStart)}`, 'see `ganymede cycle list`');
    if (!['collecting', 'failed', 'empty'].includes(found.state)) throw nothingToDo(`cycle ${found.cycle} is ${found.state}; use \`worker feed --cycle ${found.cycle} --force\` to build its feed again`);
    const inWarehouse = new Set(await geosInCycle(db, cycleStart));
    if (inWarehouse.size === 0) throw nothingToDo(`cycle ${found.cycle} has no GEO in the warehouse: there is nothing to feed`);
    const missing = (await listGeos(db)).filter((geo) => geo.enabled && !inWarehouse.has(geo.name)).map((geo) => geo.name);
    if (missing.length > 0 && !allowMissing) throw usageError(`cycle ${found.cycle} still waits for ${missing.join(', ')}`, 'add --allow-missing to feed it without them');
    if (dryRun) return { cycle: found.cycle, missingGeos: missing, dryRun: true };
    await markCycleReady(db, cycleStart, missing);
    await auditCli(db, 'cycle.feed', `cycle:${found.cycle}`, { allowMissing, missingGeos: missing });
    return { cycle: found.cycle, missingGeos: missing };
  });
}
