// Cycles: one per UTC hour, created when the first GEO opens a transaction for it. A cycle that is due
// to be fed while no GEO of it reached the warehouse is closed as `empty`: a feed with no GEO in it is
// never built nor sent.
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';
import { formatCycle } from '../cycle.js';
import { insertedRow } from './upsert.js';

export const cycleStates = ['collecting', 'ready', 'feeding', 'fed', 'sending', 'sent', 'failed', 'empty'] as const;
export type CycleState = (typeof cycleStates)[number];

export interface Cycle {
  cycle: string;
  cycleStart: Date;
  state: CycleState;
  /** Transactions by state, for every GEO that opened one. */
  transactions: Record<string, number>;
  missingGeos: string[];
  error: string | null;
  readyAt: Date | null;
  fedAt: Date | null;
  sentAt: Date | null;
}

export async function listCycles(db: Db, options: { limit?: number; cycleStart?: Date } = {}): Promise<Cycle[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT c.*, (SELECT GROUP_CONCAT(CONCAT(t.state, ':', t.n)) FROM
        (SELECT state, COUNT(*) AS n, cycle_start FROM transactions GROUP BY cycle_start, state) t WHERE t.cycle_start = c.cycle_start) AS txn_states
     FROM cycles c ${options.cycleStart ? 'WHERE c.cycle_start = ?' : ''} ORDER BY c.cycle_start DESC LIMIT ?`,
    options.cycleStart ? [options.cycleStart, options.limit ?? 48] : [options.limit ?? 48],
  );
  return rows.map((row) => ({
    cycle: formatCycle(row.cycle_start),
    cycleStart: row.cycle_start,
    state: row.state,
    transactions: Object.fromEntries(
      String(row.txn_states ?? '')
        .split(',')
        .filter(Boolean)
        .map((pair) => {
          const [state, count] = pair.split(':');
          return [state!, Number(count)];
        }),
    ),
    missingGeos: row.missing_geos ? String(row.missing_geos).split(',') : [],
    error: row.error,
    readyAt: row.ready_at,
    fedAt: row.fed_at,
    sentAt: row.sent_at,
  }));
}

export async function getCycle(db: Db, cycleStart: Date): Promise<Cycle | undefined> {
  return (await listCycles(db, { cycleStart, limit: 1 }))[0];
}

/**
 * For `check`: hours past their deadline still collecting, each with the GEOs that delivered but are not in
 * the warehouse yet (a GEO that delivered nothing is the dead-man switch's to report, src/alerts/dead-man.ts).
 */
export async function listLateCycles(db: Db, deadlineMinutes: number, now: Date): Promise<Array<{ cycle: string; waitingFor: string[] }>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT c.cycle_start, (SELECT GROUP_CONCAT(g.name ORDER BY g.name) FROM transactions t JOIN geos g ON g.id = t.geo_id
         WHERE t.cycle_start = c.cycle_start AND g.enabled = 1 AND t.state IN ('delivered', 'processing') AND t.warehoused_at IS NULL) AS waiting
     FROM cycles c WHERE c.state = 'collecting' AND c.cycle_start + INTERVAL ? MINUTE < ? ORDER BY c.cycle_start`,
    [deadlineMinutes, now],
  );
  return rows.filter((row) => row.waiting).map((row) => ({ cycle: formatCycle(row.cycle_start as Date), waitingFor: String(row.waiting).split(',') }));
}

