import type { LoadedConfig } from '../../config/load.js';
import { usageError, notFoundError } from '../../errors.js';
import { getTransaction, type Transaction } from '../../state/transactions.js';
import { listEvents, type StoredEvent } from '../../state/events.js';
import { listStepHistory, type StepHistory } from '../../state/step-history.js';
import { formatBytes, formatTime, renderTable } from '../../render/table.js';
import { withStateDb } from '../context.js';

export interface TxnShowResult {
  transaction: Transaction;
  steps: StepHistory[];
  events: StoredEvent[];
}

export function parseTxnId(text: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id <= 0) throw usageError(`"${text}" is not a transaction id`, 'ids are positive numbers; see `ganymede txn list`');
  return id;
}

export async function runTxnShow({ loaded, id }: { loaded: LoadedConfig; id: number }): Promise<TxnShowResult> {
  return withStateDb(loaded, async (db) => {
    const transaction = await getTransaction(db, id);
    if (!transaction) throw notFoundError(`no transaction ${id}`, 'see `ganymede txn list`');
    return {
      transaction,
      steps: await listStepHistory(db, id),
      events: await listEvents(db, id),
    };
  });
}

export function describeTxnShow({ transaction: txn, steps, events }: TxnShowResult): string {
  const lines = [
    `transaction ${txn.id}: GEO ${txn.geo}, cycle ${txn.cycle}, ${txn.state}${txn.step ? ` (${txn.step})` : ''}, delivery ${txn.delivery}`,
    `  opened     ${formatTime(txn.openedAt)}${txn.agentHost ? ` by ${txn.agentHost}` : ''}`,
    `  delivered  ${formatTime(txn.deliveredAt)}${txn.file ? `  ${txn.file.name}, ${formatBytes(txn.file.size)}, sha256 ${txn.file.sha256}` : ''}`,
    `  warehoused ${formatTime(txn.warehousedAt)}`,
    `  finished   ${formatTime(txn.finishedAt)}`,
  ];
  if (txn.error) lines.push(`  error      ${txn.error}`);
  if (steps.length > 0) {
    lines.push('', 'steps and attempts:');
    lines.push(
      renderTable(
        ['STEP', 'ATTEMPT', 'OUTCOME', 'HOST', 'PID', 'STARTED', 'FINISHED', 'ROWS', 'BYTES', 'ERROR'],
        steps.flatMap((step) => [
          [step.name, '', step.state, '', '', formatTime(step.startedAt), formatTime(step.finishedAt), step.rows === null ? '' : String(step.rows), formatBytes(step.bytes), step.lastError ?? ''],
          ...step.attemptLog.map((attempt) => [
            '',
            `#${attempt.attempt}`,
            attempt.outcome,
            attempt.host,
            attempt.pid === null ? '' : String(attempt.pid),
            formatTime(attempt.startedAt),
            formatTime(attempt.finishedAt),
            attempt.rows === null ? '' : String(attempt.rows),
            formatBytes(attempt.bytes),
            attempt.error ?? '',
          ]),
        ]),
        { maxWidths: [0, 0, 0, 0, 0, 0, 0, 0, 0, 70] },
      ),
    );
    // The newest failed attempt of each step says why in its own words; older ones are in the table above.
    for (const step of steps) {
      const failed = step.attemptLog.filter((attempt) => attempt.logTail !== null).at(-1);
      if (!failed) continue;
      lines.push('', `last log lines of ${step.name} attempt #${failed.attempt} on ${failed.host}:`, ...failed.logTail!.map((line) => `  ${line}`));
    }
    const logs = [...new Set(steps.flatMap((step) => step.attemptLog.filter((attempt) => attempt.logPath).map((attempt) => `${attempt.host}:${attempt.logPath}`)))];
    if (logs.length > 0) lines.push(`log: ${logs.join(', ')}`);
  }
  lines.push('', events.length === 0 ? 'no status events' : `status events (${events.length}):`);
  if (events.length > 0) {
    lines.push(
      renderTable(
        ['AT', 'SOURCE', 'LEVEL', 'PHASE', 'TABLE', 'ROWS', 'BYTES', 'MESSAGE'],
        events.map((event) => [
          formatTime(event.at),
          event.source,
          event.level,
          event.phase,
          event.table ?? '',
          event.rows === undefined ? '' : String(event.rows),
          event.bytes === undefined ? '' : formatBytes(event.bytes),
          event.message ?? '',
        ]),
      ),
    );
  }
  return lines.join('\n');
}
