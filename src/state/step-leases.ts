// Keeping a step: its worker renews the lease while it runs; a lease left to expire (killed worker, lost
// host) is turned into a failed attempt and a retry, the attempt given back when its host went silent.
import type mysql from 'mysql2/promise';
import { inTransaction, isLockWaitTimeout, type Db } from './db.js';
import { toStep, type Step } from './steps.js';
import { settleFailure, type FailOutcome, type FailureSettings } from './step-outcomes.js';

/** Extends the lease; false when it is no longer ours (expired and reclaimed, or cancelled). */
export async function renewLease(db: Db, stepId: number, leaseToken: string, pid: number, leaseMs: number): Promise<boolean> {
  const [result] = await db.query<mysql.ResultSetHeader>(
    `UPDATE steps SET lease_pid = ?, lease_expires_at = UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND, updated_at = UTC_TIMESTAMP(3)
     WHERE id = ? AND lease_token = ? AND state = 'running'`,
    [pid, leaseMs * 1000, stepId, leaseToken],
  );
  if (result.affectedRows === 1) await db.query('UPDATE step_attempts SET pid = ? WHERE step_id = ? AND lease_token = ? AND pid IS NULL', [pid, stepId, leaseToken]);
  return result.affectedRows === 1;
}

export interface ExpiredLease {
  step: Step;
  outcome: Exclude<FailOutcome, 'lost'>;
  reason: string;
}

/**
 * Running steps whose lease ran out more than graceMs ago: their worker is gone. The grace keeps a
 * worker that finished just as its lease ran out from being called crashed: its finish needs only the
 * lease token, so it still commits within the grace.
 */
export async function expireLeases(db: Db, graceMs: number, settings: FailureSettings & { leaseMs?: number }): Promise<ExpiredLease[]> {
  const [candidates] = await db.query<mysql.RowDataPacket[]>(
    "SELECT id FROM steps WHERE state = 'running' AND lease_expires_at < UTC_TIMESTAMP(3) - INTERVAL ? MICROSECOND",
    [graceMs * 1000],
  );
  const expired: ExpiredLease[] = [];
  for (const { id } of candidates) {
    try {
      const settled = await expireLease(db, Number(id), graceMs, settings);
      if (settled) expired.push(settled);
    } catch (error) {
      // A session that still holds the step's row (its host cut off mid-transaction) is closed by the server within
      // the idle bound (see idleSessionSeconds): this step is left to the next tick, the others go on.
      if (!isLockWaitTimeout(error)) throw error;
    }
  }
  return expired;
}

async function expireLease(db: Db, id: number, graceMs: number, settings: FailureSettings & { leaseMs?: number }): Promise<ExpiredLease | undefined> {
  return inTransaction(db, async (connection) => {
    const [rows] = await connection.query<mysql.RowDataPacket[]>(
      "SELECT * FROM steps WHERE id = ? AND state = 'running' AND lease_expires_at < UTC_TIMESTAMP(3) - INTERVAL ? MICROSECOND FOR UPDATE",
      [id, graceMs * 1000],
    );
    if (!rows[0]) return undefined;
    const step = toStep(rows[0]);
    const silentSince = settings.leaseMs === undefined ? undefined : await hostSilentSince(connection, step.leaseHost, rows[0].lease_expires_at, settings.leaseMs);
    const reason = silentSince
      ? `worker ${step.name} on ${step.leaseHost}${step.leasePid ? ` pid ${step.leasePid}` : ''} stopped renewing its lease as its host went silent (no heartbeat since ${silentSince.toISOString()}): the attempt does not count`
      : `worker ${step.name} on ${step.leaseHost ?? '?'}${step.leasePid ? ` pid ${step.leasePid}` : ''} stopped renewing its lease (killed, out of memory, or its host went down)`;
    if (silentSince) {
      // Lost with its host, not through any fault of the step: given back, so a host that dies cannot use up an hour's attempts.
      await connection.query('UPDATE steps SET attempts = GREATEST(attempts - 1, 0) WHERE id = ?', [step.id]);
      step.attempts = Math.max(step.attempts - 1, 0);
    }
    await connection.query(
      `UPDATE step_attempts SET outcome = 'crashed', error = ?, finished_at = UTC_TIMESTAMP(3) WHERE step_id = ? AND lease_token = ?`,
      [reason, step.id, rows[0].lease_token],
    );
    return { step, outcome: await settleFailure(connection, step, reason, false, settings), reason };
  });
}

/**
 * When the host that held a lease went silent together with its worker: no heartbeat from it (neither a tick
 * nor a later renewal) since one renewal interval after the lease's last renewal. A host that is alive ticks
 * every minute, after its crashed worker's last renewal. Undefined when the host beat since, or is not known.
 */
async function hostSilentSince(connection: mysql.PoolConnection, host: string | null, leaseExpiresAt: Date, leaseMs: number): Promise<Date | undefined> {
  if (host === null) return undefined;
  const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT last_seen_at FROM hosts WHERE name = ?', [host]);
  const lastSeen = rows[0]?.last_seen_at as Date | undefined;
  if (!lastSeen) return undefined;
  const lastRenewal = leaseExpiresAt.getTime() - leaseMs;
  return lastSeen.getTime() <= lastRenewal + Math.max(500, Math.floor(leaseMs / 3)) ? lastSeen : undefined;
}
