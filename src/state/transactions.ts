// Transactions: one per GEO per cycle. The state machine is in README ("Transaction states"); every
// change here is one statement or a short transaction with a row lock, so a crash cannot leave it half done.
import type mysql from 'mysql2/promise';
import { inTransaction, type Db } from './db.js';
import { cycleOf, formatCycle } from '../cycle.js';
import { isDeliveryFileOf } from '../inbox/delivery-name.js';
import { recordSupersededDelivery } from './retired-deliveries.js';

export const txnStates = ['open', 'agent_failed', 'delivered', 'processing', 'done', 'failed', 'refused', 'cancelled'] as const;
export type TxnState = (typeof txnStates)[number];

export interface Transaction {
  id: number;
  geo: string;
  geoId: number;
  cycle: string;
  cycleStart: Date;
  state: TxnState;
  step: string | null;
  delivery: number;
  agentHost: string | null;
  file: { name: string; size: number; sha256: string } | null;
  error: string | null;
  openedAt: Date;
  deliveredAt: Date | null;
  warehousedAt: Date | null;
  finishedAt: Date | null;
  updatedAt: Date;
}

const select = `SELECT t.*, g.name AS geo_name FROM transactions t JOIN geos g ON g.id = t.geo_id`;

function toTransaction(row: mysql.RowDataPacket): Transaction {
  return {
    id: Number(row.id),
    geo: row.geo_name,
    geoId: Number(row.geo_id),
    cycle: formatCycle(row.cycle_start),
    cycleStart: row.cycle_start,
    state: row.state,
    step: row.step,
    delivery: Number(row.delivery),
    agentHost: row.agent_host,
    file: row.file_name ? { name: row.file_name, size: Number(row.file_size), sha256: row.file_sha256 } : null,
    error: row.error,
    openedAt: row.opened_at,
    deliveredAt: row.delivered_at,
    warehousedAt: row.warehoused_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
  };
}

export async function getTransaction(db: Db | mysql.Connection, id: number, forUpdate = false): Promise<Transaction | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(`${select} WHERE t.id = ?${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0] ? toTransaction(rows[0]) : undefined;
}

/** Whether a GEO has a transaction for the hour, in whatever state. */
export async function hasTransaction(db: Db, geoId: number, cycleStart: Date): Promise<boolean> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT 1 FROM transactions WHERE geo_id = ? AND cycle_start = ?', [geoId, cycleStart]);
  return rows.length > 0;
}

/** The state and current delivery of each transaction among `ids` that still exists. */
export async function transactionStates(db: Db, ids: number[]): Promise<Map<number, { state: TxnState; delivery: number }>> {
  if (ids.length === 0) return new Map();
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT id, state, delivery FROM transactions WHERE id IN (?)', [ids]);
  return new Map(rows.map((row) => [Number(row.id), { state: row.state as TxnState, delivery: Number(row.delivery) }]));
}

/** A GEO's transactions: all of them, and those delivered but not in the warehouse yet (what a disable refuses). */
export async function countGeoTransactions(db: Db, geoId: number): Promise<{ total: number; waiting: number }> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    "SELECT COUNT(*) AS total, SUM(state IN ('delivered', 'processing') AND warehoused_at IS NULL) AS waiting FROM transactions WHERE geo_id = ?",
    [geoId],
  );
  return { total: Number(rows[0]?.total ?? 0), waiting: Number(rows[0]?.waiting ?? 0) };
}

export interface TxnOutcome {
  id: number;
  geo: string;
  cycle: string;
  state: TxnState;
  error: string | null;
}

/** Where each of these transactions stands, by id. */
export async function transactionOutcomes(db: Db, ids: number[]): Promise<TxnOutcome[]> {
  if (ids.length === 0) return [];
  const [rows] = await db.query<mysql.RowDataPacket[]>(`${select} WHERE t.id IN (?) ORDER BY t.id`, [ids]);
  return rows.map(toTransaction).map(({ id, geo, cycle, state, error }) => ({ id, geo, cycle, state, error }));
}

/** For `check`: the transactions of hours after `since` that failed or were refused, oldest first. */
export async function listFailedTransactionsSince(db: Db, since: Date): Promise<Array<{ id: number; geo: string; state: TxnState }>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT t.id, g.name AS geo, t.state FROM transactions t JOIN geos g ON g.id = t.geo_id WHERE t.state IN ('failed', 'refused') AND t.cycle_start > ? ORDER BY t.id`,
    [since],
  );
  return rows.map((row) => ({ id: Number(row.id), geo: String(row.geo), state: row.state as TxnState }));
}

