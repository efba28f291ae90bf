// `ganymede jupiter drain`: ticks until nothing is runnable or running. Each worker it launches wakes it
// when it exits, so the next step starts at once instead of at the next minute; other hosts' workers are
// noticed by polling. Exit 0 when everything it saw finished, "failed" when something did not.
import { setTimeout as sleep } from 'node:timers/promises';
import type mysql from 'mysql2/promise';
import type { LoadedConfig } from '../../config/load.js';
import { GanymedeError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { createLogger } from '../../log.js';
import type { Db } from '../../state/db.js';
import { countOpenSteps } from '../../state/steps.js';
import { tick, type Launched, type Launcher } from './tick.js';

export interface DrainOptions {
  loaded: LoadedConfig;
  db: Db;
  timeoutMs?: number;
  pollMs?: number;
  launch?: Launcher;
  signal?: AbortSignal;
}

export interface DrainResult {
  launched: Launched[];
  transactions: Array<{ id: number; geo: string; cycle: string; state: string; error: string | null }>;
  failedCycles: Array<{ cycle: string; error: string | null }>;
  ok: boolean;
}

export async function drain(options: DrainOptions): Promise<DrainResult> {
  const log = createLogger('drain');
  const deadline = Date.now() + (options.timeoutMs ?? 3_600_000);
  const pollMs = options.pollMs ?? 250;
  const launched: Launched[] = [];
  let wake: () => void = () => undefined;
  for (;;) {
    if (options.signal?.aborted) break;
    const result = await tick({ loaded: options.loaded, db: options.db, launch: options.launch });
    launched.push(...result.launched);
    for (const exited of result.exits) void exited.then(() => wake());
    const open = await countOpenSteps(options.db);
    if (open.running === 0 && open.pending === 0) break;
    if (Date.now() > deadline) {
      throw new GanymedeError(ExitCode.failed, `drain gave up after ${Math.round((options.timeoutMs ?? 3_600_000) / 1000)} s with ${open.running} steps running and ${open.pending} pending`, {
        hint: 'see `ganymede status` and the worker logs',
      });
    }
    // Woken by a worker's exit, or after pollMs for work of other hosts and retries coming due.
    await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(pollMs)]);
  }
  const ids = [...new Set(launched.map((item) => item.txnId).filter((id): id is number => id !== null))];
  let transactions: DrainResult['transactions'] = [];
  if (ids.length > 0) {
    const [rows] = await options.db.query<mysql.RowDataPacket[]>(
      `SELECT t.id, g.name AS geo, t.cycle_start, t.state, t.error FROM transactions t JOIN geos g ON g.id = t.geo_id WHERE t.id IN (?) ORDER BY t.id`,
      [ids],
    );
    transactions = rows.map((row) => ({ id: Number(row.id), geo: row.geo, cycle: (row.cycle_start as Date).toISOString().slice(0, 13), state: row.state, error: row.error }));
  }
  const cycles = [...new Set(launched.map((item) => item.cycle))];
  const [failedCycles] = cycles.length
    ? await options.db.query<mysql.RowDataPacket[]>("SELECT cycle_start, error FROM cycles WHERE state = 'failed' AND cycle_start IN (?)", [cycles.map((cycle) => new Date(`${cycle}:00:00Z`))])
    : [[] as mysql.RowDataPacket[]];
  const ok = transactions.every((txn) => txn.state === 'done') && failedCycles.length === 0;
  log.info(`drained: ${launched.length} steps launched, ${transactions.filter((txn) => txn.state === 'done').length} of ${transactions.length} transactions done`);
  return { launched, transactions, failedCycles: failedCycles.map((row) => ({ cycle: (row.cycle_start as Date).toISOString().slice(0, 13), error: row.error })), ok };
}

export function describeDrain(result: DrainResult): string {
  if (result.transactions.length === 0 && result.failedCycles.length === 0) return 'nothing to do: no step was due';
  return [
    ...result.transactions.map((txn) => `transaction ${txn.id} ${txn.geo} ${txn.cycle}: ${txn.state}${txn.error ? ` — ${txn.error}` : ''}`),
    ...result.failedCycles.map((cycle) => `cycle ${cycle.cycle}: failed — ${cycle.error ?? 'no reason recorded'}`),
  ].join('\n');
}
