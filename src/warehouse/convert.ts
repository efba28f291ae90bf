// MySQL values as the text protocol sends them (raw bytes, in a utf8mb4 session at time_zone +00:00)
// → BSON values. Column types come from the result's own column definitions, so a mapping's SQL (joins,
// expressions) converts exactly like a plain table. The table of rules is in src/warehouse/README.md.
import { Binary, Decimal128, Long } from 'mongodb';
import type { FieldPacket } from 'mysql2';
import { escapeJsonKeys } from './field-names.js';
import { geometryToGeoJson } from './geometry.js';

/** One cell as read: the bytes the server sent, or null for SQL NULL. */
export type RawValue = Buffer | null;

export type ColumnKind =
  | 'integer' | 'bigint' | 'decimal' | 'float' | 'double' | 'date' | 'datetime' | 'time' | 'year' | 'bit' | 'json'
  | 'enum' | 'set' | 'geometry' | 'text' | 'binary' | 'null';

export interface ColumnInfo {
  /** The name in the result (an alias if the SQL gave one). */
  name: string;
  kind: ColumnKind;
  unsigned: boolean;
  /** BIT columns: their width in bits. */
  bits: number;
  /** DATETIME, TIMESTAMP, TIME: the digits of the fraction of a second (0-6; more for some expressions). */
  fsp: number;
  /** The base table and column it reads, when it reads one directly ('' for expressions). */
  orgTable: string;
  orgName: string;
}

/** Something worth one log line per column at the end of a run (zero dates, kept-as-string values). */
export type ConversionNote = 'zero date stored as null' | 'invalid date stored as null' | 'invalid JSON kept as string'
  | 'DECIMAL over 34 digits kept as string' | 'unreadable geometry kept as Binary'
  | `not convertible to ${string}: stored as its MySQL type gives`;

export type NoteSink = (column: string, note: ConversionNote) => void;

// Protocol column types (include/mysql_com.h enum_field_types) and column flags.
const T = {
  decimal: 0, tiny: 1, short: 2, long: 3, float: 4, double: 5, null: 6, timestamp: 7, longlong: 8, int24: 9,
  date: 10, time: 11, datetime: 12, year: 13, newdate: 14, varchar: 15, bit: 16, timestamp2: 17, datetime2: 18,
  time2: 19, json: 245, newdecimal: 246, enum: 247, set: 248, geometry: 255,
} as const;
const unsignedFlag = 32;
const enumFlag = 256;
const setFlag = 2048;
const binaryCharset = 63;

/** What a result column holds, from its column definition (MariaDB's extended metadata names JSON). */
export function describeColumn(field: FieldPacket): ColumnInfo {
  const type = field.columnType ?? field.type ?? -1;
  const flags = Number(field.flags ?? 0);
  const extended = field as FieldPacket & { extendedFormat?: string; orgName?: string };
  const base = {
    name: field.name,
    unsigned: (flags & unsignedFlag) !== 0,
    bits: 0,
    fsp: Number(field.decimals ?? 0),
    orgTable: field.orgTable ?? '',
    orgName: extended.orgName ?? '',
  };
  return { ...base, kind: kindOf(type, flags, field.characterSet ?? 0, extended.extendedFormat), bits: type === T.bit ? Number(field.columnLength ?? 0) : 0 };
}

function kindOf(type: number, flags: number, charset: number, extendedFormat: string | undefined): ColumnKind {
  switch (type) {
    case T.tiny: case T.short: case T.long: case T.int24: return 'integer';
    case T.longlong: return 'bigint';
    case T.decimal: case T.newdecimal: return 'decimal';
    // FLOAT apart: the text protocol prints it with 6 significant digits, so it is read as a double (source.ts).
    case T.float: return 'float';
    case T.double: return 'double';
    case T.date: case T.newdate: return 'date';
    case T.datetime: case T.datetime2: case T.timestamp: case T.timestamp2: return 'datetime';
    case T.time: case T.time2: return 'time';
    case T.year: return 'year';
    case T.bit: return 'bit';
    case T.json: return 'json';
    case T.geometry: return 'geometry';
    case T.null: return 'null';
    case T.enum: return 'enum';
    case T.set: return 'set';
  }
  if (flags & enumFlag) return 'enum';
  if (flags & setFlag) return 'set';
  if (extendedFormat === 'json') return 'json';
  return charset === binaryCharset ? 'binary' : 'text';
}

const maxSafe = BigInt(Number.MAX_SAFE_INTEGER);
const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;
const dateTimePattern = /^(-?\d{4,})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?$/;
const maxBitsAsNumber = 53;
/** Fractional digits a BSON Date holds (milliseconds); columns with more are stored as text. */
const maxDateFsp = 3;

