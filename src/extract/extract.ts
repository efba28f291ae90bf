// The source side of a MySQL dump: one consistent InnoDB snapshot on one connection, without locking
// writers out, read table by table as byte streams in the dump format.
import type { Connection } from 'mysql2';
import { encodingFor, quoteIdentifier, selectSql, type ChunkSink } from '../dump/dump-format.js';
import {
  dumpDataFormat,
  dumpFormatName,
  dumpFormatVersion,
  rowChecksumAlgorithm,
  type DumpColumn,
  type DumpManifest,
  type DumpPlan,
  type DumpTablePlan,
  type SkippedTable,
} from '../dump/dump-manifest.js';
import { readSchemaObjects } from './extract-objects.js';
import { TableDataStream, queryTextRows, readTable, runQuery, type ReadFlow, type TableDataStats, type TableRead } from '../dump/table-data-stream.js';

export interface TableFilter {
  /** Table names or globs (`*`, `?`), case-sensitive; none means every table. */
  include?: readonly string[];
  /** Same syntax; wins over include. */
  exclude?: readonly string[];
}

export interface OpenSnapshotOptions extends TableFilter {
  database: string;
  /**
   * Also take CHECKSUM TABLE per table, inside the snapshot (InnoDB answers it from the transaction's
   * read view, checked on MariaDB 10.11). It costs one more full scan of each table on the source and is
   * only comparable with a centre running the same server version; the row checksum needs neither.
   */
  serverChecksum?: boolean;
}

export interface Snapshot {
  /** Everything needed to create and load the tables, known before any row is read. */
  readonly plan: DumpPlan;
  /** Include patterns that matched no table (likely a typo in the configuration). */
  readonly unmatchedIncludes: readonly string[];
  /**
   * The table's data. Read the streams one after another, each to its end: they share the snapshot's
   * one connection, so a stream left half-read holds up the next.
   */
  dumpTable(table: DumpTablePlan): TableDataStream;
  /** The same data, encoded straight into `sink` (see readTable), pausing while `flow` is congested. */
  readTable(table: DumpTablePlan, sink: ChunkSink, flow: ReadFlow): TableRead;
  /** The plan plus every table's rows, bytes and checksums; throws unless every table was read to its end. */
  manifest(): DumpManifest;
  /** Ends the snapshot transaction. The connection's session settings stay changed. */
  close(): Promise<void>;
}

// The server gives up on a client that does not read for this long; our reads wait on the compressor,
// the encryption and the upload, and MySQL's default is 60 s.
const netWriteTimeoutSeconds = 3600;

/**
 * The session the snapshot is read in. UTC, so TIMESTAMP values come out as stored; an empty
 * sql_mode, so SHOW CREATE TABLE uses backticks and prints every option (ANSI_QUOTES, NO_TABLE_OPTIONS,
 * MariaDB's ORACLE mode … would change it) and PAD_CHAR_TO_FULL_LENGTH cannot pad CHAR values; binary
 * results, so each column arrives in its own charset's bytes without conversion.
 */
const readSessionSql =
  `SET time_zone = '+00:00', sql_mode = '', character_set_results = 'binary', ` +
  `net_write_timeout = ${netWriteTimeoutSeconds}`;

/**
 * Opens one consistent snapshot of `database` on `conn` (done in 4 steps) and plans the dump: BASE
 * TABLEs that pass the filter, in name order, with their CREATE TABLE and column encodings. Only InnoDB
 * tables are covered by the snapshot (the plan records each table's engine). A table altered while the
 * dump runs fails its read with "Table definition has changed"; the next run starts over.
 */
