// Transactions: one per GEO per cycle. The state machine is in README ("Transaction states"); every
// change here is one statement or a short transaction with a row lock, so a crash cannot leave it half done.
import type mysql from 'mysql2/promise';
import { inTransaction, type Db } from './db.js';
import { formatCycle } from '../cycle.js';

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

/** The agent delivered its file: the transaction waits for `decrypt`. Closing twice with the same file is a no-op. */
export async function closeTransaction(db: Db, txnId: number, file: DeliveredFile): Promise<CloseOutcome> {
  return inTransaction(db, async (connection) => {
    const txn = (await getTransaction(connection, txnId, true))!;
    if (txn.state !== 'open') {
      const same = txn.file && txn.file.sha256 === file.sha256 && txn.file.size === file.size && txn.file.name === file.name;
      if (same && txn.state !== 'agent_failed') return { kind: 'closed', txn };
      return { kind: 'conflict', txn, reason: `transaction ${txn.id} is ${txn.state}, not open; open it again before closing` };
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
