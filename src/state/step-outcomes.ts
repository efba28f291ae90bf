// How a step ends: done (and what follows it queued), failed (retried later or for good), or, by an
// operator, retried from scratch or cancelled. The worker's changes count only while it still holds the lease.
import type mysql from 'mysql2/promise';
import { inTransaction, type Db } from './db.js';
import { stepKey } from './transactions.js';
import { cycleStepKey, getStep, toStep, type Step, type TxnStepName } from './steps.js';

export interface StepOutcome {
  rows?: number | undefined;
  bytes?: number | undefined;
  /** For metrics only: documents the warehouse wrote. */
  documents?: number | undefined;
  /** A feed replayed for an hour already sent: its send is not queued, and the cycle stays sent. */
  replay?: boolean | undefined;
}

const nextStep: Record<TxnStepName, TxnStepName | null> = { decrypt: 'load', load: 'etl', etl: 'clean', clean: null };

/**
 * The worker finished: the step is done, the next one is due at once, the transaction moves on — one
 * database transaction, and only while the lease is still ours (false otherwise: the work will be redone).
 * `signal` aborted before the commit rolls it all back (throwing the signal's reason): the step stays
 * running, for its worker to record as stopped.
 */
export async function finishStep(db: Db, stepId: number, leaseToken: string, outcome: StepOutcome, signal?: AbortSignal): Promise<boolean> {
  return inTransaction(db, async (connection) => {
    const [done] = await connection.query<mysql.ResultSetHeader>(
      `UPDATE steps SET state = 'done', finished_at = UTC_TIMESTAMP(3), rows_count = ?, bytes_count = ?, last_error = NULL,
         lease_expires_at = NULL, updated_at = UTC_TIMESTAMP(3)
       WHERE id = ? AND lease_token = ? AND state = 'running'`,
      [outcome.rows ?? null, outcome.bytes ?? null, stepId, leaseToken],
    );
    if (done.affectedRows !== 1) return false;
    await connection.query(
      `UPDATE step_attempts SET outcome = 'succeeded', finished_at = UTC_TIMESTAMP(3), rows_count = ?, bytes_count = ? WHERE step_id = ? AND lease_token = ?`,
      [outcome.rows ?? null, outcome.bytes ?? null, stepId, leaseToken],
    );
    const step = (await getStep(connection, stepId))!;
    if (step.txnId === null) {
      if (step.name === 'feed' && !outcome.replay) {
        await connection.query(
          `INSERT INTO steps (step_key, txn_id, cycle_start, name, state, next_run_at, created_at, updated_at)
           VALUES (?, NULL, ?, 'send', 'pending', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))
           ON DUPLICATE KEY UPDATE state = 'pending', attempts = 0, next_run_at = UTC_TIMESTAMP(3), updated_at = UTC_TIMESTAMP(3)`,
          [cycleStepKey(step.cycleStart, 'send'), step.cycleStart],
        );
      }
      await connection.query(
        `UPDATE cycles SET state = ?, ${step.name === 'feed' ? 'fed_at' : 'sent_at'} = UTC_TIMESTAMP(3), error = NULL, updated_at = UTC_TIMESTAMP(3) WHERE cycle_start = ?`,
        [step.name === 'feed' && !outcome.replay ? 'fed' : 'sent', step.cycleStart],
      );
      signal?.throwIfAborted();
      return true;
    }
    const [txnRows] = await connection.query<mysql.RowDataPacket[]>('SELECT delivery FROM transactions WHERE id = ? FOR UPDATE', [step.txnId]);
    const following = nextStep[step.name as TxnStepName];
    if (following) {
      await connection.query(
        `INSERT IGNORE INTO steps (step_key, txn_id, cycle_start, name, state, next_run_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'pending', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`,
        [stepKey(step.txnId, Number(txnRows[0]!.delivery), following), step.txnId, step.cycleStart, following],
      );
      await connection.query(
        `UPDATE transactions SET step = ?, ${step.name === 'etl' ? 'warehoused_at = UTC_TIMESTAMP(3),' : ''} updated_at = UTC_TIMESTAMP(3)
         WHERE id = ? AND state = 'processing'`,
        [following, step.txnId],
      );
    } else {
      await connection.query(
        `UPDATE transactions SET state = 'done', step = NULL, error = NULL, finished_at = UTC_TIMESTAMP(3), updated_at = UTC_TIMESTAMP(3)
         WHERE id = ? AND state = 'processing'`,
        [step.txnId],
      );
    }
    signal?.throwIfAborted();
    return true;
  });
}

export interface FailureSettings {
  maxAttempts: number;
  retryBaseMs: number;
}

export type FailOutcome = 'retry' | 'failed' | 'refused' | 'lost';

/** The retry's delay after `attempts` tries: exponential, capped at 6 hours. */
export function retryDelayMs(attempts: number, baseMs: number): number {
  return Math.min(6 * 3_600_000, baseMs * 2 ** Math.max(0, attempts - 1));
}

