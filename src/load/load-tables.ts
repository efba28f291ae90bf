// The centre side of a MySQL dump: create each table in the (temporary) schema the connection uses (as
// the centre's server can: definition-translation.ts), stream its data file in with LOAD DATA LOCAL INFILE, then prove the load exact by reading the table
// back with the very query the source used and comparing row count, bytes and row checksum.
import { Readable } from 'node:stream';
import type { Connection, QueryError, ResultSetHeader } from 'mysql2';
import { loadDataSql, quoteIdentifier, selectSql } from '../dump/dump-format.js';
import type { DumpTablePlan, DumpTableResult } from '../dump/dump-manifest.js';
import { translateDefinition, type DefinitionTranslation } from './definition-translation.js';
import { parseServerVersion, type ServerIdentity } from '../mysql-server.js';
import { createTableSql } from './create-table-sql.js';
import { parseTableDefinition } from '../dump/table-definition.js';
import { TableDataStream, measureTableData, queryTextRows, runQuery } from '../dump/table-data-stream.js';

// The server drops a client that sends nothing for net_read_timeout (30 s by default); the data file
// arrives through download, decryption and decompression, which may stall that long.
const netTimeoutSeconds = 3600;

/**
 * UTC as at the source, so TIMESTAMP values are stored as dumped. sql_mode is fixed rather than the
 * source's: no strict mode and no NO_ZERO_DATE/NO_ZERO_IN_DATE, so zero dates load; ALLOW_INVALID_DATES
 * for dates a source with that mode kept; NO_AUTO_VALUE_ON_ZERO, so an AUTO_INCREMENT column's 0 stays 0;
 * and none of the modes that change how the CREATE TABLE or LOAD DATA text parses (ANSI_QUOTES,
 * NO_BACKSLASH_ESCAPES, MariaDB's ORACLE …). The source's mode is in the manifest for the record. No
 * foreign key or unique checks: tables load in name order, and the data was consistent at the source.
 */
const loadSessionSql =
  "SET time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES', " +
  "foreign_key_checks = 0, unique_checks = 0, character_set_results = 'binary', " +
  `net_read_timeout = ${netTimeoutSeconds}, net_write_timeout = ${netTimeoutSeconds}`;

// The server refuses a packet over its max_allowed_packet (1-4 MB by default on older servers), so a row
// of any size must arrive as many packets.
const maxInfileChunkBytes = 64 * 1024;
const warningSampleCount = 5;

export interface LoadTableResult {
  table: string;
  /** Rows the server says it inserted. */
  rows: number;
  /** Warnings of the LOAD DATA (ENUM error values, for one, load with a warning yet exactly). */
  warnings: number;
  warningSamples: string[];
  /** What of the GEO's definition this server could not create, and what was created instead. */
  translations: DefinitionTranslation[];
  durationMs: number;
}

// Asked once per connection: every table loaded on it is created for the same server.
const serverOfConnection = new WeakMap<Connection, Promise<ServerIdentity>>();

/** The server behind `conn`, from its VERSION(). */
export function serverOf(conn: Connection): Promise<ServerIdentity> {
  let server = serverOfConnection.get(conn);
  if (!server) {
    server = queryTextRows(conn, 'SELECT VERSION()').then((rows) => parseServerVersion(rows[0]?.[0] ?? ''));
    serverOfConnection.set(conn, server);
  }
  return server;
}

/**
 * Creates `table` (from its definition, in the connection's default database) and loads `data`, the
 * table's data file, into it. The server must allow it (`local_infile=ON`, off by default on MySQL 8).
 * On failure `data` is destroyed (quietly) and the error names the table.
 */
export interface LoadTableOptions {
  /**
   * `rebuilt` (the default): the CREATE TABLE is ours, written from the definition read through a closed grammar,
   * for anything a GEO delivered. `as-dumped`: the dump's own text, only for a dump the centre itself made and
   * signed (the Ganymede schema in the archive), whose defaults and AUTO_INCREMENT a restore must keep.
   */
  definition?: 'rebuilt' | 'as-dumped';
}