/** Every transaction of the hours from `since` on, in no order: the cells of `status`'s GEO × hour matrix. */
export async function listTransactionCellsSince(
  db: Db,
  since: Date,
): Promise<Array<{ id: number; geoId: number; cycleStart: Date; state: TxnState; step: string | null }>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT id, geo_id, cycle_start, state, step FROM transactions WHERE cycle_start >= ?', [since]);
  return rows.map((row) => ({ id: Number(row.id), geoId: Number(row.geo_id), cycleStart: row.cycle_start as Date, state: row.state as TxnState, step: row.step }));
}

export interface TroubledTransaction {
  id: number;
  geo: string;
  cycleStart: Date;
  state: TxnState;
  step: string | null;
  error: string | null;
  /** Of its newest step. */
  attempts: number;
  /** When its step is retried, if it waits for a retry. */
  nextRetryAt: Date | null;
  /** Where its newest attempt's worker logged. */
  logPath: string | null;
}

/** For `status`: the newest `limit` transactions that failed, were refused, or wait to retry a failed step. */
export async function listTroubledTransactions(db: Db, limit = 20): Promise<TroubledTransaction[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT t.id, g.name AS geo, t.cycle_start, t.state, t.step, t.error,
            (SELECT s.attempts FROM steps s WHERE s.txn_id = t.id ORDER BY s.id DESC LIMIT 1) AS attempts,
            (SELECT s.next_run_at FROM steps s WHERE s.txn_id = t.id AND s.state = 'pending' ORDER BY s.id DESC LIMIT 1) AS next_retry,
            (SELECT a.log_path FROM step_attempts a JOIN steps s ON s.id = a.step_id WHERE s.txn_id = t.id ORDER BY a.id DESC LIMIT 1) AS log_path
     FROM transactions t JOIN geos g ON g.id = t.geo_id
     WHERE t.state IN ('failed', 'refused', 'agent_failed') OR (t.state = 'processing' AND t.error IS NOT NULL) OR EXISTS
       (SELECT 1 FROM steps s WHERE s.txn_id = t.id AND s.state = 'pending' AND s.last_error IS NOT NULL)
     ORDER BY t.cycle_start DESC LIMIT ?`,
    [limit],
  );
  return rows.map((row) => ({
    id: Number(row.id), geo: row.geo, cycleStart: row.cycle_start, state: row.state, step: row.step, error: row.error,
    attempts: Number(row.attempts ?? 0), nextRetryAt: (row.next_retry as Date | null) || null, logPath: row.log_path,
  }));
}

/** How many transactions are in each state (a state none is in is absent), by state. */
export async function countTransactionsByState(db: Db): Promise<Array<{ state: TxnState; count: number }>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT state, COUNT(*) AS n FROM transactions GROUP BY state ORDER BY state');
  return rows.map((row) => ({ state: row.state as TxnState, count: Number(row.n) }));
}

export interface TxnFilter {
  geo?: string | undefined;
  state?: TxnState | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  limit?: number | undefined;
}

export async function listTransactions(db: Db, filter: TxnFilter = {}): Promise<Transaction[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.geo) (where.push('g.name = ?'), params.push(filter.geo));
  if (filter.state) (where.push('t.state = ?'), params.push(filter.state));
  if (filter.from) (where.push('t.cycle_start >= ?'), params.push(filter.from));
  if (filter.to) (where.push('t.cycle_start <= ?'), params.push(filter.to));
  params.push(Math.min(filter.limit ?? 200, 10_000));
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `${select}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY t.cycle_start DESC, g.name LIMIT ?`,
    params,
  );
  return rows.map(toTransaction);
}

/** Each GEO's newest transaction, however long ago it was. */
export async function latestTransactionPerGeo(db: Db): Promise<Map<number, Transaction>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `${select} JOIN (SELECT geo_id, MAX(cycle_start) AS newest FROM transactions GROUP BY geo_id) latest
       ON latest.geo_id = t.geo_id AND latest.newest = t.cycle_start`,
  );
  return new Map(rows.map((row) => [Number(row.geo_id), toTransaction(row)]));
}

export type OpenOutcome =
  | { kind: 'opened'; txn: Transaction; created: boolean }
  | { kind: 'conflict'; txn: Transaction; reason: string };

/** States from which an agent may (re)open without --force: nothing good has been delivered yet. */
const reopenable: readonly TxnState[] = ['open', 'agent_failed', 'refused'];
const forceable: readonly TxnState[] = ['delivered', 'done', 'failed', 'cancelled'];

/**
 * Opens the transaction of (geo, cycle) for an agent. Idempotent: opening an open one returns it.
 * A delivered hour is a conflict unless forced; a forced re-delivery starts a new delivery number.
 */
export async function openTransaction(db: Db, geoId: number, cycleStart: Date, options: { force?: boolean; agentHost?: string } = {}): Promise<OpenOutcome> {
  // A DATETIME column rounds a fraction of a second away, so a time inside an hour would be stored as one
  // row and looked up as none.
  if (cycleOf(cycleStart).getTime() !== cycleStart.getTime()) throw new Error(`openTransaction: ${cycleStart.toISOString()} is not the start of an hour`);
  // Both rows may exist already (that is what makes opening idempotent); any other error is one.
  await ignoreDuplicate(
    db.query(`INSERT INTO cycles (cycle_start, state, created_at, updated_at) VALUES (?, 'collecting', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`, [cycleStart]),
  );
  const created = await ignoreDuplicate(
    db.query(
      `INSERT INTO transactions (geo_id, cycle_start, state, agent_host, opened_at, updated_at)
       VALUES (?, ?, 'open', ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`,
      [geoId, cycleStart, options.agentHost ?? null],
    ),
  );
  return inTransaction(db, async (connection) => {
    const [rows] = await connection.query<mysql.RowDataPacket[]>(
      'SELECT id FROM transactions WHERE geo_id = ? AND cycle_start = ? FOR UPDATE',
      [geoId, cycleStart],
    );
    const txn = (await getTransaction(connection, Number(rows[0]!.id), true))!;
    if (created) return { kind: 'opened', txn, created: true };
    if (txn.state === 'open') return { kind: 'opened', txn, created: false };
    const canForce = forceable.includes(txn.state);
    if (!reopenable.includes(txn.state) && !(options.force && canForce)) {
      const reason =
        txn.state === 'processing'
          ? `the centre is processing this hour now (step ${txn.step ?? '?'}); try again when it has finished`
          : `this hour is already ${txn.state}${canForce ? '; use --force to deliver it again' : ''}`;
      return { kind: 'conflict', txn, reason };
    }
    // A refused hour had a file and steps: the next file is a new delivery, so it gets steps of its own
    // and never takes the name of the refused one in quarantine.
    const newDelivery = txn.state === 'agent_failed' ? txn.delivery : txn.delivery + 1;
    // The file of the delivery being replaced stays at the centre until archived: its record outlives this reset.
    if (newDelivery !== txn.delivery) await recordSupersededDelivery(connection, txn);
    await connection.query(
      `UPDATE transactions SET state = 'open', step = NULL, error = NULL, delivery = ?, agent_host = ?,
         file_name = NULL, file_size = NULL, file_sha256 = NULL, delivered_at = NULL, warehoused_at = NULL, finished_at = NULL,
         updated_at = UTC_TIMESTAMP(3)
       WHERE id = ?`,
      [newDelivery, options.agentHost ?? txn.agentHost, txn.id],
    );
    // Steps of an earlier delivery must never run on the new one.
    await connection.query(
      `UPDATE steps SET state = 'cancelled', updated_at = UTC_TIMESTAMP(3) WHERE txn_id = ? AND state IN ('pending', 'failed')`,
      [txn.id],
    );
    return { kind: 'opened', txn: (await getTransaction(connection, txn.id))!, created: false };
  });
}

/** True when the insert added its row, false when the row was there already (ER_DUP_ENTRY). */
async function ignoreDuplicate(insert: Promise<unknown>): Promise<boolean> {
  try {
    await insert;
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'ER_DUP_ENTRY') return false;
    throw error;
  }
}

export interface DeliveredFile {
  name: string;
  size: number;
  sha256: string;
}

export type CloseOutcome = { kind: 'closed'; txn: Transaction } | { kind: 'conflict'; txn: Transaction; reason: string };

export function stepKey(txnId: number, delivery: number, step: string): string {
  return `txn:${txnId}:${delivery}:${step}`;
}

/**
 * The agent delivered its file: the transaction waits for `decrypt`. Closing twice with the same file is a
 * no-op. A close may come late, kept by an agent that could not reach the API and sent by its next run, so
 * it is taken only while the hour is still open for the delivery it names (decrypt then checks that the
 * inbox holds that size and sha256, as for any close). Once the agent gave up on the hour (agent_failed), or
 * the hour was closed with another file or opened again for a later delivery, it is refused, saying which.
 */
export async function closeTransaction(db: Db, txnId: number, file: DeliveredFile): Promise<CloseOutcome> {
  return inTransaction(db, async (connection) => {
    const txn = (await getTransaction(connection, txnId, true))!;
    const conflict = (reason: string): CloseOutcome => ({ kind: 'conflict', txn, reason: `transaction ${txn.id} is ${txn.state}, not open: ${reason}` });
    if (txn.state === 'agent_failed') {
      return conflict(`its agent gave up on ${txn.cycle}, so a close for it is not taken; deliver the hour again (\`ganymede agent run --cycle ${txn.cycle}\` on the GEO)`);
    }
    if (txn.state !== 'open') {
      const same = txn.file && txn.file.sha256 === file.sha256 && txn.file.size === file.size && txn.file.name === file.name;
      if (same) return { kind: 'closed', txn };
      if (txn.file) return conflict(`it was closed with another file (${txn.file.name}, ${txn.file.size} bytes, sha256 ${txn.file.sha256.slice(0, 12)}…), so this close is not taken`);
      return conflict('open it again before closing');
    }
    const named = namedDelivery(file.name, txn);
    if (named !== undefined && named !== txn.delivery) {
      return {
        kind: 'conflict',
        txn,
        reason: `transaction ${txn.id} was opened again for delivery ${txn.delivery} since ${file.name} was delivered (delivery ${named}); that close is not taken, the hour waits for delivery ${txn.delivery}`,
      };
    }
    await connection.query(
      `UPDATE transactions SET state = 'delivered', file_name = ?, file_size = ?, file_sha256 = ?, delivered_at = UTC_TIMESTAMP(3),
         updated_at = UTC_TIMESTAMP(3) WHERE id = ?`,
      [file.name, file.size, file.sha256, txnId],
    );
    await connection.query(
      `INSERT IGNORE INTO steps (step_key, txn_id, cycle_start, name, state, next_run_at, created_at, updated_at)
       VALUES (?, ?, ?, 'decrypt', 'pending', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`,
      [stepKey(txnId, txn.delivery, 'decrypt'), txnId, txn.cycleStart],
    );
    return { kind: 'closed', txn: (await getTransaction(connection, txnId))! };
  });
}

/** The delivery number in `name` when it is the agent's name for a delivery of this GEO's hour. */
function namedDelivery(name: string, txn: Transaction): number | undefined {
  const delivery = Number(/_d(\d{1,9})\.tar\.(?:gz|zst)\.gpg$/.exec(name)?.[1]);
  return Number.isSafeInteger(delivery) && isDeliveryFileOf(name, { ...txn, delivery }) ? delivery : undefined;
}

/** The agent gave up on this hour: it may open it again on its next run. */
export async function failTransactionByAgent(db: Db, txnId: number, reason: string): Promise<CloseOutcome> {
  return inTransaction(db, async (connection) => {
    const txn = (await getTransaction(connection, txnId, true))!;
    if (txn.state === 'agent_failed') return { kind: 'closed', txn };
    if (txn.state !== 'open') return { kind: 'conflict', txn, reason: `transaction ${txn.id} is ${txn.state}; an agent can only fail an open transaction` };
    await connection.query(`UPDATE transactions SET state = 'agent_failed', error = ?, updated_at = UTC_TIMESTAMP(3) WHERE id = ?`, [
      reason,
      txnId,
    ]);
    return { kind: 'closed', txn: (await getTransaction(connection, txnId))! };
  });
}
