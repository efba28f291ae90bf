// One collection's writes for one GEO and cycle: per batch, look up the stored hashes, log what changes,
// then write only new and changed documents in one unordered bulk; at the end, remove what the source no
// longer has. The change log is written before the state it describes, and every write is keyed, so a
// retry after a crash at any point converges on what one uninterrupted run writes.
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type Db } from 'mongodb';
import { formatCycle } from '../cycle.js';
import { failedError } from '../errors.js';
import { escapeIdPart } from './convert.js';
import type { BuiltDocument } from './documents.js';
import { canonicalText } from './hash.js';
import { describeMongoError } from './mongo-errors.js';
import { changesCollection } from './progress.js';
import type { SeenKeys } from './seen-keys.js';

export interface StateDocument {
  _id: string;
  geo: string;
  _meta: { hash: string; cycle: Date };
  [field: string]: unknown;
}

export type ChangeOp = 'created' | 'updated' | 'removed';

export interface ChangeDocument {
  _id: string;
  cycle: Date;
  geo: string;
  collection: string;
  /** The `_id` of the state document. */
  docId: string;
  op: ChangeOp;
  /** updated: the top-level fields whose value changed, sorted. */
  fields?: string[];
}

export interface CollectionCounts {
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  removed: number;
  /** Change-log entries written (a retry does not rewrite the ones already there). */
  changesLogged: number;
  /** Documents left alone because a newer cycle had already written them (only when runs overlap). */
  newer: number;
  /** Insert, replace and delete operations sent, change log and bookkeeping included. */
  writeOps: number;
}

export type CheckpointPhase = 'logged' | 'written' | 'removed';

export interface WriterOptions {
  db: Db;
  collection: string;
  /** For errors: `table accounts`. */
  label: string;
  geo: string;
  cycle: Date;
  counts: CollectionCounts;
  checkpoint: (phase: CheckpointPhase) => Promise<void>;
  /** Where the `_id`s seen this cycle are kept (on the scratch MySQL server, not in memory). */
  seen: SeenKeys;
}

const duplicateKey = 11000;

export class CollectionWriter {
  private readonly state: Collection<StateDocument>;
  private readonly changes: Collection<ChangeDocument>;
  private readonly cycleLabel: string;

  constructor(private readonly options: WriterOptions) {
    this.state = options.db.collection<StateDocument>(options.collection);
    this.changes = options.db.collection<ChangeDocument>(changesCollection);
    this.cycleLabel = formatCycle(options.cycle);
  }

  async write(docs: BuiltDocument[]): Promise<void> {
    const { counts, cycle, geo, label } = this.options;
    counts.read += docs.length;
    if (docs.length === 0) return;
    const duplicate = await this.options.seen.add(docs.map((doc) => doc._id));
    if (duplicate !== undefined) {
      throw failedError(`${label}: two rows have the same key (document ${duplicate})`, 'the key is not unique: give the warehouse mapping a `key` that is');
    }
    const stored = await this.mongo('reading', () =>
      this.state.find({ _id: { $in: docs.map((doc) => doc._id) } }, { projection: { '_meta.hash': 1, '_meta.cycle': 1 } }).toArray());
    const storedById = new Map(stored.map((doc) => [doc._id, doc._meta]));
    const created: BuiltDocument[] = [];
    const updated: BuiltDocument[] = [];
    for (const doc of docs) {
      const meta = storedById.get(doc._id);
      if (!meta) created.push(doc);
      else if (meta.cycle && meta.cycle.getTime() > cycle.getTime()) counts.newer++;
      else if (meta.hash === doc.hash) counts.unchanged++;
      else updated.push(doc);
    }
    if (created.length + updated.length === 0) return;

    const fieldsById = await this.changedFields(updated);
    await this.logChanges([
      ...created.map((doc) => this.change(doc._id, 'created')),
      ...updated.map((doc) => ({ ...this.change(doc._id, 'updated'), fields: fieldsById.get(doc._id) ?? [] })),
    ]);
    await this.options.checkpoint('logged');

    const meta = (doc: BuiltDocument) => ({ hash: doc.hash, cycle });
    const operations: AnyBulkWriteOperation<StateDocument>[] = [
      ...created.map((doc) => ({ insertOne: { document: { _id: doc._id, geo, ...doc.fields, _meta: meta(doc) } } })),
      // Only over an older cycle's content: a newer run may have written in between.
      ...updated.map((doc) => ({
        replaceOne: { filter: { _id: doc._id, '_meta.cycle': { $lte: cycle } }, replacement: { geo, ...doc.fields, _meta: meta(doc) } },
      })),
    ];
    const result = await this.bulk(this.state, operations, 'writing');
    counts.inserted += result.insertedCount;
    counts.updated += result.matchedCount;
    await this.options.checkpoint('written');
  }

