// Status events from agents and workers. Senders give each event a key, so a batch replayed after a
// lost answer is stored once.
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';

export interface StatusEvent {
  key?: string | undefined;
  at: Date;
  level: 'debug' | 'info' | 'warn' | 'error';
  phase: string;
  table?: string | undefined;
  rows?: number | undefined;
  bytes?: number | undefined;
  message?: string | undefined;
}

export interface StoredEvent extends StatusEvent {
  id: number;
  txnId: number | null;
  source: string;
  receivedAt: Date;
}

/** Stores a batch; returns how many were new (replays are ignored, not errors). */
export async function recordEvents(db: Db, target: { txnId: number | null; geoId: number | null; source: string }, events: StatusEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const values = events.map((event) => [
    target.txnId,
    target.geoId,
    target.source,
    event.key ?? null,
    event.at,
    event.level,
    event.phase,
    event.table ?? null,
    event.rows ?? null,
    event.bytes ?? null,
    event.message ?? null,
  ]);
  // Only a replayed key is let go: INSERT IGNORE would also have turned a bad value (a date out of
  // range, text too long) into a zero or a cut-off string without a word.
  const [result] = await db.query<mysql.ResultSetHeader>(
    `INSERT INTO events (txn_id, geo_id, source, event_key, at, level, phase, table_name, rows_count, bytes_count, message, received_at)
     VALUES ${values.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3))').join(', ')}
     ON DUPLICATE KEY UPDATE id = id`,
    values.flat(),
  );
  return newRowsOf(result, values.length);
}

/**
 * Rows an `INSERT … ON DUPLICATE KEY UPDATE id = id` added. mysql2 connects with CLIENT_FOUND_ROWS, so a
 * duplicate counts in affectedRows too; the server's info line ("Records: 3  Duplicates: 1") tells them
 * apart for a multi-row insert, and a single row that was a duplicate gets no insert id.
 */
function newRowsOf(result: mysql.ResultSetHeader, rows: number): number {
  const duplicates = /Duplicates:\s*(\d+)/.exec(result.info ?? '');
  if (duplicates) return rows - Number(duplicates[1]);
  return rows === 1 && result.insertId === 0 ? 0 : rows;
}

export async function listEvents(db: Db, txnId: number, limit = 500): Promise<StoredEvent[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT * FROM (SELECT * FROM events WHERE txn_id = ? ORDER BY at DESC, id DESC LIMIT ?) recent ORDER BY at, id',
    [txnId, limit],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    txnId: row.txn_id === null ? null : Number(row.txn_id),
    source: row.source,
    key: row.event_key ?? undefined,
    at: row.at,
    receivedAt: row.received_at,
    level: row.level,
    phase: row.phase,
    table: row.table_name ?? undefined,
    rows: row.rows_count === null ? undefined : Number(row.rows_count),
    bytes: row.bytes_count === null ? undefined : Number(row.bytes_count),
    message: row.message ?? undefined,
  }));
}

/** Events stored for a transaction, whoever sent them. */
export async function countTxnEvents(db: Db, txnId: number): Promise<number> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM events WHERE txn_id = ?', [txnId]);
  return Number(rows[0]!.n);
}

/**
 * Events a GEO's `source` stored within the last windowMs, by the database's clock, and how long until
 * the oldest of them leaves the window (ms; 0 when there are none).
 */
export async function countRecentEvents(db: Db, geoId: number, source: string, windowMs: number): Promise<{ count: number; oldestLeavesInMs: number }> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT COUNT(*) AS n, TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(3), MIN(received_at) + INTERVAL ? MICROSECOND) AS wait_us
     FROM events WHERE geo_id = ? AND source = ? AND received_at > UTC_TIMESTAMP(3) - INTERVAL ? MICROSECOND`,
    [windowMs * 1000, geoId, source, windowMs * 1000],
  );
  return { count: Number(rows[0]!.n), oldestLeavesInMs: Math.max(0, Math.ceil(Number(rows[0]!.wait_us ?? 0) / 1000)) };
}

export interface AgentExtraction {
  geo: string;
  cycleStart: Date;
  txnId: number;
  /** From the agent's `opened` event to its `extracted` one, both on the agent's clock. */
  ms: number;
}

/**
 * How long each agent took to extract, seal and spool its hour, from the events it posted since `since`:
 * each `extracted` event paired with the `opened` before it in the same transaction (a forced re-delivery
 * has a pair of its own). The agent records no metric points; its events are what the centre has.
 */
export async function listAgentExtractions(db: Db, since: Date): Promise<AgentExtraction[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT e.txn_id, e.phase, e.at, t.cycle_start, g.name AS geo FROM events e
       JOIN transactions t ON t.id = e.txn_id JOIN geos g ON g.id = t.geo_id
     WHERE e.received_at >= ? AND e.source = 'agent' AND e.phase IN ('opened', 'extracted')
     ORDER BY e.txn_id, e.at, e.id`,
    [since],
  );
  const extractions: AgentExtraction[] = [];
  let opened: { txnId: number; at: Date } | undefined;
  for (const row of rows) {
    const txnId = Number(row.txn_id);
    if (row.phase === 'opened') opened = { txnId, at: row.at as Date };
    else if (opened && opened.txnId === txnId) {
      extractions.push({ geo: String(row.geo), cycleStart: row.cycle_start as Date, txnId, ms: (row.at as Date).getTime() - opened.at.getTime() });
      opened = undefined;
    }
  }
  return extractions;
}
