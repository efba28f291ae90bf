// The last log lines of a failed attempt, kept in MySQL: the worker's log file stays on the host that ran it,
// and an operator on any other host (txn show, the status API) still reads why it failed.
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';

/** TEXT holds 64 KiB; a tail is meant to be read on a screen. */
export const maxLogTailBytes = 16 * 1024;

export interface AttemptLog {
  stepId: number;
  attempt: number;
  host: string;
  lines: string[];
  recordedAt: Date;
}

/** Stores the tail for the attempt that holds `leaseToken` (the worker's own); a second call for it changes nothing. */
export async function recordAttemptLog(db: Db, stepId: number, leaseToken: string, lines: readonly string[]): Promise<void> {
  let tail = lines.join('\n');
  // Cut from the front: the last lines are the ones that say why.
  while (Buffer.byteLength(tail) > maxLogTailBytes) tail = tail.slice(tail.indexOf('\n') + 1 || tail.length - maxLogTailBytes / 2);
  await db.query(
    `INSERT INTO attempt_logs (step_id, attempt, host, log_tail, recorded_at)
     SELECT step_id, attempt, host, ?, UTC_TIMESTAMP(3) FROM step_attempts WHERE step_id = ? AND lease_token = ?
     ON DUPLICATE KEY UPDATE attempt_logs.step_id = attempt_logs.step_id`,
    [tail, stepId, leaseToken],
  );
}

export async function listAttemptLogs(db: Db, stepIds: number[]): Promise<AttemptLog[]> {
  if (stepIds.length === 0) return [];
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT * FROM attempt_logs WHERE step_id IN (?) ORDER BY step_id, attempt', [stepIds]);
  return rows.map((row) => ({
    stepId: Number(row.step_id),
    attempt: Number(row.attempt),
    host: row.host,
    lines: String(row.log_tail).split('\n'),
    recordedAt: row.recorded_at,
  }));
}
