// Steps and their attempts: the central pipeline's unit of work, and what reads them. Taking a step is in
// step-claims.ts, keeping it (the lease) in step-leases.ts, and how it ends in step-outcomes.ts.
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';

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

/** A `steps` row as a Step, for the modules that read it with a lock of their own. */
export function toStep(row: mysql.RowDataPacket): Step {
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

/** Whether anything is still to do: steps running, or pending (due now or later). */
export async function countOpenSteps(db: Db): Promise<{ running: number; pending: number; dueNow: number }> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT SUM(state = 'running') AS running, SUM(state = 'pending') AS pending,
            SUM(state = 'pending' AND next_run_at <= UTC_TIMESTAMP(3)) AS due FROM steps`,
  );
  return { running: Number(rows[0]?.running ?? 0), pending: Number(rows[0]?.pending ?? 0), dueNow: Number(rows[0]?.due ?? 0) };
}

export interface RunningStepView {
  name: StepName;
  /** Null for a cycle's feed or send, and for a step whose transaction is gone. */
  geo: string | null;
  txnId: number | null;
  cycleStart: Date;
  host: string | null;
  pid: number | null;
  elapsedSeconds: number;
}

/** Steps running now, longest running first, with their GEO: what `status` shows. */
export async function listRunningSteps(db: Db): Promise<RunningStepView[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT s.name, s.txn_id, s.cycle_start, s.lease_host, s.lease_pid, TIMESTAMPDIFF(SECOND, s.started_at, UTC_TIMESTAMP()) AS elapsed, g.name AS geo
     FROM steps s LEFT JOIN transactions t ON t.id = s.txn_id LEFT JOIN geos g ON g.id = t.geo_id WHERE s.state = 'running' ORDER BY s.started_at`,
  );
  return rows.map((row) => ({
    name: row.name, geo: row.geo ?? null, txnId: row.txn_id === null ? null : Number(row.txn_id), cycleStart: row.cycle_start,
    host: row.lease_host, pid: row.lease_pid === null ? null : Number(row.lease_pid), elapsedSeconds: Number(row.elapsed ?? 0),
  }));
}

/** How many steps of each name run now, on every host; a name none runs is absent. */
export async function countRunningStepsByName(db: Db): Promise<Map<StepName, number>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>("SELECT name, COUNT(*) AS n FROM steps WHERE state = 'running' GROUP BY name");
  return new Map(rows.map((row) => [row.name as StepName, Number(row.n)]));
}

/** When each GEO last finished each of its transactions' steps, in seconds since the epoch, by GEO then step. */
export async function listLastStepSuccesses(db: Db): Promise<Array<{ geo: string; step: StepName; finishedAtSeconds: number }>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT g.name AS geo, s.name AS step, UNIX_TIMESTAMP(MAX(s.finished_at)) AS at FROM steps s JOIN transactions t ON t.id = s.txn_id JOIN geos g ON g.id = t.geo_id
     WHERE s.state = 'done' GROUP BY g.name, s.name ORDER BY g.name, s.name`,
  );
  return rows.map((row) => ({ geo: String(row.geo), step: row.step as StepName, finishedAtSeconds: Number(row.at) }));
}