  /**
   * Removes the GEO's documents the source no longer has: the stored `_id`s are read `batchSize` at a
   * time and checked against the seen set, so memory stays flat whatever the collection's size.
   */
  async removeUnseen(batchSize: number): Promise<void> {
    const { geo, cycle } = this.options;
    let candidates: string[] = [];
    const cursor = this.state.find({ geo, '_meta.cycle': { $lte: cycle } }, { projection: { _id: 1 }, batchSize });
    try {
      for (let doc = await this.mongo('reading', () => cursor.next()); doc; doc = await this.mongo('reading', () => cursor.next())) {
        candidates.push(doc._id);
        if (candidates.length >= batchSize) {
          await this.removeGone(candidates);
          candidates = [];
        }
      }
      await this.removeGone(candidates);
    } finally {
      await cursor.close().catch(() => undefined);
    }
  }

  private async removeGone(candidates: string[]): Promise<void> {
    const { cycle, counts } = this.options;
    const seen = await this.options.seen.which(candidates);
    const ids = candidates.filter((id) => !seen.has(id));
    if (ids.length === 0) return;
    await this.logChanges(ids.map((id) => this.change(id, 'removed')));
    await this.options.checkpoint('logged');
    const result = await this.bulk(this.state, ids.map((_id) => ({ deleteOne: { filter: { _id, '_meta.cycle': { $lte: cycle } } } })), 'removing from');
    counts.removed += result.deletedCount;
    await this.options.checkpoint('removed');
  }

  private change(docId: string, op: ChangeOp): ChangeDocument {
    const { collection, cycle, geo } = this.options;
    return { _id: `${this.cycleLabel}:${escapeIdPart(collection)}:${docId}`, cycle, geo, collection, docId, op };
  }

  /** For each updated document, the top-level fields whose stored value differs from the new one. */
  private async changedFields(updated: BuiltDocument[]): Promise<Map<string, string[]>> {
    if (updated.length === 0) return new Map();
    const before = await this.mongo('reading', () =>
      this.state.find({ _id: { $in: updated.map((doc) => doc._id) } }, { projection: { _meta: 0 } }).toArray());
    const beforeById = new Map(before.map((doc) => [doc._id, doc as Record<string, unknown>]));
    return new Map(updated.map((doc) => {
      const old = beforeById.get(doc._id) ?? {};
      const names = new Set([...Object.keys(doc.fields), ...Object.keys(old).filter((name) => name !== '_id' && name !== 'geo')]);
      const changed = [...names].filter((name) => !(name in old) || !(name in doc.fields) || canonicalText(old[name]) !== canonicalText(doc.fields[name]));
      return [doc._id, changed.sort()];
    }));
  }

  /** Inserts change-log entries; one already there (from an interrupted run of this cycle) is left as it is. */
  private async logChanges(entries: ChangeDocument[]): Promise<void> {
    const result = await this.bulk(this.changes, entries.map((document) => ({ insertOne: { document } })), 'writing the change log of');
    this.options.counts.changesLogged += result.insertedCount;
  }

  /** An unordered bulk write; duplicate-key errors (an insert already done) count as done, any other fails. */
  private async bulk<T extends { _id: string }>(collection: Collection<T>, operations: AnyBulkWriteOperation<T>[], doing: string) {
    this.options.counts.writeOps += operations.length;
    try {
      return await collection.bulkWrite(operations, { ordered: false });
    } catch (error) {
      if (error instanceof MongoBulkWriteError) {
        const errors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
        if (errors.length > 0 && errors.every((writeError) => writeError.code === duplicateKey) && !error.err) return error.result;
      }
      throw describeMongoError(error, `${doing} collection ${this.options.collection}`);
    }
  }

  private async mongo<T>(doing: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw describeMongoError(error, `${doing} collection ${this.options.collection}`);
    }
  }
}