/** One value as BSON. `note` hears about zero dates and values kept in a fallback form. */
export function convertValue(raw: RawValue, column: ColumnInfo, note: NoteSink): unknown {
  if (raw === null) return null;
  switch (column.kind) {
    case 'binary':
      return new Binary(Buffer.from(raw));
    case 'bit':
      return convertBit(raw, column.bits);
    case 'geometry': {
      const geoJson = geometryToGeoJson(raw);
      if (geoJson !== undefined) return geoJson;
      note(column.name, 'unreadable geometry kept as Binary');
      return new Binary(Buffer.from(raw));
    }
    case 'null':
      return null;
  }
  const text = raw.toString('utf8');
  switch (column.kind) {
    case 'integer':
    case 'float':
    case 'double':
      return Number(text);
    case 'bigint':
      return convertBigint(text);
    case 'decimal':
      try {
        return Decimal128.fromString(text);
      } catch {
        // DECIMAL(65,30) holds more digits than Decimal128's 34: the exact text beats a rounded number.
        note(column.name, 'DECIMAL over 34 digits kept as string');
        return text;
      }
    case 'date':
      return convertDate(text, column.name, note);
    case 'datetime':
      return column.fsp > maxDateFsp ? convertDateTimeText(text, column.name, note) : convertDate(text, column.name, note);
    case 'year':
      if (Number(text) === 0) {
        note(column.name, 'zero date stored as null');
        return null;
      }
      return Number(text);
    case 'json':
      return convertJson(text, column.name, note);
    case 'set':
      return text === '' ? [] : text.split(',');
    default:
      return text; // text, enum, time (may be negative or over 24 h), and MariaDB's UUID/INET4/INET6
  }
}

function convertJson(text: string, column: string, note: NoteSink): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    note(column, 'invalid JSON kept as string');
    return text;
  }
  return escapeJsonKeys(value);
}

function convertBigint(text: string): unknown {
  const value = BigInt(text);
  if (value >= -maxSafe && value <= maxSafe) return Number(value);
  if (value >= int64Min && value <= int64Max) return Long.fromBigInt(value);
  return Decimal128.fromString(text); // BIGINT UNSIGNED above 2^63-1: exact, and still a number to MongoDB
}

function convertBit(raw: Buffer, bits: number): unknown {
  if (bits > maxBitsAsNumber) return new Binary(Buffer.from(raw));
  let value = 0;
  for (const byte of raw) value = value * 256 + byte;
  return value;
}

/** A DATE, or a DATETIME/TIMESTAMP with up to 3 fractional digits, as a Date: nothing is lost. */
function convertDate(text: string, column: string, note: NoteSink): Date | null {
  return readDateTime(text, column, note)?.date ?? null;
}

/**
 * A DATETIME/TIMESTAMP(4-6) as `YYYY-MM-DDTHH:MM:SS.ffffffZ`: a Date would drop the microseconds. Fixed
 * width, so text order is time order; the same form as the feed's dates, with six digits.
 */
function convertDateTimeText(text: string, column: string, note: NoteSink): string | null {
  const read = readDateTime(text, column, note);
  if (!read) return null;
  const { date, micros } = read;
  const two = (value: number) => String(value).padStart(2, '0');
  return `${String(date.getUTCFullYear()).padStart(4, '0')}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}`
    + `T${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}.${String(micros).padStart(6, '0')}Z`;
}

/** MySQL's text for a date or datetime, checked: zero and invalid dates are noted and give undefined. */
function readDateTime(text: string, column: string, note: NoteSink): { date: Date; micros: number } | undefined {
  const match = dateTimePattern.exec(text);
  if (!match) {
    note(column, 'invalid date stored as null');
    return undefined;
  }
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1, 7).map((part) => Number(part ?? 0)) as number[];
  if (month === 0 || day === 0) {
    note(column, year === 0 && month === 0 && day === 0 ? 'zero date stored as null' : 'invalid date stored as null');
    return undefined;
  }
  const micros = Number((match[7] ?? '').padEnd(6, '0'));
  // Not Date.UTC: it maps years 0-99 to the 1900s.
  const date = new Date(0);
  date.setUTCFullYear(year!, month! - 1, day!);
  date.setUTCHours(hour, minute, second, Math.floor(micros / 1000));
  // ALLOW_INVALID_DATES lets '2024-02-30' exist; Date would roll it into March.
  if (date.getUTCMonth() !== month! - 1 || date.getUTCDate() !== day) {
    note(column, 'invalid date stored as null');
    return undefined;
  }
  return { date, micros };
}

/**
 * A key column's value as it goes into a document `_id`: the MySQL text form (hex for binary columns),
 * with `%` and `:` percent-escaped so the parts of a composite key split unambiguously on `:`.
 * NULL (possible only in a mapping's own `key`) is `%00`, which no escaped text can produce.
 */
export function keyText(raw: RawValue, column: ColumnInfo): string {
  if (raw === null) return '%00';
  const text = column.kind === 'binary' || column.kind === 'bit' || column.kind === 'geometry' ? raw.toString('hex') : raw.toString('utf8');
  return escapeIdPart(text);
}

export function escapeIdPart(text: string): string {
  return text.replace(/[%:]/g, (char) => (char === '%' ? '%25' : '%3A'));
}
