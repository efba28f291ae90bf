// Reading the transaction schema: its tables and their keys from information_schema, and rows as raw
// bytes (every cell through typeCast → buffer) with the result's column definitions, streamed with
// backpressure: while a batch is being written to MongoDB, the connection stops reading its socket.
// FLOAT columns are read as `col * 1e0`: the text protocol prints a FLOAT with 6 significant digits
// (16777216 → 16777200), but the double it widens to exactly with the digits that read back as that double.
import type { Connection, FieldPacket, QueryError } from 'mysql2';
import { describeColumn, type ColumnInfo, type RawValue } from './convert.js';
import type { SourceTable } from './mappings.js';

export type RawRow = RawValue[];

/** Backticks, with backticks inside doubled. */
export function quoteIdentifier(name: string): string {
  return '`' + name.replaceAll('`', '``') + '`';
}

export interface RowBatch {
  columns: ColumnInfo[];
  rows: RawRow[];
}

// A slow MongoDB batch keeps the server waiting to send; its default net_write_timeout (60 s) would cut us off.
const netTimeoutSeconds = 3600;
const streamHighWaterMarkRows = 512;

/**
 * UTC, so TIMESTAMP values arrive as stored (DATETIME is taken as UTC as it is); utf8mb4 results whatever
 * the column's charset; the schema as default database, so mapping SQL names tables without it.
 */
export async function prepareSession(conn: Connection, schema: string): Promise<void> {
  await run(conn, `SET time_zone = '+00:00', character_set_results = 'utf8mb4', net_write_timeout = ${netTimeoutSeconds}, net_read_timeout = ${netTimeoutSeconds}`);
  await run(conn, `USE ${quoteIdentifier(schema)}`);
}

function run(conn: Connection, sql: string, values?: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => conn.query(sql, values, (error, result) => (error ? reject(error) : resolve(result))));
}

const rawCells = { rowsAsArray: true, typeCast: (field: { buffer(): Buffer | null }) => field.buffer() };

/** The whole (small) result of a query, raw. */
export function queryRaw(conn: Connection, sql: string, values: unknown[] = []): Promise<RowBatch> {
  return new Promise((resolve, reject) =>
    conn.query({ sql, values, ...rawCells } as never, (error: QueryError | null, rows: unknown, fields: FieldPacket[]) =>
      error ? reject(error) : resolve({ columns: (fields ?? []).map(describeColumn), rows: rows as RawRow[] })));
}

/** The result columns of `sql`, from the server's metadata for it as a prepared statement (not run). */
function probeColumns(conn: Connection, sql: string): Promise<ColumnInfo[]> {
  return new Promise((resolve, reject) =>
    conn.prepare(sql, (error, statement) => {
      if (error) return reject(error);
      conn.unprepare(sql);
      // mysql2 keeps the column definitions of the prepare response; its typings leave them out.
      resolve(((statement as { columns?: FieldPacket[] }).columns ?? []).map(describeColumn));
    }));
}

/**
 * The select list reading every column of `columns` exactly: FLOAT as a double (not CAST AS DOUBLE, which
 * MySQL has only since 8.0.17; `* 1e0` keeps a negative zero). Undefined when `*` already reads them exactly,
 * or when a name repeats (the document builder names it better than the server's "Duplicate column name").
 */
function exactList(columns: ColumnInfo[]): string | undefined {
  if (!columns.some((column) => column.kind === 'float')) return undefined;
  const names = columns.map((column) => column.name);
  if (new Set(names).size !== names.length) return undefined;
  return columns.map(({ name, kind }) => (kind === 'float' ? `${quoteIdentifier(name)} * 1e0 AS ${quoteIdentifier(name)}` : quoteIdentifier(name))).join(', ');
}

/** `SELECT` + what reads `from` exactly: `*`, or a list that reads its FLOAT columns as doubles. */
export async function exactSelectFrom(conn: Connection, from: string): Promise<string> {
  return `SELECT ${exactList(await probeColumns(conn, `SELECT * FROM ${from}`)) ?? '*'} FROM ${from}`;
}

/** What a collection reads: a table of the schema, or a mapping's own SQL. */
export type SourceQuery = { from: string; sql?: undefined } | { sql: string; from?: undefined };