/** For `check`: hours of the last windowHours neither sent nor closed empty by their send deadline, oldest first. */
export async function listUnsentCycles(db: Db, sendDeadlineMinutes: number, windowHours: number, now: Date): Promise<Array<{ cycle: string; state: CycleState }>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT cycle_start, state FROM cycles WHERE state NOT IN ('sent', 'empty') AND cycle_start + INTERVAL ? MINUTE < ? AND cycle_start > ? - INTERVAL ? HOUR ORDER BY cycle_start`,
    [sendDeadlineMinutes, now, now, windowHours],
  );
  return rows.map((row) => ({ cycle: formatCycle(row.cycle_start as Date), state: row.state as CycleState }));
}

/** Where each of these hours stands (those with a cycle row), oldest first. */
export async function cycleOutcomes(db: Db, cycleStarts: Date[]): Promise<Array<{ cycle: string; state: CycleState; error: string | null }>> {
  if (cycleStarts.length === 0) return [];
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT cycle_start, state, error FROM cycles WHERE cycle_start IN (?) ORDER BY cycle_start', [cycleStarts]);
  return rows.map((row) => ({ cycle: formatCycle(row.cycle_start as Date), state: row.state as CycleState, error: row.error as string | null }));
}

export interface CycleAdvance {
  cycle: string;
  state: 'ready';
  missingGeos: string[];
}

/**
 * Moves collecting cycles on: ready (and its feed step due) once every enabled GEO's transaction is in
 * the warehouse; past the deadline, ready without the late GEOs when partial feeds are allowed. Late
 * cycles otherwise stay collecting; `late` is how status shows them. A cycle that would be ready with no
 * GEO in the warehouse (every GEO late, or none enabled) is closed as empty instead, without a feed;
 * only the ready ones are returned.
 */
export async function advanceCycles(db: Db, options: { deadlineMinutes: number; partialAfterDeadline: boolean }): Promise<CycleAdvance[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT c.cycle_start,
            (SELECT GROUP_CONCAT(g.name ORDER BY g.name) FROM geos g WHERE g.enabled = 1 AND NOT EXISTS
               (SELECT 1 FROM transactions t WHERE t.geo_id = g.id AND t.cycle_start = c.cycle_start AND t.warehoused_at IS NOT NULL)) AS missing,
            c.cycle_start + INTERVAL ? MINUTE < UTC_TIMESTAMP() AS past_deadline,
            EXISTS (SELECT 1 FROM transactions t WHERE t.cycle_start = c.cycle_start AND t.state IN ('delivered', 'processing')
                      AND t.warehoused_at IS NULL) AS in_progress,
            EXISTS (SELECT 1 FROM transactions t WHERE t.cycle_start = c.cycle_start AND t.warehoused_at IS NOT NULL) AS has_data
     FROM cycles c WHERE c.state = 'collecting' ORDER BY c.cycle_start`,
    [options.deadlineMinutes],
  );
  const advanced: CycleAdvance[] = [];
  for (const row of rows) {
    const missing = row.missing ? String(row.missing).split(',') : [];
    // Past the deadline a partial feed leaves out the GEOs that did not deliver, never one being processed.
    if (missing.length > 0 && !(Number(row.past_deadline) === 1 && options.partialAfterDeadline && Number(row.in_progress) === 0)) continue;
    if (Number(row.has_data) === 0) await closeEmptyCycle(db, row.cycle_start, missing);
    else if (await markCycleReady(db, row.cycle_start, missing)) advanced.push({ cycle: formatCycle(row.cycle_start), state: 'ready', missingGeos: missing });
  }
  return advanced;
}

/**
 * Ready to feed (also by an operator's `cycle feed --allow-missing`): the feed step becomes due. Never
 * for a cycle with no GEO in the warehouse (false then): its feed would have no GEO in it.
 */
export async function markCycleReady(db: Db, cycleStart: Date, missingGeos: string[]): Promise<boolean> {
  const [result] = await db.query<mysql.ResultSetHeader>(
    `UPDATE cycles SET state = 'ready', missing_geos = ?, ready_at = UTC_TIMESTAMP(3), updated_at = UTC_TIMESTAMP(3)
     WHERE cycle_start = ? AND state IN ('collecting', 'failed', 'empty')
       AND EXISTS (SELECT 1 FROM transactions t WHERE t.cycle_start = ? AND t.warehoused_at IS NOT NULL)`,
    [missingGeos.length ? missingGeos.join(',') : null, cycleStart, cycleStart],
  );
  if (result.affectedRows !== 1) return false;
  await db.query(
    `INSERT INTO steps (step_key, txn_id, cycle_start, name, state, next_run_at, created_at, updated_at)
     VALUES (?, NULL, ?, 'feed', 'pending', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))
     ON DUPLICATE KEY UPDATE state = 'pending', attempts = 0, next_run_at = UTC_TIMESTAMP(3), updated_at = UTC_TIMESTAMP(3)`,
    [`cycle:${formatCycle(cycleStart)}:feed`, cycleStart],
  );
  return true;
}

