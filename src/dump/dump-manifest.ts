// What a MySQL dump made by `extract.ts` says about itself. Two shapes share one schema: the plan
// (everything needed to create and load the tables, known before any row is read, so a tar can carry it
// first and the centre can load while the dump still streams in) and the manifest (the plan plus what
// each table's data turned out to be, known only at the end, used to verify the load).
import { z } from 'zod';
import { encodingFor } from './dump-format.js';
import { schemaObjectProblems, schemaObjectsSchema, type SchemaObjects } from './schema-objects.js';
import { TableDefinitionError, parseTableDefinition } from './table-definition.js';

export const dumpFormatName = 'ganymede-mysql-dump';
/**
 * 2: generated columns travel with the data (1 left them out, for the centre to recompute from SQL it no longer runs).
 * 3: `schemaObjects`, the schema's views, routines, triggers and events (older dumps have none; they still load).
 */
export const dumpFormatVersion = 3;
const readableFormatVersions = [1, 2, 3] as const;

/**
 * The data files: `LOAD DATA … CHARACTER SET binary FIELDS TERMINATED BY '\t' ESCAPED BY '\\'
 * LINES TERMINATED BY '\n'`, NULL as `\N`; every value in its column's own charset, byte for byte.
 */
export const dumpDataFormat = 'mysql-tsv-binary';

/**
 * Per row, CRC-32 of the row's line (escaped fields, tabs, newline); per table, the sum of those mod
 * 2^64 as 16 hex digits. A sum, not a running hash, so row order does not matter (tables without a
 * primary key come back in any order) and duplicate rows do not cancel out as they would with XOR.
 * Taken from the streamed bytes, so it describes the snapshot exactly, at no extra read. The centre
 * recomputes it by reading the loaded table with the same query: it proves the load changed nothing
 * that query shows, which is why the column encodings are chosen to show every stored bit.
 */
export const rowChecksumAlgorithm = 'crc32-sum64';

/**
 * How a column travels. `raw`: the server's text protocol bytes in the column's own charset.
 * `float-as-double`: FLOAT selected as `col * 1e0`, because MySQL prints FLOAT with 6 significant digits
 * but the double of the same value round-trips. `index`: ENUM/SET as their number (`col + 0`), because an
 * ENUM's error value '' and a member named '' print alike. `utf8mb4-text`: loaded through
 * `CONVERT(@v USING utf8mb4)`, because JSON (MySQL 5.7+) and MariaDB's INET4/INET6/UUID read a
 * binary-charset string as their binary form, or refuse it.
 */
export const columnEncodings = ['raw', 'float-as-double', 'index', 'utf8mb4-text'] as const;
export type ColumnEncoding = (typeof columnEncodings)[number];

export interface DumpColumn {
  name: string;
  /** information_schema COLUMN_TYPE, for people and for checks; the CREATE TABLE text is what counts. */
  type: string;
  encoding: ColumnEncoding;
}

export interface DumpTablePlan {
  name: string;
  /** File name inside the dump: `0001.tsv`, … (table names may be anything MySQL allows). */
  file: string;
  engine: string | null;
  /**
   * SHOW CREATE TABLE, taken with sql_mode '' (backticks, all options). The centre never runs it: it reads it
   * into a structure (table-definition.ts) and writes its own CREATE TABLE.
   */
  createSql: string;
  /** The data file's columns in order, every column of the table (format 1 left generated columns out). */
  columns: DumpColumn[];
}

export interface DumpTableResult extends DumpTablePlan {
  rows: number;
  /** Bytes of the data file. */
  bytes: number;
  /** `crc32-sum64` of the rows, 16 hex digits. */
  checksum: string;
  /** CHECKSUM TABLE taken inside the snapshot, when asked for; comparable only on the same server version. */
  serverChecksum: string | null;
}

export interface DumpSource {
  serverVersion: string;
  database: string;
  /** The source's global sql_mode, as writers there see it by default (informational). */
  sqlMode: string;
  /** The source's global time_zone (informational: dump and load both run in '+00:00'). */
  timeZone: string;
}

export interface SkippedTable {
  name: string;
  /** information_schema TABLE_TYPE: VIEW, SEQUENCE, SYSTEM VERSIONED, … */
  type: string;
}

interface DumpHeader {
  format: typeof dumpFormatName;
  formatVersion: (typeof readableFormatVersions)[number];
  dataFormat: typeof dumpDataFormat;
  rowChecksum: typeof rowChecksumAlgorithm;
  source: DumpSource;
  /** UTC time on the source server when the snapshot was taken, ISO 8601 with microseconds. */
  snapshotAt: string;
  skipped: SkippedTable[];
  /** Format 3: what a restore needs beside the tables. `load` never reads it; see schema-objects.ts. */
  schemaObjects?: SchemaObjects;
}

export interface DumpPlan extends DumpHeader {
  kind: 'plan';
  tables: DumpTablePlan[];
}

export interface DumpManifest extends DumpHeader {
  kind: 'manifest';
  tables: DumpTableResult[];
}

const checksumPattern = /^[0-9a-f]{16}$/;
const filePattern = /^[0-9]{4,}\.tsv$/;

const columnSchema = z.object({
  name: z.string().min(1),
  type: z.string().min(1),
  encoding: z.enum(columnEncodings),
});

