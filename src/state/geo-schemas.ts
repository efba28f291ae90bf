// What each GEO's Cloud Control schema was at each hour it was loaded, and what changed since its hour
// before: `load` records it, the feed's manifest carries it, `check` can warn on a change. The schemas
// themselves are stored once per distinct content (schema_versions), the hours point at them.
// Changes are against the GEO's latest earlier hour on record; when an hour is loaded late, between two
// recorded ones, the hour after it is compared again, so every hour's changes are relative to its neighbour.
import { createHash } from 'node:crypto';
import type mysql from 'mysql2/promise';
import { diffSchemas, type SchemaChange, type TableSchema } from '../dump/table-schema.js';
import type { Db } from './db.js';
import { formatCycle } from '../cycle.js';

export interface GeoSchemaRecord {
  geo: string;
  cycleStart: Date;
  tables: TableSchema[];
  /** The hour compared with; null for a GEO's first hour on record. */
  previousCycle: Date | null;
  changes: SchemaChange[];
}

async function storeVersion(db: Db, tables: TableSchema[]): Promise<string> {
  const json = JSON.stringify(tables);
  const sha256 = createHash('sha256').update(json).digest('hex');
  // created_at is refreshed on every use, so `purge` never takes a schema an hour is being recorded with.
  await db.query('INSERT INTO schema_versions (sha256, tables_json, created_at) VALUES (?, ?, UTC_TIMESTAMP(3)) ON DUPLICATE KEY UPDATE created_at = UTC_TIMESTAMP(3)', [sha256, json]);
  return sha256;
}

async function tablesOf(db: Db, sha256: string): Promise<TableSchema[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT tables_json FROM schema_versions WHERE sha256 = ?', [sha256]);
  return rows.length === 0 ? [] : (JSON.parse(String(rows[0]!.tables_json)) as TableSchema[]);
}

async function neighbour(db: Db, geoId: number, cycleStart: Date, side: 'before' | 'after'): Promise<{ cycleStart: Date; sha256: string } | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    side === 'before'
      ? 'SELECT cycle_start, schema_sha256 FROM geo_schemas WHERE geo_id = ? AND cycle_start < ? ORDER BY cycle_start DESC LIMIT 1'
      : 'SELECT cycle_start, schema_sha256 FROM geo_schemas WHERE geo_id = ? AND cycle_start > ? ORDER BY cycle_start LIMIT 1',
    [geoId, cycleStart],
  );
  return rows[0] ? { cycleStart: rows[0].cycle_start as Date, sha256: String(rows[0].schema_sha256) } : undefined;
}

async function writeHour(db: Db, geoId: number, cycleStart: Date, sha256: string, previous: Date | null, changes: SchemaChange[]): Promise<void> {
  const json = JSON.stringify(changes);
  // Not VALUES(): deprecated in MySQL 8.0.20+, and the parameters say the same.
  await db.query(
    `INSERT INTO geo_schemas (geo_id, cycle_start, schema_sha256, previous_cycle, change_count, changes_json, recorded_at)
     VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3))
     ON DUPLICATE KEY UPDATE schema_sha256 = ?, previous_cycle = ?, change_count = ?, changes_json = ?, recorded_at = UTC_TIMESTAMP(3)`,
    [geoId, cycleStart, sha256, previous, changes.length, json, sha256, previous, changes.length, json],
  );
}

/**
 * Records the GEO's schema at this hour (again, after a re-delivery: the same row is replaced) and returns
 * what changed since its hour before. Each statement stands alone: a crash between them leaves at worst the
 * hour after unrevised, which the next load of this hour revises.
 */
export async function recordGeoSchema(db: Db, geoId: number, cycleStart: Date, tables: TableSchema[]): Promise<{ previousCycle: Date | null; changes: SchemaChange[] }> {
  const sha256 = await storeVersion(db, tables);
  const before = await neighbour(db, geoId, cycleStart, 'before');
  const changes = before ? diffSchemas(await tablesOf(db, before.sha256), tables) : [];
  await writeHour(db, geoId, cycleStart, sha256, before?.cycleStart ?? null, changes);
  const after = await neighbour(db, geoId, cycleStart, 'after');
  if (after) await writeHour(db, geoId, after.cycleStart, after.sha256, cycleStart, diffSchemas(tables, await tablesOf(db, after.sha256)));
  return { previousCycle: before?.cycleStart ?? null, changes };
}

function toRecord(row: mysql.RowDataPacket, tables: TableSchema[]): GeoSchemaRecord {
  return {
    geo: String(row.geo),
    cycleStart: row.cycle_start as Date,
    tables,
    previousCycle: (row.previous_cycle as Date | null) ?? null,
    changes: JSON.parse(String(row.changes_json)) as SchemaChange[],
  };
}

/** The recorded schemas of these GEOs (by name) at this hour, by GEO name; a GEO without one is left out. */
export async function readGeoSchemas(db: Db, geos: string[], cycleStart: Date): Promise<GeoSchemaRecord[]> {
  if (geos.length === 0) return [];
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT g.name AS geo, s.cycle_start, s.schema_sha256, s.previous_cycle, s.changes_json
     FROM geo_schemas s JOIN geos g ON g.id = s.geo_id WHERE s.cycle_start = ? AND g.name IN (?) ORDER BY g.name`,
    [cycleStart, geos],
  );
  const records: GeoSchemaRecord[] = [];
  for (const row of rows) records.push(toRecord(row, await tablesOf(db, String(row.schema_sha256))));
  return records;
}

export interface SchemaChangeHour {
  geo: string;
  cycle: string;
  previousCycle: string | null;
  changes: SchemaChange[];
}

/** GEO hours since `since` whose schema differs from the hour before, oldest first (at most `limit`). */
export async function listSchemaChangesSince(db: Db, since: Date, limit = 100): Promise<SchemaChangeHour[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT g.name AS geo, s.cycle_start, s.previous_cycle, s.changes_json
     FROM geo_schemas s JOIN geos g ON g.id = s.geo_id WHERE s.cycle_start >= ? AND s.change_count > 0
     ORDER BY s.cycle_start, g.name LIMIT ?`,
    [since, limit],
  );
  return rows.map((row) => ({
    geo: String(row.geo),
    cycle: formatCycle(row.cycle_start as Date),
    previousCycle: row.previous_cycle ? formatCycle(row.previous_cycle as Date) : null,
    changes: JSON.parse(String(row.changes_json)) as SchemaChange[],
  }));
}
