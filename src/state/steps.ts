// Steps and their attempts: the central pipeline's unit of work. A tick claims a due step with one
// atomic UPDATE (a lease: host, token, expiry) under a named lock that keeps the worker limits exact;
// the worker renews the lease while it runs and finishes or fails the step only while it still holds
// it. A lease left to expire (killed worker, lost host) is turned into a failed attempt and a retry.
import { createHash, randomBytes } from 'node:crypto';
import type mysql from 'mysql2/promise';
import { inTransaction, type Db } from './db.js';
import { stepKey } from './transactions.js';

export const txnStepOrder = ['decrypt', 'load', 'etl', 'clean'] as const;
export type TxnStepName = (typeof txnStepOrder)[number];
export type StepName = TxnStepName | 'feed' | 'send';
export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'cancelled';

export interface Step {
  id: number;
  key: string;
  txnId: number | null;
  cycleStart: Date;
  name: StepName;
  state: StepState;
  attempts: number;
  nextRunAt: Date;
  leaseHost: string | null;
  leasePid: number | null;
  leaseExpiresAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  rows: number | null;
  bytes: number | null;
  lastError: string | null;
}

export interface Attempt {
  stepId: number;
  attempt: number;
  host: string;
  pid: number | null;
  outcome: 'running' | 'succeeded' | 'failed' | 'crashed' | 'cancelled';
  error: string | null;
  rows: number | null;
  bytes: number | null;
  logPath: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

export interface Claim {
  stepId: number;
  name: StepName;
  txnId: number | null;
  cycleStart: Date;
  attempt: number;
  leaseToken: string;
}

function toStep(row: mysql.RowDataPacket): Step {
  const num = (value: unknown) => (value === null || value === undefined ? null : Number(value));
  return {
    id: Number(row.id),
    key: row.step_key,
    txnId: num(row.txn_id),
    cycleStart: row.cycle_start,
    name: row.name,
    state: row.state,
    attempts: Number(row.attempts),
    nextRunAt: row.next_run_at,
    leaseHost: row.lease_host,
    leasePid: num(row.lease_pid),
    leaseExpiresAt: row.lease_expires_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    rows: num(row.rows_count),
    bytes: num(row.bytes_count),
    lastError: row.last_error,
  };
}

export async function listStepsOfTxn(db: Db, txnId: number): Promise<Step[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT * FROM steps WHERE txn_id = ? ORDER BY id', [txnId]);
  return rows.map(toStep);
}

export async function listAttempts(db: Db, stepIds: number[]): Promise<Attempt[]> {
  if (stepIds.length === 0) return [];
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT * FROM step_attempts WHERE step_id IN (?) ORDER BY step_id, attempt', [stepIds]);
  return rows.map((row) => ({
    stepId: Number(row.step_id),
    attempt: Number(row.attempt),
    host: row.host,
    pid: row.pid === null ? null : Number(row.pid),
    outcome: row.outcome,
    error: row.error,
    rows: row.rows_count === null ? null : Number(row.rows_count),
    bytes: row.bytes_count === null ? null : Number(row.bytes_count),
    logPath: row.log_path,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  }));
}

export async function getStep(db: Db | mysql.Connection, id: number): Promise<Step | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT * FROM steps WHERE id = ?', [id]);
  return rows[0] ? toStep(rows[0]) : undefined;
}

/** The step of a transaction an operator's `worker <step> --txn` means: the newest of that name. */
export async function findTxnStep(db: Db, txnId: number, name: StepName): Promise<Step | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT * FROM steps WHERE txn_id = ? AND name = ? ORDER BY id DESC LIMIT 1', [txnId, name]);
  return rows[0] ? toStep(rows[0]) : undefined;
}

export function cycleStepKey(cycleStart: Date, step: 'feed' | 'send'): string {
  return `cycle:${cycleStart.toISOString().slice(0, 13)}:${step}`;
}

export async function findCycleStep(db: Db, cycleStart: Date, name: StepName): Promise<Step | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT * FROM steps WHERE txn_id IS NULL AND cycle_start = ? AND name = ? ORDER BY id DESC LIMIT 1', [cycleStart, name]);
  return rows[0] ? toStep(rows[0]) : undefined;
}