const tablePlanSchema = z.object({
  name: z.string().min(1),
  file: z.string().regex(filePattern, 'a file name like 0001.tsv'),
  engine: z.string().nullable(),
  createSql: z.string().regex(/^CREATE TABLE /, 'a CREATE TABLE statement'),
  columns: z.array(columnSchema).min(1),
});

const tableResultSchema = tablePlanSchema.extend({
  rows: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  checksum: z.string().regex(checksumPattern, '16 lowercase hex digits'),
  serverChecksum: z.string().regex(/^[0-9]+$/, 'a decimal number').nullable(),
});

const headerShape = {
  format: z.literal(dumpFormatName),
  formatVersion: z.union(readableFormatVersions.map((version) => z.literal(version)) as [z.ZodLiteral<1>, z.ZodLiteral<2>, z.ZodLiteral<3>]),
  dataFormat: z.literal(dumpDataFormat),
  rowChecksum: z.literal(rowChecksumAlgorithm),
  source: z.object({
    serverVersion: z.string().min(1),
    database: z.string().min(1),
    sqlMode: z.string(),
    timeZone: z.string(),
  }),
  snapshotAt: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/, 'an ISO 8601 UTC time'),
  skipped: z.array(z.object({ name: z.string(), type: z.string() })),
  schemaObjects: schemaObjectsSchema.optional(),
};

const planSchema = z.object({ kind: z.literal('plan'), ...headerShape, tables: z.array(tablePlanSchema) });
const manifestSchema = z.object({ kind: z.literal('manifest'), ...headerShape, tables: z.array(tableResultSchema) });

export class DumpManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DumpManifestError';
  }
}

/** Reads a dump plan (JSON text or parsed value); throws DumpManifestError naming every problem. */
export function parseDumpPlan(input: string | unknown): DumpPlan {
  return parseWith(planSchema, input, 'dump plan') as DumpPlan;
}

/** Reads a dump manifest (JSON text or parsed value); throws DumpManifestError naming every problem. */
export function parseDumpManifest(input: string | unknown): DumpManifest {
  return parseWith(manifestSchema, input, 'dump manifest') as DumpManifest;
}

function parseWith(schema: typeof planSchema | typeof manifestSchema, input: unknown, what: string): unknown {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (error) {
      throw new DumpManifestError(`malformed ${what}: not JSON (${(error as Error).message})`);
    }
  }
  const result = schema.safeParse(value);
  const problems = result.success ? [] : result.error.issues.map((issue) => `${pathOf(issue.path)}: ${issue.message}`);
  if (result.success) {
    problems.push(...duplicates(result.data.tables), ...result.data.tables.flatMap((table, i) => definitionProblems(table, i, result.data.formatVersion)));
    const objects = result.data.schemaObjects;
    if (objects) problems.push(...schemaObjectProblems(objects.objects, 'schemaObjects.objects'));
    else if (result.data.formatVersion >= 3) problems.push('schemaObjects: a dump of format 3 records the schema\'s views, routines, triggers and events');
  }
  // A hostile file can have thousands of problems: the first few say enough, in one line.
  const shown = problems.slice(0, 10).join('; ') + (problems.length > 10 ? `; and ${problems.length - 10} more` : '');
  if (problems.length > 0) throw new DumpManifestError(`malformed ${what}: ${shown}`);
  return result.data;
}

/**
 * A table's CREATE TABLE must read through the closed grammar, name the table itself, and have exactly the
 * columns the data file carries, each travelling as its type needs: anything else could load other data
 * than the agent dumped, or is not a definition the centre builds.
 */
function definitionProblems(table: DumpTablePlan, index: number, formatVersion: number): string[] {
  const where = `tables[${index}] (${JSON.stringify(table.name)})`;
  let definition;
  try {
    definition = parseTableDefinition(table.createSql);
  } catch (error) {
    if (error instanceof TableDefinitionError) return [`${where}.createSql: ${error.message}`];
    throw error;
  }
  if (definition.name !== table.name) return [`${where}.createSql: it defines table ${JSON.stringify(definition.name)}, not ${JSON.stringify(table.name)}`];
  const problems: string[] = [];
  const carried = new Map(table.columns.map((column) => [column.name, column]));
  for (const column of definition.columns) {
    const data = carried.get(column.name);
    carried.delete(column.name);
    if (!data) {
      problems.push(
        column.generated && formatVersion < 2
          ? `${where}: generated column ${JSON.stringify(column.name)} is not in the data (agents of dump format 1 leave it out for the centre to compute): upgrade the GEO's agent`
          : `${where}: column ${JSON.stringify(column.name)} is defined but not in the data`,
      );
    } else if (data.encoding !== encodingFor(column.type.base)) {
      problems.push(`${where}.columns: ${JSON.stringify(column.name)} is a ${column.type.base}, which travels as ${encodingFor(column.type.base)}, not ${data.encoding}`);
    }
  }
  for (const name of carried.keys()) problems.push(`${where}.columns: ${JSON.stringify(name)} is in the data but not in the table's definition`);
  return problems;
}

function duplicates(tables: readonly { name: string; file: string }[]): string[] {
  const problems: string[] = [];
  for (const key of ['name', 'file'] as const) {
    const seen = new Set<string>();
    for (const table of tables) {
      if (seen.has(table[key])) problems.push(`tables: ${key} ${JSON.stringify(table[key])} appears twice`);
      seen.add(table[key]);
    }
  }
  return problems;
}

function pathOf(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top)';
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`)).join('');
}