/** Rows of the query in batches of up to `batchSize`; the next batch is read only when the caller asks. */
/**
 * The query's rows, `batchSize` at a time, or fewer once a batch holds `batchBytes` of cell data: a
 * thousand rows of large BLOBs would otherwise be one bulk write of gigabytes held in memory.
 */
export async function* streamBatches(conn: Connection, query: SourceQuery, batchSize: number, batchBytes = Infinity): AsyncGenerator<RowBatch> {
  let sql: string;
  let origins: ColumnInfo[] | undefined;
  if (query.from !== undefined) {
    sql = await exactSelectFrom(conn, query.from);
  } else {
    // Wrapped only when a FLOAT needs it: the wrapper hides where each column comes from (the key of an
    // SQL mapping over one table is found by that), so the origins are taken from the unwrapped SQL.
    const columns = await probeColumns(conn, query.sql);
    const list = exactList(columns);
    sql = list === undefined ? query.sql : `SELECT ${list} FROM (${query.sql}\n) AS \`_ganymede_exact\``;
    if (list !== undefined) origins = columns;
  }
  let columns: ColumnInfo[] = [];
  const stream = conn.query({ sql, ...rawCells } as never).stream({ highWaterMark: streamHighWaterMarkRows });
  stream.on('fields', (fields: FieldPacket[]) => {
    columns = fields.map(describeColumn);
    if (origins) columns = columns.map((column, index) => ({ ...column, orgTable: origins![index]!.orgTable, orgName: origins![index]!.orgName }));
  });
  let rows: RawRow[] = [];
  let bytes = 0;
  let any = false;
  for await (const row of stream) {
    rows.push(row as RawRow);
    for (const cell of row as RawRow) bytes += cell?.length ?? 0;
    any = true;
    if (rows.length >= batchSize || bytes >= batchBytes) {
      yield { columns, rows };
      rows = [];
      bytes = 0;
    }
  }
  if (rows.length > 0 || !any) yield { columns, rows };
}

interface TableRow { TABLE_NAME: string }
interface IndexRow { TABLE_NAME: string; INDEX_NAME: string; NON_UNIQUE: number | string; COLUMN_NAME: string | null; NULLABLE: string }

/** Base tables of the schema with their keys: PRIMARY, else the first (by name) unique index of NOT NULL columns. */
export async function listTables(conn: Connection, schema: string): Promise<SourceTable[]> {
  const tables = (await run(conn,
    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
    [schema])) as TableRow[];
  const indexes = (await run(conn,
    `SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, NULLABLE FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX`,
    [schema])) as IndexRow[];
  const byTable = new Map<string, Map<string, IndexRow[]>>();
  for (const row of indexes) {
    if (Number(row.NON_UNIQUE) !== 0) continue;
    const table = byTable.get(row.TABLE_NAME) ?? new Map<string, IndexRow[]>();
    byTable.set(row.TABLE_NAME, table);
    table.set(row.INDEX_NAME, [...(table.get(row.INDEX_NAME) ?? []), row]);
  }
  return tables.map(({ TABLE_NAME: name }) => {
    const unique = [...(byTable.get(name) ?? new Map<string, IndexRow[]>()).entries()];
    const primary = unique.find(([index]) => index === 'PRIMARY');
    if (primary) return { name, key: primary[1].map((row) => row.COLUMN_NAME!), keySource: 'primary key' as const };
    // A functional index part (MySQL 8) has no COLUMN_NAME; a nullable column may repeat NULLs.
    const usable = unique.find(([, parts]) => parts.every((row) => row.COLUMN_NAME !== null && row.NULLABLE !== 'YES'));
    if (usable) return { name, key: usable[1].map((row) => row.COLUMN_NAME!), keySource: 'unique key' as const };
    return { name, key: undefined, keySource: undefined };
  });
}

/** A table of the schema (read whole), or the mapping's own SQL. */
export function selectSql(source: { table?: SourceTable; sql?: string }, schema: string): SourceQuery {
  return source.table ? { from: `${quoteIdentifier(schema)}.${quoteIdentifier(source.table.name)}` } : { sql: source.sql! };
}
