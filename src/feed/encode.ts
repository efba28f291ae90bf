// Warehouse documents as feed lines: plain JSON values (Decimal128 as its exact string, dates in ISO
// UTC, binary as base64), keys sorted, so the same content always gives the same bytes.
import { Binary, Decimal128, Long, ObjectId, type Document } from 'mongodb';
import { unescapeFieldName } from '../warehouse/field-names.js';

export function plain(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Decimal128) return value.toString();
  if (value instanceof Long) return value.toString();
  if (value instanceof Binary) return Buffer.from(value.buffer).toString('base64');
  if (value instanceof ObjectId) return value.toHexString();
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((key) => [key, plain((value as Record<string, unknown>)[key])]),
    );
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

/**
 * A state document without Ganymede's bookkeeping, its names as the source has them: the warehouse's
 * percent escapes (`a%2Eb`, `%24x`; src/warehouse/README.md, "Field names") are undone at every depth. The
 * top level keeps one rule of the warehouse's, as the line's own `_id` and `geo` are there: a column named
 * `_id`, `geo` or `_meta` (followed by any `_`s) carries one more `_`.
 */
export function feedRecord(doc: Document): Record<string, unknown> {
  const { _meta: _ignored, ...rest } = doc;
  return sourceNames(plain(rest)) as Record<string, unknown>;
}

/** A plain value with every object key unescaped, keys sorted again (an unescaped name may sort elsewhere). */
function sourceNames(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sourceNames);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>).map(([key, item]) => [unescapeFieldName(key), sourceNames(item)] as const);
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const csvCell = (value: unknown): string => {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

export function csvLine(columns: string[], record: Record<string, unknown>): string {
  return `${columns.map((column) => csvCell(record[column])).join(',')}\n`;
}
