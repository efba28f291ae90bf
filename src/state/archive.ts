// Archive records: what was copied to the archive store, where, with size and checksum. A record is
// written 'uploading' before the upload and 'archived' after it, so a run killed in between is finished
// by the next one and nothing is uploaded twice under different names.
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';
import { formatCycle } from '../cycle.js';
import { insertedRow } from './upsert.js';

/** agent-dump: a delivered file; superseded: one a forced re-delivery replaced; quarantined: a refused one (retired-deliveries.ts). */
export type ArchiveKind = 'ganymede-db' | 'agent-dump' | 'superseded' | 'quarantined';

export interface ArchiveRecord {
  id: number;
  kind: ArchiveKind;
  sourceKey: string;
  txnId: number | null;
  geo: string | null;
  cycle: string | null;
  storeUrl: string;
  objectKey: string;
  size: number | null;
  sha256: string | null;
  state: 'uploading' | 'archived' | 'pruned';
  createdAt: Date;
  archivedAt: Date | null;
}

function toRecord(row: mysql.RowDataPacket): ArchiveRecord {
  return {
    id: Number(row.id),
    kind: row.kind,
    sourceKey: row.source_key,
    txnId: row.txn_id === null ? null : Number(row.txn_id),
    geo: row.geo ?? null,
    cycle: row.cycle_start ? formatCycle(row.cycle_start) : null,
    storeUrl: row.store_url,
    objectKey: row.object_key,
    size: row.size === null ? null : Number(row.size),
    sha256: row.sha256,
    state: row.state,
    createdAt: row.created_at,
    archivedAt: row.archived_at,
  };
}

const select = 'SELECT a.*, g.name AS geo FROM archive_records a LEFT JOIN geos g ON g.id = a.geo_id';

export async function findArchiveRecord(db: Db, kind: ArchiveKind, sourceKey: string): Promise<ArchiveRecord | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(`${select} WHERE a.kind = ? AND a.source_key = ?`, [kind, sourceKey]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

export async function startArchiveRecord(
  db: Db,
  record: { kind: ArchiveKind; sourceKey: string; txnId?: number | null; geoId?: number | null; cycleStart?: Date | null; storeUrl: string; objectKey: string },
): Promise<void> {
  const inserted = await insertedRow(db);
  await db.query(
    `INSERT INTO archive_records (kind, source_key, txn_id, geo_id, cycle_start, store_url, object_key, state, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'uploading', UTC_TIMESTAMP(3))${inserted.alias}
     ON DUPLICATE KEY UPDATE store_url = IF(state = 'archived', store_url, ${inserted.value('store_url')}), object_key = IF(state = 'archived', object_key, ${inserted.value('object_key')})`,
    [record.kind, record.sourceKey, record.txnId ?? null, record.geoId ?? null, record.cycleStart ?? null, record.storeUrl, record.objectKey],
  );
}

export async function finishArchiveRecord(db: Db, kind: ArchiveKind, sourceKey: string, size: number, sha256: string): Promise<void> {
  await db.query(`UPDATE archive_records SET state = 'archived', size = ?, sha256 = ?, archived_at = UTC_TIMESTAMP(3) WHERE kind = ? AND source_key = ?`, [
    size,
    sha256,
    kind,
    sourceKey,
  ]);
}

/** When anything was last archived, or null if nothing ever was (for `check` and the metrics). */
export async function lastArchivedAt(db: Db): Promise<Date | null> {
  const [rows] = await db.query<mysql.RowDataPacket[]>("SELECT MAX(archived_at) AS last FROM archive_records WHERE state = 'archived'");
  return (rows[0]?.last as Date | null) ?? null;
}

/** Forgets a record that never became 'archived': its object was found to differ and was removed. */
export async function dropUnfinishedArchiveRecord(db: Db, kind: ArchiveKind, sourceKey: string): Promise<void> {
  await db.query(`DELETE FROM archive_records WHERE kind = ? AND source_key = ? AND state = 'uploading'`, [kind, sourceKey]);
}

export async function markArchivePruned(db: Db, id: number): Promise<void> {
  await db.query(`UPDATE archive_records SET state = 'pruned' WHERE id = ?`, [id]);
}

export async function listArchiveRecords(db: Db, filter: { kind?: ArchiveKind; geo?: string; cycleStart?: Date; limit?: number } = {}): Promise<ArchiveRecord[]> {
  const where: string[] = ["a.state <> 'pruned'"];
  const params: unknown[] = [];
  if (filter.kind) (where.push('a.kind = ?'), params.push(filter.kind));
  if (filter.geo) (where.push('g.name = ?'), params.push(filter.geo));
  if (filter.cycleStart) (where.push('a.cycle_start = ?'), params.push(filter.cycleStart));
  params.push(filter.limit ?? 500);
  const [rows] = await db.query<mysql.RowDataPacket[]>(`${select} WHERE ${where.join(' AND ')} ORDER BY a.created_at DESC, a.id DESC LIMIT ?`, params);
  return rows.map(toRecord);
}

export interface DumpToArchive {
  txnId: number;
  geo: string;
  geoId: number;
  cycleStart: Date;
  delivery: number;
  fileName: string;
  size: number;
  sha256: string;
}

/** Every delivered agent file never archived (an object pruned past retention was archived: it is not taken again). */
export async function agentDumpsToArchive(db: Db): Promise<DumpToArchive[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT t.id, g.name AS geo, t.geo_id, t.cycle_start, t.delivery, t.file_name, t.file_size, t.file_sha256
     FROM transactions t JOIN geos g ON g.id = t.geo_id
     WHERE t.file_name IS NOT NULL AND t.delivered_at IS NOT NULL AND t.state NOT IN ('open', 'refused')
       AND NOT EXISTS (SELECT 1 FROM archive_records a WHERE a.kind IN ('agent-dump', 'superseded', 'quarantined')
         AND a.source_key = CONCAT('txn:', t.id, ':d', t.delivery) AND a.state IN ('archived', 'pruned'))
     ORDER BY t.cycle_start, t.id`,
  );
  return rows.map((row) => ({
    txnId: Number(row.id),
    geo: row.geo,
    geoId: Number(row.geo_id),
    cycleStart: row.cycle_start,
    delivery: Number(row.delivery),
    fileName: row.file_name,
    size: Number(row.file_size),
    sha256: row.file_sha256,
  }));
}

/**
 * A cheap fingerprint of the Ganymede schema's content (`database`, every table but archive_records, which
 * each archive run changes), so an archive run with nothing new skips the dump.
 */
export async function schemaFingerprint(db: Db, database: string): Promise<string> {
  const [tableRows] = await db.query<mysql.RowDataPacket[]>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' AND table_name <> 'archive_records' ORDER BY table_name",
    [database],
  );
  const tables = tableRows.map((row) => String(row.name));
  const [rows] = await db.query<mysql.RowDataPacket[]>(`CHECKSUM TABLE ${tables.map((table) => `\`${table}\``).join(', ')}`);
  return rows.map((row) => `${String(row.Table).split('.').pop()}=${row.Checksum}`).join(';');
}
