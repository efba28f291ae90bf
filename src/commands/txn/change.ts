// `txn retry` and `txn cancel`: an operator's hand on one transaction, from the CLI or the web console's
// buttons alike (retryTxn and cancelTxn take the database and who to audit the change as).
import type { PoolConnection } from 'mysql2/promise';
import type { LoadedConfig } from '../../config/load.js';
import { GanymedeError, nothingToDo, notFoundError } from '../../errors.js';
import type { Db } from '../../state/db.js';
import { cancelTxnSteps, retryFailedTxn } from '../../state/step-outcomes.js';
import { listStepsOfTxn } from '../../state/steps.js';
import { getTransaction, type Transaction } from '../../state/transactions.js';
import { dropTxnSchemas } from '../../worker/scratch-db.js';
import { withStateDb } from '../context.js';
import { auditCli } from '../audit.js';

/** Records a change made: the CLI as its operating-system user (auditCli), the console as the admin token. */
export type AuditChange = (db: Db | PoolConnection, action: string, target: string, detail: Record<string, unknown>) => Promise<void>;

export interface TxnChangeOptions {
  dryRun?: boolean | undefined;
  audit: AuditChange;
}

export type TxnRetryResult = { transaction: Transaction; step: string; dryRun?: true };

export async function retryTxn(db: Db, id: number, { dryRun, audit }: TxnChangeOptions): Promise<TxnRetryResult> {
  const txn = await getTransaction(db, id);
  if (!txn) throw notFoundError(`no transaction ${id}`, 'see `ganymede txn list`');
  if (txn.state !== 'failed') throw nothingToDo(`transaction ${id} is ${txn.state}; only a failed transaction is retried`);
  if (dryRun) {
    // The step retryFailedTxn would take: the latest failed one.
    const failed = (await listStepsOfTxn(db, id)).filter((candidate) => candidate.state === 'failed').at(-1);
    if (!failed) throw nothingToDo(`transaction ${id} has no failed step to retry`);
    return { dryRun: true, transaction: txn, step: failed.name };
  }
  const step = await retryFailedTxn(db, id);
  if (!step) throw nothingToDo(`transaction ${id} has no failed step to retry`);
  await audit(db, 'txn.retry', `txn:${id}`, { step: step.name });
  return { transaction: (await getTransaction(db, id))!, step: step.name };
}

export async function runTxnRetry({ loaded, id, dryRun }: { loaded: LoadedConfig; id: number; dryRun?: boolean }): Promise<TxnRetryResult> {
  return withStateDb(loaded, (db) => retryTxn(db, id, { dryRun, audit: auditCli }));
}

export interface TxnCancelResult {
  transaction: Transaction;
  stepsCancelled: number;
  /** The transaction's scratch schemas that were dropped. */
  schemasDropped: string[];
}

/**
 * Cancels the transaction, then drops its scratch schemas: a cancelled transaction never reaches `clean`.
 * Run again on a cancelled transaction, it drops what is still there (the scratch MySQL was down, or a
 * worker that was loading when it lost its lease created the schema again).
 */
export async function cancelTxn(loaded: LoadedConfig, db: Db, id: number, { dryRun, audit }: TxnChangeOptions): Promise<TxnCancelResult & { dryRun?: true }> {
  const txn = await getTransaction(db, id);
  if (!txn) throw notFoundError(`no transaction ${id}`, 'see `ganymede txn list`');
  if (txn.state === 'done') throw nothingToDo(`transaction ${id} is done; nothing to cancel`);
  const alreadyCancelled = txn.state === 'cancelled';
  if (dryRun) {
    const stepsCancelled = alreadyCancelled ? 0 : (await listStepsOfTxn(db, id)).filter((step) => ['pending', 'running', 'failed'].includes(step.state)).length;
    const schemasDropped = await dropTxnSchemas(loaded, txn, { dryRun: true });
    if (alreadyCancelled && schemasDropped.length === 0) throw nothingToDo(`transaction ${id} is cancelled and has no scratch schema left; nothing to cancel`);
    return { dryRun: true, transaction: txn, stepsCancelled, schemasDropped };
  }
  const stepsCancelled = alreadyCancelled ? 0 : await cancelTxnSteps(db, id);
  let schemasDropped: string[];
  try {
    schemasDropped = await dropTxnSchemas(loaded, txn);
  } catch (error) {
    if (!(error instanceof GanymedeError)) throw error;
    throw new GanymedeError(error.exitCode, `transaction ${id} is cancelled, but its scratch schema was not dropped: ${error.message}`,
      { hint: `${error.hint ? `${error.hint}; then ` : ''}run \`ganymede txn cancel ${id}\` again to drop it`, cause: error });
  }
  if (alreadyCancelled && schemasDropped.length === 0) throw nothingToDo(`transaction ${id} is cancelled and has no scratch schema left; nothing to cancel`);
  await audit(db, 'txn.cancel', `txn:${id}`, { stepsCancelled, schemasDropped });
  return { transaction: (await getTransaction(db, id))!, stepsCancelled, schemasDropped };
}

export async function runTxnCancel({ loaded, id, dryRun }: { loaded: LoadedConfig; id: number; dryRun?: boolean }): Promise<TxnCancelResult & { dryRun?: true }> {
  return withStateDb(loaded, (db) => cancelTxn(loaded, db, id, { dryRun, audit: auditCli }));
}
