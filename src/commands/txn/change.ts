// `txn retry` and `txn cancel`: an operator's hand on one transaction.
import type { LoadedConfig } from '../../config/load.js';
import { nothingToDo, usageError } from '../../errors.js';
import { cancelTxnSteps, retryFailedTxn } from '../../state/steps.js';
import { getTransaction, type Transaction } from '../../state/transactions.js';
import { withStateDb } from '../context.js';
import { auditCli } from '../audit.js';

export async function runTxnRetry({ loaded, id }: { loaded: LoadedConfig; id: number }): Promise<{ transaction: Transaction; step: string }> {
  return withStateDb(loaded, async (db) => {
    const txn = await getTransaction(db, id);
    if (!txn) throw usageError(`no transaction ${id}`, 'see `ganymede txn list`');
    if (txn.state !== 'failed') throw nothingToDo(`transaction ${id} is ${txn.state}; only a failed transaction is retried`);
    const step = await retryFailedTxn(db, id);
    if (!step) throw nothingToDo(`transaction ${id} has no failed step to retry`);
    await auditCli(db, 'txn.retry', `txn:${id}`, { step: step.name });
    return { transaction: (await getTransaction(db, id))!, step: step.name };
  });
}

export async function runTxnCancel({ loaded, id }: { loaded: LoadedConfig; id: number }): Promise<{ transaction: Transaction; stepsCancelled: number }> {
  return withStateDb(loaded, async (db) => {
    const txn = await getTransaction(db, id);
    if (!txn) throw usageError(`no transaction ${id}`, 'see `ganymede txn list`');
    if (txn.state === 'done' || txn.state === 'cancelled') throw nothingToDo(`transaction ${id} is ${txn.state}; nothing to cancel`);
    const stepsCancelled = await cancelTxnSteps(db, id);
    await auditCli(db, 'txn.cancel', `txn:${id}`, { stepsCancelled });
    return { transaction: (await getTransaction(db, id))!, stepsCancelled };
  });
}
