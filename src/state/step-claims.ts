// Taking a step: a tick claims due steps with one atomic UPDATE each (a lease: host, token, expiry) under a
// named lock that keeps the worker limits exact; an operator takes one by hand. Claiming marks the attempt
// and its subject (the transaction or the cycle) running in the same transaction.
import { createHash, randomBytes } from 'node:crypto';
import type mysql from 'mysql2/promise';
import { inTransaction, isDeadlock, type Db } from './db.js';
import { toStep, type Step, type StepName } from './steps.js';

export interface Claim {
  stepId: number;
  name: StepName;
  txnId: number | null;
  cycleStart: Date;
  attempt: number;
  leaseToken: string;
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
 * One step taken: the step, its attempt and its subject in one transaction, so none is left half claimed.
 * A deadlock with a worker finishing its step (both lock the same gap of ix_steps_due) leaves this step
 * pending for the next tick instead of failing the whole tick, whose earlier claims are then still launched.
 */
async function claimOne(connection: mysql.PoolConnection, step: Step, limits: ClaimLimits, leaseToken: string): Promise<boolean> {
  await connection.beginTransaction();
  try {
    const [claimed] = await connection.query<mysql.ResultSetHeader>(
      `UPDATE steps SET state = 'running', attempts = attempts + 1, lease_host = ?, lease_pid = NULL, lease_token = ?,
         lease_expires_at = UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND, started_at = UTC_TIMESTAMP(3), finished_at = NULL,
         updated_at = UTC_TIMESTAMP(3)
       WHERE id = ? AND state = 'pending'`,
      [limits.host, leaseToken, limits.leaseMs * 1000, step.id],
    );
    if (claimed.affectedRows !== 1) {
      await connection.rollback();
      return false;
    }
    await insertAttempt(connection, step.id, limits.host, leaseToken);
    await markSubjectRunning(connection, step);
    await connection.commit();
    return true;
  } catch (error) {
    await connection.rollback().catch(() => undefined);
    if (isDeadlock(error)) return false;
    throw error;
  }
}

/**
 * A GEO's later hour is not applied to the warehouse while the feed of an earlier hour it is in is due or
 * being built: that feed reads the warehouse, and must read that hour's content. (An hour still collecting
 * does not hold it: its feed leaves out a GEO that has moved on, as missing; see commands/worker/feed.ts.)
 */
async function feedToWaitFor(connection: mysql.PoolConnection, txnId: number): Promise<Date | undefined> {
  const [rows] = await connection.query<mysql.RowDataPacket[]>(
    `SELECT MIN(c.cycle_start) AS waiting FROM transactions t
       JOIN transactions e ON e.geo_id = t.geo_id AND e.cycle_start < t.cycle_start AND e.warehoused_at IS NOT NULL
       JOIN cycles c ON c.cycle_start = e.cycle_start AND c.state IN ('ready', 'feeding')
      WHERE t.id = ?`,
    [txnId],
  );
  return (rows[0]?.waiting as Date | null) ?? undefined;
}

/**
 * One etl at a time per GEO, oldest hour first: two of its hours written at once would take each other's
 * collections over (the newer wins, the older fails and is retried only to find itself overtaken).
 */
async function etlRunningForGeo(connection: mysql.PoolConnection, txnId: number): Promise<boolean> {
  const [rows] = await connection.query<mysql.RowDataPacket[]>(
    `SELECT 1 FROM transactions me
       JOIN transactions t ON t.geo_id = me.geo_id AND t.id <> me.id
       JOIN steps s ON s.txn_id = t.id AND s.name = 'etl' AND s.state = 'running'
      WHERE me.id = ? LIMIT 1`,
    [txnId],
  );
  return rows.length > 0;
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
        if (step.name === 'etl' && step.txnId !== null && ((await etlRunningForGeo(connection, step.txnId)) || (await feedToWaitFor(connection, step.txnId)))) continue;
        const leaseToken = randomBytes(16).toString('hex');
        if (!limits.dryRun && !(await claimOne(connection, step, limits, leaseToken))) continue;
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
