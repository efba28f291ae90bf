// Which collections the warehouse holds and what feeds each: the config's `warehouse.mappings` (snake_case
// like the rest of the file) on top of the default of one collection per table. Rules: docs/warehouse.md.
import { z } from 'zod';
import { configError, failedError } from '../errors.js';
import { bsonTypeNames, type BsonTypeName } from './bson-type-names.js';

/** Rows of a child table (or SELECT) nested as an array field of each parent document. */
export interface NestMapping {
  /** The array field in the parent document. */
  field: string;
  table?: string;
  /** A SELECT over the transaction schema (unqualified table names). */
  sql?: string;
  /** Child column → parent column: a child row belongs to the parents whose values match (as MySQL text). */
  on: Record<string, string>;
  /** Child columns the array is ordered by; default: the child table's key, else the rows' content hash. */
  order_by?: string[];
  nest?: NestMapping[];
}

export interface Mapping {
  /** The MongoDB collection; default: the table's name. Required with `sql`. */
  collection?: string;
  table?: string;
  /** A SELECT over the transaction schema (unqualified table names), instead of `table`. */
  sql?: string;
  /** Result columns that identify a row; default: the table's primary key, else a unique NOT NULL key. */
  key?: string[];
  nest?: NestMapping[];
  /** With `table` only: no collection for that table at all (not even the default one). */
  skip?: boolean;
  /** Result column → the BSON type it is stored as, instead of the one its MySQL type gives (column-types.ts). */
  types?: Record<string, BsonTypeName>;
}

/** Prefix of Ganymede's own collections (change log, progress): no mapping may use it. */
export const reservedPrefix = '_ganymede';

const name = z.string().min(1).max(64);
const columnList = z.array(name).min(1);
// Trailing semicolons go: nested SQL is wrapped as a derived table.
const sqlText = z.string().trim().regex(/^(select|with)\b/i, 'expected a SELECT statement').transform((sql) => sql.replace(/[\s;]+$/, ''));

/** A MongoDB collection name Ganymede accepts (table names that are not one need a mapping). */
export function collectionNameProblem(collection: string): string | undefined {
  if (collection.length === 0 || collection.length > 120) return 'must be 1-120 characters';
  if (/[$\0]/.test(collection)) return 'must not contain $ or NUL';
  if (collection.startsWith('system.')) return 'must not start with "system."';
  if (collection.startsWith(reservedPrefix)) return `must not start with "${reservedPrefix}" (Ganymede's own collections)`;
  return undefined;
}

const collectionName = z.string().superRefine((value, ctx) => {
  const problem = collectionNameProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `collection name ${problem}` });
});

function exactlyOneSource(value: { table?: string; sql?: string }, ctx: z.RefinementCtx): void {
  if ((value.table === undefined) === (value.sql === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'give exactly one of `table` and `sql`' });
  }
}

export const nestMappingSchema: z.ZodType<NestMapping> = z.lazy(() =>
  z
    .strictObject({
      field: name,
      table: name.optional(),
      sql: sqlText.optional(),
      on: z.record(name, name).refine((on) => Object.keys(on).length > 0, 'name at least one child column'),
      order_by: columnList.optional(),
      nest: z.array(nestMappingSchema).optional(),
    })
    .superRefine(exactlyOneSource),
);

export const mappingSchema: z.ZodType<Mapping> = z
  .strictObject({
    collection: collectionName.optional(),
    table: name.optional(),
    sql: sqlText.optional(),
    key: columnList.optional(),
    nest: z.array(nestMappingSchema).optional(),
    skip: z.boolean().optional(),
    types: z.record(name, z.enum(bsonTypeNames)).optional(),
  })
  .superRefine((value, ctx) => {
    if (value.skip) {
      if (value.table === undefined || Object.keys(value).some((key) => key !== 'table' && key !== 'skip')) {
        ctx.addIssue({ code: 'custom', message: '`skip` goes with `table` and nothing else' });
      }
      return;
    }
    exactlyOneSource(value, ctx);
    if (value.sql !== undefined && value.collection === undefined) {
      ctx.addIssue({ code: 'custom', path: ['collection'], message: 'a mapping with `sql` needs a `collection`' });
    }
  });

/** The config's `warehouse.mappings`. */
export const mappingsSchema = z.array(mappingSchema).default([]);

/** Validates mappings given in code (the config loader validates the file's with `mappingsSchema`). */
export function parseMappings(input: unknown): Mapping[] {
  const parsed = mappingsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((issue) => `warehouse.mappings${issue.path.map((part) => `.${String(part)}`).join('')}: ${issue.message}`);
  throw configError(`warehouse.mappings: ${details.length} problem${details.length === 1 ? '' : 's'}`, { details });
}

/** A table of the transaction schema, with the columns that identify its rows. */
export interface SourceTable {
  name: string;
  /** Primary key, else the first unique index whose columns are all NOT NULL; undefined: neither. */
  key: string[] | undefined;
  keySource: 'primary key' | 'unique key' | undefined;
}

/** One collection to build in this run. */
export interface CollectionPlan {
  collection: string;
  /** For log lines and errors: `table accounts` or `mapping sql`. */
  label: string;
  table?: SourceTable;
  sql?: string;
  /** Explicit key columns; undefined: the key of `table`, or the row-hash rule. */
  key?: string[];
  nest: NestMapping[];
  /** The mapping's `types`: result column → BSON type. */
  types?: Record<string, BsonTypeName>;
}

/**
 * The collections of this schema: every configured mapping whose table is present, plus the default
 * mapping of each table no mapping names in `table`. `absent`: tables of mappings that the schema lacks.
 */
export function planCollections(tables: SourceTable[], mappings: Mapping[]): { plans: CollectionPlan[]; absent: string[] } {
  const byName = new Map(tables.map((table) => [table.name, table]));
  const claimed = new Set(mappings.flatMap((mapping) => (mapping.table !== undefined ? [mapping.table] : [])));
  const plans: CollectionPlan[] = [];
  const absent: string[] = [];
  for (const mapping of mappings) {
    if (mapping.skip) continue;
    if (mapping.table !== undefined) {
      const table = byName.get(mapping.table);
      if (!table) {
        absent.push(mapping.table);
        continue;
      }
      plans.push({ collection: mapping.collection ?? table.name, label: `table ${table.name}`, table, key: mapping.key, nest: mapping.nest ?? [], types: mapping.types });
    } else {
      plans.push({ collection: mapping.collection!, label: `mapping ${mapping.collection!}`, sql: mapping.sql!, key: mapping.key, nest: mapping.nest ?? [], types: mapping.types });
    }
  }
  for (const table of tables) {
    if (!claimed.has(table.name)) plans.push({ collection: table.name, label: `table ${table.name}`, table, nest: [] });
  }
  const seen = new Map<string, string>();
  for (const plan of plans) {
    const problem = collectionNameProblem(plan.collection);
    if (problem) {
      throw failedError(`${plan.label}: "${plan.collection}" is not a usable collection name: it ${problem}`,
        'add a warehouse mapping for this table with another `collection`, or `skip` it');
    }
    const other = seen.get(plan.collection);
    if (other) throw failedError(`collection ${plan.collection} would be built twice (${other} and ${plan.label})`, 'give one of the warehouse mappings another `collection`');
    seen.set(plan.collection, plan.label);
  }
  return { plans, absent };
}
