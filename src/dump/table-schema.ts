// A delivery's tables as columns and MySQL types, and what changed from one hour of a GEO to the next
// (table added or removed; column added, removed, retyped). Types come from the CREATE TABLE text as the
// centre parses it (table-definition.ts), not from the agent's informational COLUMN_TYPE, so what is
// compared is what the centre built; charset and collation are left out: they do not change what etl stores.
import type { DumpPlan } from './dump-manifest.js';
import { parseTableDefinition, type ColumnDefinition } from './table-definition.js';

export interface SchemaColumn {
  name: string;
  /** `INT`, `DECIMAL(12,2)`, `VARCHAR(60)`, `ENUM('a','b')`, `BIGINT UNSIGNED`, `JSON` (MariaDB's alias too). */
  type: string;
}

export interface TableSchema {
  table: string;
  columns: SchemaColumn[];
}

export type SchemaChangeKind = 'table added' | 'table removed' | 'column added' | 'column removed' | 'column retyped';

export interface SchemaChange {
  change: SchemaChangeKind;
  table: string;
  column?: string;
  /** The type before (column removed or retyped). */
  oldType?: string;
  /** The type now (column added or retyped). */
  newType?: string;
}

/** The type of a parsed column as the manifest and the schema changes name it. */
export function columnTypeText(column: ColumnDefinition): string {
  const { type } = column;
  if (column.jsonCheck) return 'JSON';
  let text = type.base;
  if (type.base === 'ENUM' || type.base === 'SET') text += `(${type.members.map((member) => `'${member.replaceAll("'", "''")}'`).join(',')})`;
  else if (type.lengths.length > 0) text += `(${type.lengths.join(',')})`;
  if (type.unsigned) text += ' UNSIGNED';
  if (type.zerofill) text += ' ZEROFILL';
  return text;
}

/** Every table of a delivery (already checked by parseDumpManifest), by name, columns in table order. */
export function schemaOfDelivery(plan: Pick<DumpPlan, 'tables'>): TableSchema[] {
  return plan.tables
    .map((table) => ({ table: table.name, columns: parseTableDefinition(table.createSql).columns.map((column) => ({ name: column.name, type: columnTypeText(column) })) }))
    .sort((a, b) => compare(a.table, b.table));
}

/** What changed from `before` to `after`: tables by name, then columns by name within each table. */
export function diffSchemas(before: TableSchema[], after: TableSchema[]): SchemaChange[] {
  const old = new Map(before.map((table) => [table.table, table]));
  const now = new Map(after.map((table) => [table.table, table]));
  const changes: SchemaChange[] = [];
  for (const name of [...new Set([...old.keys(), ...now.keys()])].sort(compare)) {
    const was = old.get(name);
    const is = now.get(name);
    if (!was) changes.push({ change: 'table added', table: name });
    else if (!is) changes.push({ change: 'table removed', table: name });
    else {
      const oldColumns = new Map(was.columns.map((column) => [column.name, column.type]));
      const newColumns = new Map(is.columns.map((column) => [column.name, column.type]));
      for (const column of [...new Set([...oldColumns.keys(), ...newColumns.keys()])].sort(compare)) {
        const oldType = oldColumns.get(column);
        const newType = newColumns.get(column);
        if (oldType === undefined) changes.push({ change: 'column added', table: name, column, newType });
        else if (newType === undefined) changes.push({ change: 'column removed', table: name, column, oldType });
        else if (oldType !== newType) changes.push({ change: 'column retyped', table: name, column, oldType, newType });
      }
    }
  }
  return changes;
}

/** One line: `column accounts.region added (VARCHAR(20))`, `column accounts.balance retyped DECIMAL(10,2) → DECIMAL(14,4)`. */
export function describeSchemaChange(change: SchemaChange): string {
  switch (change.change) {
    case 'table added':
    case 'table removed':
      return `${change.change}: ${change.table}`;
    case 'column added':
      return `column added: ${change.table}.${change.column} ${change.newType}`;
    case 'column removed':
      return `column removed: ${change.table}.${change.column} (was ${change.oldType})`;
    case 'column retyped':
      return `column retyped: ${change.table}.${change.column} ${change.oldType} → ${change.newType}`;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