/** Closed without a feed: no GEO of the hour is in the warehouse. Not a failure, and no step is left due. */
export async function closeEmptyCycle(db: Db, cycleStart: Date, missingGeos: string[]): Promise<boolean> {
  const [result] = await db.query<mysql.ResultSetHeader>(
    `UPDATE cycles SET state = 'empty', missing_geos = ?, error = NULL, updated_at = UTC_TIMESTAMP(3) WHERE cycle_start = ? AND state = 'collecting'`,
    [missingGeos.length ? missingGeos.join(',') : null, cycleStart],
  );
  return result.affectedRows === 1;
}

/** The GEOs whose warehoused transactions a cycle's feed covers. */
export async function geosInCycle(db: Db, cycleStart: Date): Promise<string[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT g.name FROM transactions t JOIN geos g ON g.id = t.geo_id WHERE t.cycle_start = ? AND t.warehoused_at IS NOT NULL ORDER BY g.name`,
    [cycleStart],
  );
  return rows.map((row) => String(row.name));
}

export interface FeedFileRecord {
  name: string;
  size: number;
  sha256: string;
  remotePath: string;
  sentAt: Date;
  /** Rows in the file, as its manifest says; null for the manifest itself and for files sent before they were recorded. */
  rows: number | null;
}

export async function listFeedFiles(db: Db, cycleStart: Date): Promise<FeedFileRecord[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT f.*, r.rows_count FROM feed_files f LEFT JOIN feed_file_rows r ON r.cycle_start = f.cycle_start AND r.name = f.name
     WHERE f.cycle_start = ? ORDER BY f.name`,
    [cycleStart],
  );
  return rows.map((row) => ({
    name: row.name,
    size: Number(row.size),
    sha256: row.sha256,
    remotePath: row.remote_path,
    sentAt: row.sent_at,
    rows: row.rows_count === null ? null : Number(row.rows_count),
  }));
}

export async function recordFeedFile(db: Db, cycleStart: Date, file: Omit<FeedFileRecord, 'sentAt' | 'rows'> & { rows?: number | undefined }): Promise<void> {
  const inserted = await insertedRow(db);
  const value = inserted.value;
  await db.query(
    `INSERT INTO feed_files (cycle_start, name, size, sha256, remote_path, sent_at) VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(3))${inserted.alias}
     ON DUPLICATE KEY UPDATE size = ${value('size')}, sha256 = ${value('sha256')}, remote_path = ${value('remote_path')}, sent_at = ${value('sent_at')}`,
    [cycleStart, file.name, file.size, file.sha256, file.remotePath],
  );
  if (file.rows !== undefined) {
    await db.query(`INSERT INTO feed_file_rows (cycle_start, name, rows_count) VALUES (?, ?, ?)${inserted.alias} ON DUPLICATE KEY UPDATE rows_count = ${value('rows_count')}`, [
      cycleStart,
      file.name,
      file.rows,
    ]);
  }
}

/** An operator forces a fed or sent cycle again: its feed or send step is due once more. */
export async function resetCycleStep(db: Db, cycleStart: Date, name: 'feed' | 'send'): Promise<boolean> {
  const [result] = await db.query<mysql.ResultSetHeader>(
    `UPDATE steps SET state = 'pending', attempts = 0, next_run_at = UTC_TIMESTAMP(3), updated_at = UTC_TIMESTAMP(3)
     WHERE txn_id IS NULL AND cycle_start = ? AND name = ? AND state IN ('done', 'failed')`,
    [cycleStart, name],
  );
  return result.affectedRows > 0;
}

/** When any hour was last fed and last sent; null for never. */
export async function lastFeedAndSend(db: Db): Promise<{ fedAt: Date | null; sentAt: Date | null }> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT MAX(fed_at) AS fed, MAX(sent_at) AS sent FROM cycles');
  return { fedAt: (rows[0]?.fed as Date | null | undefined) ?? null, sentAt: (rows[0]?.sent as Date | null | undefined) ?? null };
}
