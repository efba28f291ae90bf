// Source rows → warehouse documents: converted fields, the `_id` rule, nested child arrays and the
// content hash. Children are read per batch of parents with one `IN (…)` query on a second connection
// (the first one is busy streaming the parents).
import type { Connection } from 'mysql2';
import { failedError } from '../errors.js';
import { keyText, type ColumnInfo, type NoteSink } from './convert.js';
import { convertTyped, resolveColumnTypes, type BsonTypeName } from './column-types.js';
import { escapeFieldName } from './field-names.js';
import { canonicalText, contentHash } from './hash.js';
import type { CollectionPlan, NestMapping, SourceTable } from './mappings.js';
import { exactSelectFrom, queryRaw, quoteIdentifier, type RawRow, type RowBatch } from './source.js';
import type { RowOccurrences } from './seen-keys.js';

export interface BuiltDocument {
  _id: string;
  /** Everything but `_id`, `geo` and `_meta`. */
  fields: Record<string, unknown>;
  hash: string;
}

const rowHashIdChars = 22; // 132 bits of the sha256

export interface DocumentBuilderOptions {
  plan: CollectionPlan;
  geo: string;
  schema: string;
  tables: Map<string, SourceTable>;
  note: NoteSink;
  /** The connection child queries run on, opened on first use. */
  childConnection: () => Promise<Connection>;
  /** Occurrence counts for rows without a key, made on first use (on the scratch MySQL server, not in memory). */
  occurrences: () => Promise<RowOccurrences>;
}

interface Resolved {
  names: string[];
  keyIndexes: number[] | undefined;
  /** The mapping's `types`, per result column. */
  types: Array<BsonTypeName | undefined>;
}

export class DocumentBuilder {
  /** How `_id` is made, for the log: `primary key (id)`, `row hash`, … */
  keyRule = '';
  private resolved: Resolved | undefined;
  /** Per nest, how its child rows are selected (read once: which columns are FLOAT). */
  private readonly childSelects = new Map<NestMapping, Promise<string>>();

  constructor(private readonly options: DocumentBuilderOptions) {}

  async build(batch: RowBatch): Promise<BuiltDocument[]> {
    const { geo, plan, note } = this.options;
    const resolved = (this.resolved ??= this.resolve(batch.columns));
    const docs = batch.rows.map((row) => rowObject(row, batch.columns, resolved.names, '', note, resolved.types));
    let ids: string[];
    if (resolved.keyIndexes) {
      const keyIndexes = resolved.keyIndexes;
      ids = batch.rows.map((row) => `${geo}:${keyIndexes.map((i) => keyText(row[i]!, batch.columns[i]!)).join(':')}`);
    } else {
      // No key: the row's content (before nesting), and its occurrence so identical rows all survive.
      const rowHashes = docs.map((fields) => contentHash(fields).slice(0, rowHashIdChars));
      const occurrences = await (await this.options.occurrences()).next(rowHashes);
      ids = rowHashes.map((rowHash, index) => `${geo}:${rowHash}:${occurrences[index]}`);
    }
    await this.attach(plan.nest, { columns: batch.columns, rows: batch.rows, docs, names: resolved.names }, '');
    return docs.map((fields, index) => ({ _id: ids[index]!, fields, hash: contentHash(fields) }));
  }

  private resolve(columns: ColumnInfo[]): Resolved {
    return { ...this.resolveKey(columns), types: resolveColumnTypes(this.options.plan.types, columns, this.options.plan.label) };
  }

  private resolveKey(columns: ColumnInfo[]): Omit<Resolved, 'types'> {
    const { plan, tables } = this.options;
    const raw = columns.map((column) => column.name);
    const duplicate = raw.find((name, index) => raw.indexOf(name) !== index);
    if (duplicate !== undefined) throw failedError(`${plan.label}: column ${duplicate} appears twice in the result`, 'give one of them an alias in the mapping\'s SQL');
    const names = raw.map((name) => escapeFieldName(name, { topLevel: true }));
    // The escape is one-to-one, so this holds unless it is broken; a clash would silently drop a column.
    const clash = names.findIndex((name, index) => names.indexOf(name) !== index);
    if (clash >= 0) throw failedError(`${plan.label}: columns ${raw[names.indexOf(names[clash]!)]} and ${raw[clash]} would both be stored as field ${names[clash]}`, 'map the table with SQL that aliases one of them');
    const indexesOf = (key: string[], what: string) =>
      key.map((name) => {
        const index = raw.indexOf(name);
        if (index < 0) throw failedError(`${plan.label}: ${what} column ${name} is not in the result`, 'check `key` in the warehouse mapping');
        return index;
      });
    if (plan.key) {
      this.keyRule = `mapping key (${plan.key.join(', ')})`;
      return { names, keyIndexes: indexesOf(plan.key, 'key') };
    }
    if (plan.table?.key) {
      this.keyRule = `${plan.table.keySource} (${plan.table.key.join(', ')})`;
      return { names, keyIndexes: indexesOf(plan.table.key, 'key') };
    }
    // SQL over one table that selects that table's key: its key.
    const origins = new Set(columns.map((column) => column.orgTable));
    const [origin] = origins;
    const table = origins.size === 1 && origin ? tables.get(origin) : undefined;
    if (plan.sql && table?.key) {
      const keyIndexes = table.key.map((name) => columns.findIndex((column) => column.orgName === name));
      if (keyIndexes.every((index) => index >= 0)) {
        this.keyRule = `${table.keySource} of ${table.name} (${keyIndexes.map((i) => raw[i]).join(', ')})`;
        return { names, keyIndexes };
      }
    }
    this.keyRule = 'row hash and occurrence (no key)';
    return { names, keyIndexes: undefined };
  }