export async function openSnapshot(conn: Connection, options: OpenSnapshotOptions): Promise<Snapshot> {
  const { database } = options;
  // step 1: what the source is, before our session settings hide it
  const [[serverVersion, sqlMode, timeZone, systemTimeZone] = []] = await queryTextRows(
    conn,
    'SELECT VERSION(), @@GLOBAL.sql_mode, @@GLOBAL.time_zone, @@system_time_zone',
  );
  // step 2: the snapshot; READ ONLY lets InnoDB skip assigning a transaction id
  await runQuery(conn, readSessionSql);
  await runQuery(conn, 'SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  await runQuery(conn, 'START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
  try {
    const [[snapshotAt] = []] = await queryTextRows(conn, 'SELECT UTC_TIMESTAMP(6)');
    // step 3: the tables and their columns
    const { tables: names, skipped, unmatchedIncludes } = await listTables(conn, database, options);
    const columns = await listColumns(conn, database);
    // Views, routines, triggers and events: not loaded by the centre, but what a restore needs to rebuild the schema.
    const schemaObjects = await readSchemaObjects(conn, database);
    // step 4: each table's CREATE TABLE
    const tables: DumpTablePlan[] = [];
    for (const [i, { name, engine }] of names.entries()) {
      const [[, createSql] = []] = await queryTextRows(conn, `SHOW CREATE TABLE ${qualified(database, name)}`);
      const tableColumns = columns.get(name) ?? [];
      if (tableColumns.length === 0) throw new Error(`table ${quoteIdentifier(name)} has no columns to dump`);
      tables.push({ name, file: `${String(i + 1).padStart(4, '0')}.tsv`, engine, createSql: createSql ?? '', columns: tableColumns });
    }
    const plan: DumpPlan = {
      kind: 'plan',
      format: dumpFormatName,
      formatVersion: dumpFormatVersion,
      dataFormat: dumpDataFormat,
      rowChecksum: rowChecksumAlgorithm,
      source: {
        serverVersion: serverVersion ?? '',
        database,
        sqlMode: sqlMode ?? '',
        timeZone: timeZone === 'SYSTEM' ? `SYSTEM (${systemTimeZone ?? '?'})` : (timeZone ?? ''),
      },
      snapshotAt: `${(snapshotAt ?? '').replace(' ', 'T')}Z`,
      skipped,
      schemaObjects,
      tables,
    };
    return createSnapshot(conn, plan, unmatchedIncludes, options.serverChecksum ?? false);
  } catch (error) {
    await runQuery(conn, 'ROLLBACK').catch(() => undefined);
    throw error;
  }
}

function createSnapshot(conn: Connection, plan: DumpPlan, unmatchedIncludes: string[], serverChecksum: boolean): Snapshot {
  const database = plan.source.database;
  // Each table read so far: its stats once it has been read to the end.
  const dumped = new Map<string, () => TableDataStats | undefined>();
  const serverChecksums = new Map<string, string | null | Error>();
  const startDump = (table: DumpTablePlan) => {
    if (dumped.has(table.file)) throw new Error(`table ${quoteIdentifier(table.name)} was already dumped`);
    if (serverChecksum) {
      // Queued on the connection ahead of the SELECT, which starts on the stream's first read.
      void queryTextRows(conn, `CHECKSUM TABLE ${qualified(database, table.name)}`).then(
        (rows) => serverChecksums.set(table.file, rows[0]?.[1] ?? null),
        (error: Error) => serverChecksums.set(table.file, error),
      );
    }
    return selectSql(table.name, table.columns, database);
  };
  return {
    plan,
    unmatchedIncludes,
    dumpTable(table) {
      const stream = new TableDataStream(conn, startDump(table), quoteIdentifier(table.name));
      dumped.set(table.file, () => (stream.readableEnded ? stream.stats() : undefined));
      return stream;
    },
    readTable(table, sink, flow) {
      const read = readTable(conn, startDump(table), quoteIdentifier(table.name), sink, flow);
      let stats: TableDataStats | undefined;
      read.done.then((done) => (stats = done), () => {});
      dumped.set(table.file, () => stats);
      return read;
    },
    manifest() {
      const missing = plan.tables.filter((t) => dumped.get(t.file)?.() === undefined).map((t) => quoteIdentifier(t.name));
      if (missing.length > 0) throw new Error(`the dump is incomplete: not read to the end: ${missing.join(', ')}`);
      return {
        ...plan,
        kind: 'manifest',
        tables: plan.tables.map((table) => {
          const checksum = serverChecksum ? serverChecksums.get(table.file) : null;
          if (checksum instanceof Error) throw new Error(`CHECKSUM TABLE ${quoteIdentifier(table.name)}: ${checksum.message}`);
          if (checksum === undefined) throw new Error(`CHECKSUM TABLE ${quoteIdentifier(table.name)} has not answered`);
          return { ...table, ...dumped.get(table.file)!()!, serverChecksum: checksum };
        }),
      };
    },
    async close() {
      await runQuery(conn, 'COMMIT');
    },
  };
}

async function listTables(conn: Connection, database: string, filter: TableFilter) {
  const [schema] = await queryTextRows(conn, 'SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]);
  if (schema === undefined) throw new Error(`database ${quoteIdentifier(database)} does not exist on the source server`);
  const rows = await queryTextRows(conn, 'SELECT TABLE_NAME, TABLE_TYPE, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [
    database,
  ]);
  const all = rows.map(([name, type, engine]) => ({ name: name ?? '', type: type ?? '', engine }));
  all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const wanted = all.filter((t) => matchesTableFilter(t.name, filter));
  const tables = wanted.filter((t) => t.type === 'BASE TABLE').map(({ name, engine }) => ({ name, engine: engine ?? null }));
  const skipped: SkippedTable[] = wanted.filter((t) => t.type !== 'BASE TABLE').map(({ name, type }) => ({ name, type }));
  const unmatchedIncludes = (filter.include ?? []).filter((pattern) => !all.some((t) => globMatches(pattern, t.name)));
  return { tables, skipped, unmatchedIncludes };
}

async function listColumns(conn: Connection, database: string): Promise<Map<string, DumpColumn[]>> {
  const rows = await queryTextRows(
    conn,
    'SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS ' +
      'WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION',
    [database],
  );
  const byTable = new Map<string, DumpColumn[]>();
  for (const [table, name, dataType, type] of rows) {
    const list = byTable.get(table ?? '') ?? [];
    list.push({ name: name ?? '', type: type ?? '', encoding: encodingFor(dataType ?? '') });
    byTable.set(table ?? '', list);
  }
  return byTable;
}

export function matchesTableFilter(name: string, filter: TableFilter): boolean {
  const included = !filter.include?.length || filter.include.some((pattern) => globMatches(pattern, name));
  return included && !(filter.exclude ?? []).some((pattern) => globMatches(pattern, name));
}

function globMatches(pattern: string, name: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${source}$`, 'su').test(name);
}

function qualified(database: string, table: string): string {
  return `${quoteIdentifier(database)}.${quoteIdentifier(table)}`;
}

export interface TableEstimate {
  name: string;
  engine: string | null;
  /** information_schema TABLE_ROWS: for InnoDB a sampled guess, often off by tens of percent. */
  estimatedRows: number;
  /** DATA_LENGTH, the size on disk (pages, free space included), not the size of the dump. */
  estimatedDataBytes: number;
}

/**
 * For --dry-run: what a dump would cover, from information_schema, without reading a row. Estimates
 * only; MySQL 8 may also serve them from a cache up to information_schema_stats_expiry old (a day).
 */
export async function estimateTables(conn: Connection, options: { database: string } & TableFilter): Promise<TableEstimate[]> {
  const rows = await queryTextRows(
    conn,
    "SELECT TABLE_NAME, ENGINE, TABLE_ROWS, DATA_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
    [options.database],
  );
  return rows
    .map(([name, engine, tableRows, dataLength]) => ({
      name: name ?? '',
      engine: engine ?? null,
      estimatedRows: Number(tableRows ?? 0),
      estimatedDataBytes: Number(dataLength ?? 0),
    }))
    .filter((table) => matchesTableFilter(table.name, options))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