/** The transaction is processing at this step; a cycle is feeding or sending. */
async function markSubjectRunning(connection: mysql.PoolConnection, step: Step): Promise<void> {
  if (step.txnId !== null) {
    await connection.query(
      `UPDATE transactions SET state = 'processing', step = ?, error = NULL, updated_at = UTC_TIMESTAMP(3) WHERE id = ? AND state IN ('delivered', 'processing', 'failed')`,
      [step.name, step.txnId],
    );
  } else {
    await connection.query(`UPDATE cycles SET state = ?, error = NULL, updated_at = UTC_TIMESTAMP(3) WHERE cycle_start = ?`, [
      step.name === 'feed' ? 'feeding' : 'sending',
      step.cycleStart,
    ]);
  }
}

/** Attempt rows are numbered for good: `txn retry` resets the step's count of attempts, not their history. */
async function insertAttempt(connection: mysql.PoolConnection, stepId: number, host: string, leaseToken: string): Promise<void> {
  await connection.query(
    `INSERT INTO step_attempts (step_id, attempt, host, lease_token, outcome, started_at)
     SELECT ?, COALESCE(MAX(attempt), 0) + 1, ?, ?, 'running', UTC_TIMESTAMP(3) FROM step_attempts WHERE step_id = ?`,
    [stepId, host, leaseToken, stepId],
  );
}

export interface ClaimLimits {
  host: string;
  leaseMs: number;
  maxWorkers: number;
  maxPerStep: Partial<Record<StepName, number>>;
  /** Claim nothing, only say what would be claimed. */
  dryRun?: boolean;
}

const claimLockWaitSeconds = 10;

function claimLockName(database: string): string {
  return `ganymede.claim.${createHash('sha1').update(database).digest('hex').slice(0, 24)}`;
}

/**
 * Claims the steps that are due, oldest cycle first, within the limits on running workers. The named
 * lock makes the count-then-claim exact across ticks; the conditional UPDATE alone already makes each
 * claim exclusive.
 */
export async function claimDueSteps(db: Db, database: string, limits: ClaimLimits): Promise<Claim[]> {
  const connection = await db.getConnection();
  try {
    const [lock] = await connection.query<mysql.RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS got', [claimLockName(database), claimLockWaitSeconds]);
    if (Number(lock[0]?.got) !== 1) return [];
    try {
      // max_workers is this host's (its cores); a step's cap is the centre's, as it protects the servers all hosts share.
      const [running] = await connection.query<mysql.RowDataPacket[]>(
        "SELECT name, COUNT(*) AS n, SUM(lease_host = ?) AS here FROM steps WHERE state = 'running' GROUP BY name",
        [limits.host],
      );
      const runningByStep = new Map(running.map((row) => [row.name as StepName, Number(row.n)]));
      let free = limits.maxWorkers - running.reduce((sum, row) => sum + Number(row.here ?? 0), 0);
      if (free <= 0) return [];
      const [due] = await connection.query<mysql.RowDataPacket[]>(
        "SELECT * FROM steps WHERE state = 'pending' AND next_run_at <= UTC_TIMESTAMP(3) ORDER BY cycle_start, id LIMIT ?",
        [Math.max(free * 4, 20)],
      );
      const claims: Claim[] = [];
      for (const step of due.map(toStep)) {
        if (free <= 0) break;
        const cap = limits.maxPerStep[step.name];
        if (cap !== undefined && (runningByStep.get(step.name) ?? 0) >= cap) continue;
        const leaseToken = randomBytes(16).toString('hex');
        if (!limits.dryRun) {
          const [claimed] = await connection.query<mysql.ResultSetHeader>(
            `UPDATE steps SET state = 'running', attempts = attempts + 1, lease_host = ?, lease_pid = NULL, lease_token = ?,
               lease_expires_at = UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND, started_at = UTC_TIMESTAMP(3), finished_at = NULL,
               updated_at = UTC_TIMESTAMP(3)
             WHERE id = ? AND state = 'pending'`,
            [limits.host, leaseToken, limits.leaseMs * 1000, step.id],
          );
          if (claimed.affectedRows !== 1) continue;
          await insertAttempt(connection, step.id, limits.host, leaseToken);
          await markSubjectRunning(connection, step);
        }
        claims.push({ stepId: step.id, name: step.name, txnId: step.txnId, cycleStart: step.cycleStart, attempt: step.attempts + 1, leaseToken });
        runningByStep.set(step.name, (runningByStep.get(step.name) ?? 0) + 1);
        free--;
      }
      return claims;
    } finally {
      await connection.query('SELECT RELEASE_LOCK(?)', [claimLockName(database)]).catch(() => undefined);
    }
  } finally {
    connection.release();
  }
}