  private async attach(nests: NestMapping[], parents: Level, path: string): Promise<void> {
    for (const nest of nests) {
      const label = `${this.options.plan.label}: nested ${path}${nest.field}`;
      const field = escapeFieldName(nest.field, { topLevel: path === '' });
      if (parents.names.includes(field)) throw failedError(`${label} has the name of a column`, 'choose another `field`');
      const childColumns = Object.keys(nest.on);
      const parentIndexes = Object.values(nest.on).map((name) => {
        const index = parents.columns.findIndex((column) => column.name === name);
        if (index < 0) throw failedError(`${label}: parent column ${name} (in \`on\`) is not in the parent's result`);
        return index;
      });
      const parentKey = (row: RawRow) =>
        parentIndexes.some((i) => row[i] === null) ? undefined : parentIndexes.map((i) => keyText(row[i]!, parents.columns[i]!)).join(':');
      const tuples = new Map<string, string[]>();
      for (const row of parents.rows) {
        const key = parentKey(row);
        if (key !== undefined && !tuples.has(key)) tuples.set(key, parentIndexes.map((i) => literal(row[i]!, parents.columns[i]!)));
      }
      const groups = tuples.size > 0 ? await this.readChildren(nest, childColumns, [...tuples.values()], label, `${path}${nest.field}.`) : new Map();
      parents.rows.forEach((row, index) => {
        const key = parentKey(row);
        parents.docs[index]![field] = (key === undefined ? undefined : groups.get(key)) ?? [];
      });
    }
  }

  private async readChildren(nest: NestMapping, childColumns: string[], tuples: string[][], label: string, path: string) {
    const { schema, tables } = this.options;
    const table = nest.table === undefined ? undefined : tables.get(nest.table);
    if (nest.table !== undefined && !table) throw failedError(`${label}: table ${nest.table} is not in this schema`);
    const from = table ? `${quoteIdentifier(schema)}.${quoteIdentifier(table.name)}` : `(${nest.sql!}\n) AS \`_ganymede_child\``;
    const match = childColumns.length === 1
      ? `${quoteIdentifier(childColumns[0]!)} IN (${tuples.map((tuple) => tuple[0]).join(', ')})`
      : `(${childColumns.map(quoteIdentifier).join(', ')}) IN (${tuples.map((tuple) => `(${tuple.join(', ')})`).join(', ')})`;
    const order = nest.order_by ?? table?.key;
    const conn = await this.options.childConnection();
    let select = this.childSelects.get(nest);
    if (!select) this.childSelects.set(nest, (select = exactSelectFrom(conn, from)));
    const sql = `${await select} WHERE ${match}${order ? ` ORDER BY ${order.map(quoteIdentifier).join(', ')}` : ''}`;
    const result = await queryRaw(conn, sql);
    const raw = result.columns.map((column) => column.name);
    const names = raw.map((name) => escapeFieldName(name));
    const childIndexes = childColumns.map((name) => {
      const index = raw.indexOf(name);
      if (index < 0) throw failedError(`${label}: child column ${name} (in \`on\`) is not in the child's result`);
      return index;
    });
    const docs = result.rows.map((row) => rowObject(row, result.columns, names, path, this.options.note));
    await this.attach(nest.nest ?? [], { ...result, docs, names }, path);
    // Without an order the server's is arbitrary: order by content so the array (and its hash) is stable.
    const entries = result.rows.map((row, index) => ({ row, doc: docs[index]! }));
    if (!order) entries.sort((a, b) => compareText(canonicalText(a.doc), canonicalText(b.doc)));
    const groups = new Map<string, Record<string, unknown>[]>();
    for (const { row, doc } of entries) {
      if (childIndexes.some((i) => row[i] === null)) continue;
      const key = childIndexes.map((i) => keyText(row[i]!, result.columns[i]!)).join(':');
      const group = groups.get(key);
      if (group) group.push(doc);
      else groups.set(key, [doc]);
    }
    return groups;
  }
}

interface Level {
  columns: ColumnInfo[];
  rows: RawRow[];
  docs: Record<string, unknown>[];
  names: string[];
}

function rowObject(row: RawRow, columns: ColumnInfo[], names: string[], path: string, note: NoteSink, types?: Array<BsonTypeName | undefined>): Record<string, unknown> {
  // fromEntries: a column named __proto__ stays a field instead of setting the prototype.
  return Object.fromEntries(columns.map((column, index) =>
    [names[index]!, convertTyped(row[index]!, column, types?.[index], (name, what) => note(`${path}${name}`, what))]));
}

/** A parent's value as an SQL literal: hex, so no escaping rule or sql_mode can alter it. */
function literal(raw: Buffer, column: ColumnInfo): string {
  const hex = raw.toString('hex');
  return column.kind === 'binary' || column.kind === 'bit' || column.kind === 'geometry' ? `X'${hex}'` : `_utf8mb4 X'${hex}'`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
