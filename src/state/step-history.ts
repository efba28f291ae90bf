// A transaction's steps with every attempt and, for failed ones, the last lines their worker logged: what
// `txn show` and the status API show an operator on any host.
import type { Db } from './db.js';
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
