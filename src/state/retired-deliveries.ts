// Retired deliveries: a delivered file that is no longer its transaction's current one, but still lies at the
// centre. A forced re-delivery supersedes the file before it (transactions then forgets its name, size and
// sha256: they are kept here, in the same database transaction); a refused file is moved to quarantine (its
// place there is written here before the move, so a crash in between leaves nothing unrecorded). `archive`
// archives each like a delivered file and `archive prune` removes it once archived for archive.local_days.
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';
import { formatCycle } from '../cycle.js';
import type { Transaction } from './transactions.js';
import { insertedRow } from './upsert.js';

export type RetiredReason = 'superseded' | 'quarantined';

export interface RetiredDelivery {
  txnId: number;
  delivery: number;
  geo: string;
  geoId: number;
  cycleStart: Date;
  cycle: string;
  /** As the agent closed the hour with it. */
  file: { name: string; size: number; sha256: string };
  reason: RetiredReason;
  /** `<geo>/<name>` below the inbox (superseded) or below the quarantine (quarantined). */
  location: string;
}

/** The archive's source key of a transaction's delivery, whatever it became: the same file is archived once. */
export const deliverySourceKey = (txnId: number, delivery: number) => `txn:${txnId}:d${delivery}`;

const columns = `r.txn_id, r.delivery, r.geo_id, g.name AS geo, r.cycle_start, r.file_name, r.file_size, r.file_sha256, r.reason, r.location`;

function toRetired(row: mysql.RowDataPacket): RetiredDelivery {
  return {
    txnId: Number(row.txn_id),
    delivery: Number(row.delivery),
    geo: row.geo,
    geoId: Number(row.geo_id),
    cycleStart: row.cycle_start,
    cycle: formatCycle(row.cycle_start),
    file: { name: row.file_name, size: Number(row.file_size), sha256: row.file_sha256 },
    reason: row.reason,
    location: row.location,
  };
}

/**
 * The transaction's current file, about to be replaced by a new delivery (called inside openTransaction's
 * database transaction). A file already quarantined keeps its record; one refused without being moved (a
 * configuration problem refuses too) is still in the inbox, superseded like any other.
 */
export async function recordSupersededDelivery(connection: mysql.Connection | Db, txn: Transaction): Promise<void> {
  if (!txn.file) return;
  await connection.query(
    `INSERT IGNORE INTO retired_deliveries (txn_id, delivery, geo_id, cycle_start, file_name, file_size, file_sha256, reason, location, retired_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'superseded', ?, UTC_TIMESTAMP(3))`,
    [txn.id, txn.delivery, txn.geoId, txn.cycleStart, txn.file.name, txn.file.size, txn.file.sha256, `${txn.geo}/${txn.file.name}`],
  );
}

/** Where the transaction's file is being moved in quarantine (`<geo>/<name>`), written before it moves. */
export async function recordQuarantinedDelivery(db: Db, txn: Transaction, location: string): Promise<void> {
  if (!txn.file) return;
  const inserted = await insertedRow(db);
  await db.query(
    `INSERT INTO retired_deliveries (txn_id, delivery, geo_id, cycle_start, file_name, file_size, file_sha256, reason, location, retired_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'quarantined', ?, UTC_TIMESTAMP(3))${inserted.alias}
     ON DUPLICATE KEY UPDATE reason = 'quarantined', location = ${inserted.value('location')}`,
    [txn.id, txn.delivery, txn.geoId, txn.cycleStart, txn.file.name, txn.file.size, txn.file.sha256, location],
  );
}

/** Where an earlier attempt recorded the transaction's file in quarantine, if it did. */
export async function quarantinedLocation(db: Db, txn: Pick<Transaction, 'id' | 'delivery'>): Promise<string | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    "SELECT location FROM retired_deliveries WHERE txn_id = ? AND delivery = ? AND reason = 'quarantined'",
    [txn.id, txn.delivery],
  );
  return rows[0]?.location as string | undefined;
}

const archivedAs = (alias: string) =>
  `SELECT 1 FROM archive_records a WHERE a.kind IN ('agent-dump', 'superseded', 'quarantined')
     AND a.source_key = CONCAT('txn:', ${alias}.txn_id, ':d', ${alias}.delivery) AND a.state IN ('archived', 'pruned')`;

/** Retired files still at the centre that were never archived (as the delivery they were, or since). */
export async function retiredDeliveriesToArchive(db: Db): Promise<RetiredDelivery[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT ${columns} FROM retired_deliveries r JOIN geos g ON g.id = r.geo_id
     WHERE r.removed_at IS NULL AND NOT EXISTS (${archivedAs('r')})
     ORDER BY r.cycle_start, r.txn_id, r.delivery`,
  );
  return rows.map(toRetired);
}

/** Retired files still at the centre whose archived copy was recorded before `archivedBefore`. */
export async function retiredDeliveriesToRemove(db: Db, archivedBefore: Date): Promise<RetiredDelivery[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT ${columns} FROM retired_deliveries r JOIN geos g ON g.id = r.geo_id
     WHERE r.removed_at IS NULL AND EXISTS (${archivedAs('r')} AND a.archived_at < ?)
     ORDER BY r.cycle_start, r.txn_id, r.delivery`,
    [archivedBefore],
  );
  return rows.map(toRetired);
}

/** The source keys of every retired delivery: `archive prune` removes those files by their record, not as delivered ones. */
export async function retiredSourceKeys(db: Db): Promise<Set<string>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT txn_id, delivery FROM retired_deliveries');
  return new Set(rows.map((row) => deliverySourceKey(Number(row.txn_id), Number(row.delivery))));
}

export async function markRetiredDeliveryRemoved(db: Db, txnId: number, delivery: number): Promise<void> {
  await db.query('UPDATE retired_deliveries SET removed_at = UTC_TIMESTAMP(3) WHERE txn_id = ? AND delivery = ? AND removed_at IS NULL', [txnId, delivery]);
}