/**
 * An operator runs one step by hand (`worker <step> --txn`): it takes the step itself if it is pending
 * or failed, exactly as a tick would. Undefined when the step is not runnable (running, done, cancelled).
 */
export async function claimStepByHand(db: Db, stepId: number, host: string, leaseMs: number): Promise<Claim | undefined> {
  return inTransaction(db, async (connection) => {
    // A refused or cancelled transaction is not revived by hand: the agent delivers the hour again.
    const [rows] = await connection.query<mysql.RowDataPacket[]>(
      `SELECT s.* FROM steps s LEFT JOIN transactions t ON t.id = s.txn_id
       WHERE s.id = ? AND s.state IN ('pending', 'failed') AND (s.txn_id IS NULL OR t.state IN ('delivered', 'processing', 'failed')) FOR UPDATE`,
      [stepId],
    );
    if (!rows[0]) return undefined;
    const step = toStep(rows[0]);
    const leaseToken = randomBytes(16).toString('hex');
    await connection.query(
      `UPDATE steps SET state = 'running', attempts = attempts + 1, lease_host = ?, lease_pid = NULL, lease_token = ?,
         lease_expires_at = UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND, started_at = UTC_TIMESTAMP(3), finished_at = NULL, updated_at = UTC_TIMESTAMP(3)
       WHERE id = ?`,
      [host, leaseToken, leaseMs * 1000, step.id],
    );
    await insertAttempt(connection, step.id, host, leaseToken);
    await markSubjectRunning(connection, step);
    return { stepId: step.id, name: step.name, txnId: step.txnId, cycleStart: step.cycleStart, attempt: step.attempts + 1, leaseToken };
  });
}

/** Records which process works on the attempt and where its log goes. */
export async function recordLaunch(db: Db, claim: Claim, pid: number | undefined, logPath: string): Promise<void> {
  await db.query('UPDATE step_attempts SET pid = ?, log_path = ? WHERE step_id = ? AND lease_token = ?', [pid ?? null, logPath, claim.stepId, claim.leaseToken]);
  await db.query('UPDATE steps SET lease_pid = COALESCE(lease_pid, ?) WHERE id = ? AND lease_token = ?', [pid ?? null, claim.stepId, claim.leaseToken]);
}

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

export interface StepOutcome {
  rows?: number | undefined;
  bytes?: number | undefined;
  /** For metrics only: documents the warehouse wrote. */
  documents?: number | undefined;
}

const nextStep: Record<TxnStepName, TxnStepName | null> = { decrypt: 'load', load: 'etl', etl: 'clean', clean: null };

/**
 * The worker finished: the step is done, the next one is due at once, the transaction moves on — one
 * database transaction, and only while the lease is still ours (false otherwise: the work will be redone).
 */
export async function finishStep(db: Db, stepId: number, leaseToken: string, outcome: StepOutcome): Promise<boolean> {
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
      if (step.name === 'feed') {
        await connection.query(
          `INSERT INTO steps (step_key, txn_id, cycle_start, name, state, next_run_at, created_at, updated_at)
           VALUES (?, NULL, ?, 'send', 'pending', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))
           ON DUPLICATE KEY UPDATE state = 'pending', attempts = 0, next_run_at = UTC_TIMESTAMP(3), updated_at = UTC_TIMESTAMP(3)`,
          [cycleStepKey(step.cycleStart, 'send'), step.cycleStart],
        );
      }
      await connection.query(
        `UPDATE cycles SET state = ?, ${step.name === 'feed' ? 'fed_at' : 'sent_at'} = UTC_TIMESTAMP(3), error = NULL, updated_at = UTC_TIMESTAMP(3) WHERE cycle_start = ?`,
        [step.name === 'feed' ? 'fed' : 'sent', step.cycleStart],
      );
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

async function settleFailure(
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
    const settled = await inTransaction(db, async (connection) => {
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
    if (settled) expired.push(settled);
  }
  return expired;
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

/** Whether anything is still to do: steps running, or pending (due now or later). */
export async function countOpenSteps(db: Db): Promise<{ running: number; pending: number; dueNow: number }> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT SUM(state = 'running') AS running, SUM(state = 'pending') AS pending,
            SUM(state = 'pending' AND next_run_at <= UTC_TIMESTAMP(3)) AS due FROM steps`,
  );
  return { running: Number(rows[0]?.running ?? 0), pending: Number(rows[0]?.pending ?? 0), dueNow: Number(rows[0]?.due ?? 0) };
}
