// A mapping's `types`: a result column stored as the BSON type the config chooses instead of the one its
// MySQL type gives (a DECIMAL as double, a TINYINT(1) as boolean, a JSON text column parsed). Converted from
// the same bytes the server sent. A value that is not one of the chosen type (`abc` as json, `x` as double)
// is stored as its MySQL type gives, with a conversion note, as the existing fallbacks do (invalid JSON kept
// as string, a DECIMAL over 34 digits kept as string): one log line per column and run with the count.
import { Decimal128, Double, Int32, Long } from 'mongodb';
import { configError } from '../errors.js';
import { convertValue, type ColumnInfo, type NoteSink, type RawValue } from './convert.js';
import { escapeJsonKeys } from './field-names.js';
import type { BsonTypeName } from './bson-type-names.js';

export type { BsonTypeName } from './bson-type-names.js';

const numberPattern = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const integerPattern = /^[+-]?\d+$/;
const int32Min = -(2 ** 31);
const int32Max = 2 ** 31 - 1;
const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;
/** Kinds whose bytes are not text (as convert.ts reads them). */
const byteKinds = new Set(['binary', 'bit', 'geometry']);

/** The note of a value that was not of its chosen type. */
export const typedFallbackNote = (type: BsonTypeName) => `not convertible to ${type}: stored as its MySQL type gives` as const;

/** One value as the chosen type; undefined when it is not one (the caller falls back). */
function convertAs(raw: Buffer, column: ColumnInfo, type: BsonTypeName): unknown {
  if (column.kind === 'bit' && (type === 'boolean' || type === 'int' || type === 'long' || type === 'double')) {
    // BIT(1) and friends: the bytes big-endian, as a number first.
    let value = 0n;
    for (const byte of raw) value = (value << 8n) | BigInt(byte);
    return convertAs(Buffer.from(value.toString()), { ...column, kind: 'integer' }, type);
  }
  if (byteKinds.has(column.kind) && type !== 'string') return undefined;
  const text = raw.toString('utf8');
  switch (type) {
    case 'string':
      // Bytes that are not UTF-8 would be changed by the conversion: kept as Binary then.
      return Buffer.from(text, 'utf8').equals(raw) ? text : undefined;
    case 'double': {
      const value = numberPattern.test(text) ? Number(text) : NaN;
      return Number.isFinite(value) ? new Double(value) : undefined;
    }
    case 'int': {
      const value = integerPattern.test(text) ? Number(text) : NaN;
      return Number.isInteger(value) && value >= int32Min && value <= int32Max ? new Int32(value) : undefined;
    }
    case 'long': {
      if (!integerPattern.test(text)) return undefined;
      const value = BigInt(text);
      return value >= int64Min && value <= int64Max ? Long.fromBigInt(value) : undefined;
    }
    case 'decimal':
      if (!numberPattern.test(text)) return undefined;
      try {
        return Decimal128.fromString(text);
      } catch {
        return undefined; // over 34 significant digits
      }
    case 'boolean':
      // MySQL's own rule: 0 is false, any other number true (TINYINT(1), BOOL, a DECIMAL).
      return numberPattern.test(text) ? Number(text) !== 0 : undefined;
    case 'json':
      try {
        return escapeJsonKeys(JSON.parse(text));
      } catch {
        return undefined;
      }
  }
}

/** One value: as the chosen type when there is one and it fits; else as its MySQL type gives (noted when it did not fit). */
export function convertTyped(raw: RawValue, column: ColumnInfo, type: BsonTypeName | undefined, note: NoteSink): unknown {
  if (raw === null || type === undefined) return convertValue(raw, column, note);
  const value = convertAs(raw, column, type);
  if (value !== undefined) return value;
  note(column.name, typedFallbackNote(type));
  return convertValue(raw, column, note);
}

/**
 * The chosen type of each result column, in result order. A `types` entry naming no column of the result is
 * a configuration error (a misspelt name would otherwise silently do nothing).
 */
export function resolveColumnTypes(types: Record<string, BsonTypeName> | undefined, columns: ColumnInfo[], label: string): Array<BsonTypeName | undefined> {
  if (!types) return columns.map(() => undefined);
  const names = new Set(columns.map((column) => column.name));
  const unknown = Object.keys(types).filter((name) => !names.has(name));
  if (unknown.length > 0) {
    throw configError(`warehouse.mappings (${label}): types names ${unknown.map((name) => JSON.stringify(name)).join(', ')}, which ${unknown.length === 1 ? 'is not a column' : 'are not columns'} of it`, {
      hint: `its columns: ${[...names].join(', ').slice(0, 300)}; correct or remove the entry in \`types\``,
    });
  }
  return columns.map((column) => (Object.hasOwn(types, column.name) ? types[column.name] : undefined));
}
