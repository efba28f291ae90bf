// Warehouse values as plain JSON that keeps their BSON types: MongoDB's Extended JSON v2, relaxed (numbers
// as numbers, `{"$numberDecimal": "12.50"}`, `{"$date": "…"}`, `{"$binary": {…}}`), except that a Long is
// always `{"$numberLong": "…"}`: the relaxed form would turn one beyond 2^53 into an inexact number.
import { BSON } from 'mongodb';

export function toExtendedJson(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : { $numberDouble: String(value) };
    case 'bigint':
      return { $numberLong: value.toString() };
    case 'object':
      break;
    default:
      return String(value);
  }
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? null : { $date: value.toISOString() };
  }
  if (Array.isArray(value)) return value.map(toExtendedJson);
  if (Buffer.isBuffer(value)) return { $binary: { base64: value.toString('base64'), subType: '00' } };
  const bsonType = (value as { _bsontype?: unknown })._bsontype;
  if (typeof bsonType === 'string') {
    switch (bsonType) {
      case 'Long':
        return { $numberLong: String(value) };
      case 'Int32':
      case 'Double':
        return toExtendedJson(Number((value as { valueOf(): number }).valueOf()));
      default:
        // Decimal128, Binary, ObjectId, …: the driver's own Extended JSON, relaxed.
        return BSON.EJSON.serialize(value, { relaxed: true });
    }
  }
  // fromEntries defines own properties: a `__proto__` field stays a field instead of setting the prototype.
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, toExtendedJson(item)]));
}
