// The CREATE TABLE the centre runs for a delivered table: written by us from the structure table-definition.ts
// read (never the GEO's text), every name quoted and every literal escaped here.
import { quoteIdentifier } from '../dump/dump-format.js';
import type { ColumnDefinition, IndexDefinition, TableDefinition } from '../dump/table-definition.js';

function renderType(column: ColumnDefinition): string {
  const { type } = column;
  let text = type.base;
  if (type.members.length > 0 || type.base === 'ENUM' || type.base === 'SET') text += `(${type.members.map(quoteString).join(',')})`;
  else if (type.lengths.length > 0) text += `(${type.lengths.join(',')})`;
  if (type.unsigned) text += ' UNSIGNED';
  if (type.zerofill) text += ' ZEROFILL';
  if (column.charset) text += ` CHARACTER SET ${column.charset}`;
  if (column.collation) text += ` COLLATE ${column.collation}`;
  return text;
}

/** A string literal for a connection whose sql_mode keeps backslash escapes (the load session's). */
function quoteString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''").replaceAll('\0', '\\0')}'`;
}

const indexWords: Record<IndexDefinition['kind'], string> = { primary: 'PRIMARY KEY', unique: 'UNIQUE KEY', key: 'KEY', fulltext: 'FULLTEXT KEY', spatial: 'SPATIAL KEY' };

/** The CREATE TABLE the centre runs: written by us from the structure, in the connection's own schema. */
export function createTableSql(definition: TableDefinition): string {
  const lines = definition.columns.map(
    (column) =>
      `${quoteIdentifier(column.name)} ${renderType(column)} ${column.nullable ? 'NULL' : 'NOT NULL'}${column.srid === null ? '' : ` SRID ${column.srid}`}` +
      (column.invisible ? ' INVISIBLE' : '') +
      (column.jsonCheck ? ` CHECK (json_valid(${quoteIdentifier(column.name)}))` : ''),
  );
  for (const index of definition.indexes) {
    const parts = index.parts.map((part) => `${quoteIdentifier(part.column)}${part.length === null ? '' : `(${part.length})`}`).join(',');
    lines.push(`${indexWords[index.kind]}${index.kind === 'primary' || index.name === null ? '' : ` ${quoteIdentifier(index.name)}`} (${parts})`);
  }
  let sql = `CREATE TABLE ${quoteIdentifier(definition.name)} (\n  ${lines.join(',\n  ')}\n) ENGINE=${definition.engine}`;
  if (definition.charset) sql += ` DEFAULT CHARSET=${definition.charset}`;
  if (definition.collation) sql += ` COLLATE=${definition.collation}`;
  if (definition.rowFormat) sql += ` ROW_FORMAT=${definition.rowFormat}`;
  return sql;
}