/** The step failed for good or is retried later; its transaction or cycle fails with it when for good. */
export async function settleFailure(
  connection: mysql.PoolConnection,
  step: Step,
  error: string,
  refused: boolean,
  settings: FailureSettings,
): Promise<Exclude<FailOutcome, 'lost'>> {
  const final = refused || step.attempts >= settings.maxAttempts;
  await connection.query(
    `UPDATE steps SET state = ?, last_error = ?, lease_token = NULL, lease_expires_at = NULL, finished_at = UTC_TIMESTAMP(3),
       next_run_at = UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND, updated_at = UTC_TIMESTAMP(3)
     WHERE id = ?`,
    [final ? 'failed' : 'pending', error, final ? 0 : retryDelayMs(step.attempts, settings.retryBaseMs) * 1000, step.id],
  );
  if (step.txnId === null && final) {
    await connection.query(`UPDATE cycles SET state = 'failed', error = ?, updated_at = UTC_TIMESTAMP(3) WHERE cycle_start = ?`, [
      `${step.name} failed ${step.attempts} time${step.attempts === 1 ? '' : 's'}; last: ${error}`,
      step.cycleStart,
    ]);
  }
  if (step.txnId !== null && final) {
    const reason = refused ? error : `${step.name} failed ${step.attempts} time${step.attempts === 1 ? '' : 's'}; last: ${error}`;
    await connection.query(
      `UPDATE transactions SET state = ?, step = ?, error = ?, updated_at = UTC_TIMESTAMP(3) WHERE id = ? AND state = 'processing'`,
      [refused ? 'refused' : 'failed', step.name, reason, step.txnId],
    );
  }
  return refused ? 'refused' : final ? 'failed' : 'retry';
}

/** The worker failed: the attempt is recorded and the step retried later, or failed for good (refused data is never retried). */
export async function failStep(db: Db, stepId: number, leaseToken: string, error: string, refused: boolean, settings: FailureSettings): Promise<FailOutcome> {
  return inTransaction(db, async (connection) => {
    const [rows] = await connection.query<mysql.RowDataPacket[]>("SELECT * FROM steps WHERE id = ? AND lease_token = ? AND state = 'running' FOR UPDATE", [stepId, leaseToken]);
    if (!rows[0]) return 'lost';
    await connection.query(`UPDATE step_attempts SET outcome = 'failed', error = ?, finished_at = UTC_TIMESTAMP(3) WHERE step_id = ? AND lease_token = ?`, [
      error,
      stepId,
      leaseToken,
    ]);
    return settleFailure(connection, toStep(rows[0]), error, refused, settings);
  });
}

/** Operator: a failed transaction's failed step runs again from scratch (attempt count reset). */
export async function retryFailedTxn(db: Db, txnId: number): Promise<Step | undefined> {
  return inTransaction(db, async (connection) => {
    const [rows] = await connection.query<mysql.RowDataPacket[]>(
      "SELECT * FROM steps WHERE txn_id = ? AND state = 'failed' ORDER BY id DESC LIMIT 1 FOR UPDATE",
      [txnId],
    );
    if (!rows[0]) return undefined;
    await connection.query(
      `UPDATE steps SET state = 'pending', attempts = 0, next_run_at = UTC_TIMESTAMP(3), last_error = NULL, updated_at = UTC_TIMESTAMP(3) WHERE id = ?`,
      [rows[0].id],
    );
    await connection.query(
      `UPDATE transactions SET state = 'processing', step = ?, error = NULL, updated_at = UTC_TIMESTAMP(3) WHERE id = ?`,
      [rows[0].name, txnId],
    );
    return toStep({ ...rows[0], state: 'pending', attempts: 0 } as mysql.RowDataPacket);
  });
}

/** Operator: stop a transaction; its pending and running steps are cancelled (a running worker loses its lease). */
export async function cancelTxnSteps(db: Db, txnId: number): Promise<number> {
  return inTransaction(db, async (connection) => {
    const [result] = await connection.query<mysql.ResultSetHeader>(
      `UPDATE steps SET state = 'cancelled', lease_token = NULL, updated_at = UTC_TIMESTAMP(3) WHERE txn_id = ? AND state IN ('pending', 'running', 'failed')`,
      [txnId],
    );
    await connection.query(`UPDATE step_attempts a JOIN steps s ON s.id = a.step_id SET a.outcome = 'cancelled', a.finished_at = UTC_TIMESTAMP(3)
      WHERE s.txn_id = ? AND a.outcome = 'running'`, [txnId]);
    await connection.query(`UPDATE transactions SET state = 'cancelled', updated_at = UTC_TIMESTAMP(3) WHERE id = ?`, [txnId]);
    return result.affectedRows;
  });
}
