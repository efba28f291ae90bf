// A transaction's steps with every attempt and, for failed ones, the last lines their worker logged: what
// `txn show` and the status API show an operator on any host; and the steps still open.
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';
import { formatCycle } from '../cycle.js';
import { listAttemptLogs } from './attempt-logs.js';
import { listAttempts, listStepsOfTxn, type Attempt, type Step } from './steps.js';

export type ShownAttempt = Attempt & { logTail: string[] | null };
export type StepHistory = Step & { attemptLog: ShownAttempt[] };

export async function listStepHistory(db: Db, txnId: number): Promise<StepHistory[]> {
  const steps = await listStepsOfTxn(db, txnId);
  const ids = steps.map((step) => step.id);
  const [attempts, logs] = await Promise.all([listAttempts(db, ids), listAttemptLogs(db, ids)]);
  const tailOf = (attempt: Attempt) => logs.find((log) => log.stepId === attempt.stepId && log.attempt === attempt.attempt)?.lines ?? null;
  return steps.map((step) => ({
    ...step,
    attemptLog: attempts.filter((attempt) => attempt.stepId === step.id).map((attempt) => ({ ...attempt, logTail: tailOf(attempt) })),
  }));
}

export interface OpenStep {
  name: string;
  txnId: number | null;
  cycle: string;
  state: 'pending' | 'running';
  attempts: number;
  nextRunAt: Date;
  lastError: string | null;
}

/** Steps not finished yet, oldest hour first: what a drain that gave up was still waiting for. */
export async function listOpenSteps(db: Db, limit = 10): Promise<OpenStep[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT name, txn_id, cycle_start, state, attempts, next_run_at, last_error FROM steps
      WHERE state IN ('pending', 'running') ORDER BY cycle_start, id LIMIT ?`,
    [limit],
  );
  return rows.map((row) => ({
    name: String(row.name), txnId: row.txn_id === null ? null : Number(row.txn_id), cycle: formatCycle(row.cycle_start as Date),
    state: row.state, attempts: Number(row.attempts), nextRunAt: row.next_run_at as Date, lastError: row.last_error as string | null,
  }));
}