export async function loadTable(conn: Connection, table: DumpTablePlan, data: Readable, options: LoadTableOptions = {}): Promise<LoadTableResult> {
  const name = quoteIdentifier(table.name);
  const startedAt = Date.now();
  try {
    await runQuery(conn, loadSessionSql);
    let createSql = table.createSql;
    let translations: DefinitionTranslation[] = [];
    if (options.definition !== 'as-dumped') {
      const translated = translateDefinition(parseTableDefinition(table.createSql), await serverOf(conn));
      createSql = createTableSql(translated.definition);
      translations = translated.translations;
    }
    await runQuery(conn, createSql).catch((error: Error) => {
      throw new Error(`creating table ${name}: ${error.message}`, { cause: error });
    });
    const result = await new Promise<ResultSetHeader>((resolve, reject) => {
      const infileStreamFactory = () => Readable.from(packetSized(data));
      conn.query({ sql: loadDataSql(table), infileStreamFactory }, (error: QueryError | null, header: unknown) => {
        if (error) reject(new Error(`loading table ${name}: ${error.message}`, { cause: error }));
        else resolve(header as ResultSetHeader);
      });
    });
    const warningSamples =
      result.warningStatus > 0
        ? (await queryTextRows(conn, `SHOW WARNINGS LIMIT ${warningSampleCount}`)).map((row) => row.join(' '))
        : [];
    return { table: table.name, rows: result.affectedRows, warnings: result.warningStatus, warningSamples, translations, durationMs: Date.now() - startedAt };
  } catch (error) {
    // Without the error: nobody listens for one on `data`, and an unheard 'error' event kills the process.
    data.destroy();
    throw error;
  }
}

// mysql2 sends each chunk of a LOCAL INFILE stream as one packet (and pauses the stream while the socket
// is full); cut upstream chunks, whatever their size, to packets the server accepts.
async function* packetSized(source: Readable): AsyncGenerator<Buffer> {
  for await (const chunk of source as AsyncIterable<Buffer | string>) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    for (let offset = 0; offset < bytes.length; offset += maxInfileChunkBytes) {
      yield bytes.subarray(offset, offset + maxInfileChunkBytes);
    }
  }
}

export class TableMismatchError extends Error {
  constructor(
    readonly table: string,
    readonly problem: string,
    loadWarnings: readonly string[] = [],
  ) {
    const warned = loadWarnings.length > 0 ? `; the load warned: ${loadWarnings.join(' | ')}` : '';
    super(`table ${quoteIdentifier(table)} does not match the dump after loading: ${problem}${warned}`);
    this.name = 'TableMismatchError';
  }
}

export interface VerifyTableOptions {
  /** The source's server version (manifest `source.serverVersion`): CHECKSUM TABLE is compared only if equal. */
  sourceServerVersion?: string;
  /** From loadTable, to explain a mismatch. */
  loadWarnings?: readonly string[];
  /** From loadTable: the table was created otherwise than the GEO defined it, so CHECKSUM TABLE cannot agree. */
  translated?: boolean;
}

export interface VerifyTableResult {
  table: string;
  rows: number;
  checksum: string;
  serverChecksumCompared: boolean;
}

/**
 * Reads the loaded table back with the source's query and compares rows, bytes and row checksum with
 * the manifest; throws TableMismatchError on any difference. A read of the whole table, on the centre.
 */
export async function verifyTable(conn: Connection, table: DumpTableResult, options: VerifyTableOptions = {}): Promise<VerifyTableResult> {
  const mismatch = (problem: string) => new TableMismatchError(table.name, problem, options.loadWarnings);
  await runQuery(conn, loadSessionSql);
  const loaded = await measureTableData(new TableDataStream(conn, selectSql(table.name, table.columns), quoteIdentifier(table.name)));
  if (loaded.rows !== table.rows) throw mismatch(`it has ${loaded.rows} rows, the dump ${table.rows}`);
  if (loaded.checksum !== table.checksum || loaded.bytes !== table.bytes) {
    throw mismatch(
      `same ${table.rows} rows but different values: row checksum ${loaded.checksum} (${loaded.bytes} bytes), ` +
        `the dump's ${table.checksum} (${table.bytes} bytes)`,
    );
  }
  let serverChecksumCompared = false;
  // The centre stores generated columns as plain ones, and a translated table otherwise than the GEO did,
  // which CHECKSUM TABLE counts differently: the row checksum above, over every column, compares such a table.
  const generated = parseTableDefinition(table.createSql).columns.some((column) => column.generated);
  if (table.serverChecksum !== null && options.sourceServerVersion !== undefined && !generated && !options.translated) {
    const [[version] = []] = await queryTextRows(conn, 'SELECT VERSION()');
    if (version === options.sourceServerVersion) {
      const [[, checksum] = []] = await queryTextRows(conn, `CHECKSUM TABLE ${quoteIdentifier(table.name)}`);
      if (checksum !== table.serverChecksum) throw mismatch(`CHECKSUM TABLE ${checksum ?? 'NULL'}, at the source ${table.serverChecksum}`);
      serverChecksumCompared = true;
    }
  }
  return { table: table.name, rows: loaded.rows, checksum: loaded.checksum, serverChecksumCompared };
}
