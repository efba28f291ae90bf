// `ganymede jupiter drain`: ticks until nothing is runnable or running. Each worker it launches wakes it
// when it exits, so the next step starts at once instead of at the next minute; other hosts' workers are
// noticed by polling. Exit 0 when everything it saw finished, "failed" when something did not.
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadedConfig } from '../../config/load.js';
import { GanymedeError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { createLogger } from '../../log.js';
import type { Db } from '../../state/db.js';
import { countOpenSteps } from '../../state/steps.js';
import { listOpenSteps } from '../../state/step-history.js';
import { transactionOutcomes, type TxnOutcome } from '../../state/transactions.js';
import { cycleOutcomes, type CycleState } from '../../state/cycles.js';
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
  transactions: TxnOutcome[];
  /** The hours whose steps it launched (a transaction's or the feed and send), as they stand at the end. */
  cycles: Array<{ cycle: string; state: CycleState; error: string | null }>;
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
      // What it was waiting for, and why a step is waiting: a retry's backoff can outlast any timeout.
      const waiting = await listOpenSteps(options.db);
      throw new GanymedeError(ExitCode.failed, `drain gave up after ${Math.round((options.timeoutMs ?? 3_600_000) / 1000)} s with ${open.running} steps running and ${open.pending} pending`, {
        details: waiting.map((step) => `${step.name} of ${step.txnId === null ? `cycle ${step.cycle}` : `transaction ${step.txnId} (${step.cycle})`}: ${step.state}` +
          `${step.state === 'pending' && step.attempts > 0 ? `, attempt ${step.attempts} failed${step.lastError ? `: ${step.lastError.slice(0, 200)}` : ''}; next at ${step.nextRunAt.toISOString()}` : ''}`),
        hint: 'see `ganymede status` and the worker logs',
      });
    }
    // Woken by a worker's exit, or after pollMs for work of other hosts and retries coming due.
    await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(pollMs)]);
  }
  const ids = [...new Set(launched.map((item) => item.txnId).filter((id): id is number => id !== null))];
  const transactions = await transactionOutcomes(options.db, ids);
  // Every hour a step of which ran: its feed and send are the drain's work as much as a transaction's steps.
  const cycles = await cycleOutcomes(options.db, [...new Set(launched.map((item) => item.cycle))].map((cycle) => new Date(`${cycle}:00:00Z`)));
  const failedCycles = cycles.filter((cycle) => cycle.state === 'failed').map(({ cycle, error }) => ({ cycle, error }));
  const ok = transactions.every((txn) => txn.state === 'done') && failedCycles.length === 0;
  log.debug(`drained: ${launched.length} steps launched, ${transactions.filter((txn) => txn.state === 'done').length} of ${transactions.length} transactions done`);
  return { launched, transactions, cycles, failedCycles, ok };
}

export function describeDrain(result: DrainResult): string {
  if (result.launched.length === 0) return 'nothing to do: no step was due';
  return [
    ...result.transactions.map((txn) => `transaction ${txn.id} ${txn.geo} ${txn.cycle}: ${txn.state}${txn.error ? ` — ${txn.error}` : ''}`),
    ...result.cycles.map((cycle) => `cycle ${cycle.cycle}: ${cycle.state}${cycle.state === 'failed' ? ` — ${cycle.error ?? 'no reason recorded'}` : ''}`),
  ].join('\n');
}
