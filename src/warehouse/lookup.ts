// One document of the warehouse as it is now, and with history its change-log entries: what changed in
// which cycle, with the old and new values the change log keeps (change-values.ts). Read by `ganymede
// lookup` and `GET /v1/warehouse/{collection}/{id}`; both validate through parseLookupTarget, so a name or
// id is always a plain string compared for equality, never an operator. Every filter carries the GEO
// (the shard key's first field), taken from the `_id`'s part before its first `:`.
import type { Db } from 'mongodb';
import { formatCycle } from '../cycle.js';
import { notFoundError, usageError } from '../errors.js';
import { toExtendedJson } from './extended-json.js';
import { unescapeFieldName } from './field-names.js';
import { collectionNameProblem } from './mappings.js';
import { describeMongoError } from './mongo-errors.js';
import { changesCollection } from './progress.js';
import type { ChangeDocument, ChangeOp, StateDocument } from './write.js';

/** The newest entries a history holds unless told otherwise: an hourly document changes 8,760 times a year. */
export const defaultHistoryLimit = 1000;
export const maxHistoryLimit = 100_000;
/** A GEO's name, as `geo add` takes it. */
const geoNamePattern = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Far above any real `_id` (key parts of at most a few columns), far below what a request may carry. */
const maxIdLength = 8192;

export interface LookupTarget {
  collection: string;
  /** The whole `_id`: `<geo>:<key part>[:…]`. */
  id: string;
  geo: string;
}

/**
 * Validates a lookup's collection and id. `geo` given: `id` is the key part alone (`42` → `emea:42`);
 * otherwise `id` is the whole `_id` and its GEO is the part before the first `:`. Bad input: a usage error.
 */
export function parseLookupTarget(collection: string, id: string, geo?: string): LookupTarget {
  const problem = collectionNameProblem(collection);
  if (problem) throw usageError(`collection "${collection}": the name ${problem}`, 'give the name of a warehouse collection, e.g. accounts');
  if (id.length === 0 || id.length > maxIdLength) throw usageError(`ID: expected the document's _id, 1-${maxIdLength} characters`, 'e.g. emea:42, or 42 with --geo emea');
  if (geo !== undefined) {
    if (!geoNamePattern.test(geo)) throw usageError(`GEO "${geo}": expected lower-case letters, digits, _ or - (1-32 characters)`);
    return { collection, id: `${geo}:${id}`, geo };
  }
  const at = id.indexOf(':');
  if (at < 0) throw usageError(`ID ${id} names no GEO: an _id is <geo>:<key>`, `give the whole _id (e.g. emea:${id}), or the GEO with --geo`);
  const part = id.slice(0, at);
  if (!geoNamePattern.test(part)) throw usageError(`ID ${id}: "${part}" before the first ":" is not a GEO name (lower-case letters, digits, _ or -)`, 'an _id is <geo>:<key>, e.g. emea:42');
  return { collection, id, geo: part };
}

export interface LookupOptions {
  db: Db;
  target: LookupTarget;
  history?: boolean;
  /** With history: at most the newest this many entries; defaultHistoryLimit when absent. */
  historyLimit?: number;
}

export interface LookupChange {
  cycle: string;
  op: ChangeOp;
  /** updated: the changed top-level fields, sorted (stored names). */
  fields?: string[];
  /** updated: each changed field's `{old, new}` as the change log keeps them, in Extended JSON (see toExtendedJson). */
  values?: Record<string, { old?: unknown; new?: unknown }>;
  /** The cycle whose feed sent this change; null until one did. */
  fedIn: string | null;
}

export interface LookupResult {
  collection: string;
  id: string;
  geo: string;
  /** The current document as stored (field names escaped, `_meta` included), in Extended JSON; null when the warehouse no longer holds it. */
  document: Record<string, unknown> | null;
  /** Of the document's top-level fields, those stored under an escaped name: stored name → the source's name. */
  sourceNames: Record<string, string>;
  /** With history: the document's change-log entries, oldest first. */
  history?: LookupChange[];
  /** With history: false when older entries exist than the limit let through. */
  historyComplete?: boolean;
}

/** Reads the document (and its history); a document neither held nor ever logged is a not-found error (exit 7, 404). */
export async function lookupDocument(options: LookupOptions): Promise<LookupResult> {
  const { db, target } = options;
  const { collection, id, geo } = target;
  const doc = await read(collection, () => db.collection<StateDocument>(collection).findOne({ geo, _id: id }));
  const result: LookupResult = { collection, id, geo, document: doc ? (toExtendedJson(doc) as Record<string, unknown>) : null, sourceNames: doc ? sourceNamesOf(doc) : {} };
  if (options.history) {
    const limit = options.historyLimit ?? defaultHistoryLimit;
    // Newest first up to the limit (one more tells whether there are older ones), shown oldest first.
    const entries = await read(collection, () => db.collection<ChangeDocument>(changesCollection)
      .find({ geo, collection, docId: id }, { projection: { cycle: 1, op: 1, fields: 1, values: 1, fedIn: 1 } })
      .sort({ cycle: -1 })
      .limit(limit + 1)
      .toArray());
    result.historyComplete = entries.length <= limit;
    result.history = entries.slice(0, limit).reverse().map(presentChange);
  }
  if (!doc && !result.history?.length) {
    throw notFoundError(
      `no document ${id} in collection ${collection}${options.history ? ', and no change-log entry of it' : ''}`,
      options.history ? 'check the collection and the _id (<geo>:<key>)' : 'check the collection and the _id (<geo>:<key>); --history shows the changes of a removed document',
    );
  }
  return result;
}

function presentChange(entry: ChangeDocument): LookupChange {
  return {
    cycle: formatCycle(entry.cycle),
    op: entry.op,
    ...(entry.fields ? { fields: entry.fields } : {}),
    ...(entry.values ? { values: toExtendedJson(entry.values) as LookupChange['values'] } : {}),
    fedIn: entry.fedIn instanceof Date ? formatCycle(entry.fedIn) : null,
  };
}

function sourceNamesOf(doc: StateDocument): Record<string, string> {
  const names: Record<string, string> = {};
  for (const field of Object.keys(doc)) {
    if (field === '_id' || field === 'geo' || field === '_meta') continue;
    const source = unescapeFieldName(field, { topLevel: true });
    if (source !== field) names[field] = source;
  }
  return names;
}

async function read<T>(collection: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw describeMongoError(error, `reading collection ${collection}`);
  }
}
