// A content hash of a document that does not depend on the order of its fields: object keys are sorted
// at every level, array order counts, and every value is tagged with its BSON type, so the string "1",
// the number 1, Long 1 and Decimal128 "1" all differ. A document read back from MongoDB hashes like the
// one written (the driver hands back numbers for Int32/Double and for Longs within 2^53).
import { createHash } from 'node:crypto';

type Part = string;

function encode(value: unknown, out: Part[]): void {
  if (value === null || value === undefined) {
    out.push('n');
    return;
  }
  switch (typeof value) {
    case 'string':
      out.push(`s${value.length}:`, value);
      return;
    case 'number':
      // -0 is written by the driver as Int32 0 and reads back as 0.
      out.push(`d${Object.is(value, -0) ? 0 : value};`);
      return;
    case 'boolean':
      out.push(value ? 'T' : 'F');
      return;
    case 'bigint':
      out.push(`l${value};`);
      return;
  }
  if (value instanceof Date) {
    out.push(`t${value.getTime()};`);
    return;
  }
  if (Array.isArray(value)) {
    out.push(`[${value.length}:`);
    for (const item of value) encode(item, out);
    out.push(']');
    return;
  }
  const bsonType = (value as { _bsontype?: unknown })._bsontype;
  if (typeof bsonType === 'string') {
    encodeBson(bsonType, value, out);
    return;
  }
  if (Buffer.isBuffer(value)) {
    out.push(`x0:${value.length}:`, value.toString('base64'));
    return;
  }
  const keys = Object.keys(value).sort();
  out.push(`{${keys.length}:`);
  for (const key of keys) {
    out.push(`${key.length}:`, key);
    encode((value as Record<string, unknown>)[key], out);
  }
  out.push('}');
}

function encodeBson(bsonType: string, value: object, out: Part[]): void {
  switch (bsonType) {
    case 'Binary': {
      const binary = value as { sub_type: number; length(): number; toString(encoding: 'base64'): string };
      out.push(`x${binary.sub_type}:${binary.length()}:`, binary.toString('base64'));
      return;
    }
    case 'Long':
      out.push(`l${String(value)};`);
      return;
    case 'Int32':
    case 'Double':
      out.push(`d${Number((value as { valueOf(): number }).valueOf())};`);
      return;
    default:
      // Decimal128 keeps its exact text ("12.50" and "12.5" are different values to MySQL too).
      out.push(`${bsonType}:${String(value).length}:`, String(value));
  }
}

/** The canonical text a hash is taken of; exported for tests and debugging. */
export function canonicalText(value: unknown): string {
  const parts: Part[] = [];
  encode(value, parts);
  return parts.join('');
}

/** sha256 of the canonical text, base64url (43 characters). */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalText(value)).digest('base64url');
}
