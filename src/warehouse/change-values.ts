// What an `updated` change-log entry keeps of each changed field: its old and new value, bounded so an
// entry stays small whatever the rows hold. A value is measured by its canonical text (hash.ts: keys
// sorted, types tagged), the form its content hash is taken of, so the same value gives the same size and
// digest whether it was read back from MongoDB or built from the source; a value over the bound becomes
// a marker with that size and digest. A GridFS reference (oversize.ts) is kept as it is, outside the
// entry's budget: it is small, and it names the stored bytes by size and sha256 already.
import { createHash } from 'node:crypto';
import { canonicalText } from './hash.js';
import { referenceOf, storedFieldHolds } from './oversize.js';

/** A value whose canonical text is longer than this is kept as a truncation marker. */
export const maxChangeValueBytes = 1024;
/** The values kept whole in one entry, together; past this, every further value is a marker. */
export const maxChangeValuesBytes = 64 * 1024;
/** The key of the object that stands in the change log for a value too large to keep. */
export const truncatedKey = '_ganymede_truncated';
/** A GridFS reference is a few hundred bytes; a JSON value that only looks like one and is larger is measured like any value. */
const maxReferenceBytes = 4096;

export interface TruncatedValue {
  [truncatedKey]: { bytes: number; sha256: string };
}

/** `old` is absent for a field the document did not have before; `new`, for one it no longer has. */
export interface ChangedValue {
  old?: unknown;
  new?: unknown;
}

export interface FieldChanges {
  /** The top-level fields whose value changed, sorted. */
  fields: string[];
  values: Record<string, ChangedValue>;
}

/** One value's canonical text, computed at most once: it is both compared and measured. */
class Measured {
  private text: string | undefined;
  constructor(readonly value: unknown) {}
  get canonical(): string {
    return (this.text ??= canonicalText(this.value));
  }
}

/**
 * The changes between a stored document's fields (`before`, as read back, perhaps with GridFS references)
 * and the new row's: `built` is the whole new content (compared), `stored` what the new document holds
 * (a reference for a field put in GridFS; kept in the log). `_id` and `geo` are not fields.
 */
export function diffFields(before: Record<string, unknown>, built: Record<string, unknown>, stored: Record<string, unknown>): FieldChanges {
  const names = new Set([...Object.keys(built), ...Object.keys(before).filter((name) => name !== '_id' && name !== 'geo')]);
  const changes: Array<{ name: string; old?: Measured; new?: Measured }> = [];
  for (const name of [...names].sort()) {
    const had = name in before;
    const has = name in built;
    const old = had ? new Measured(before[name]) : undefined;
    if (had && has) {
      // A reference compares by the type and sha256 of what it stands for; anything else by canonical text.
      const same = referenceOf(old!.value) === undefined
        ? old!.canonical === canonicalText(built[name])
        : storedFieldHolds(old!.value, built[name], canonicalText);
      if (same) continue;
    }
    changes.push({ name, old, new: has ? new Measured(name in stored ? stored[name] : built[name]) : undefined });
  }
  let budget = maxChangeValuesBytes;
  const keep = (measured: Measured): unknown => {
    const bytes = Buffer.byteLength(measured.canonical, 'utf8');
    if (referenceOf(measured.value) !== undefined && bytes <= maxReferenceBytes) return measured.value;
    if (bytes <= maxChangeValueBytes && bytes <= budget) {
      budget -= bytes;
      return measured.value;
    }
    return truncatedValue(measured.canonical, bytes);
  };
  const values: Record<string, ChangedValue> = {};
  for (const change of changes) {
    values[change.name] = { ...(change.old ? { old: keep(change.old) } : {}), ...(change.new ? { new: keep(change.new) } : {}) };
  }
  return { fields: changes.map((change) => change.name), values };
}

function truncatedValue(canonical: string, bytes: number): TruncatedValue {
  return { [truncatedKey]: { bytes, sha256: createHash('sha256').update(canonical, 'utf8').digest('hex') } };
}

/** The marker's content when `value` is one, else undefined. */
export function truncatedOf(value: unknown): TruncatedValue[typeof truncatedKey] | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== truncatedKey) return undefined;
  const marker = (value as Record<string, unknown>)[truncatedKey] as Partial<TruncatedValue[typeof truncatedKey]> | null;
  return marker && typeof marker.bytes === 'number' && typeof marker.sha256 === 'string' ? (marker as TruncatedValue[typeof truncatedKey]) : undefined;
}
