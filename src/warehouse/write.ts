// One collection's writes for one GEO and cycle: per batch, look up the stored hashes, log what changes,
// then write only new and changed documents in one unordered bulk; at the end, remove what the source no
// longer has. The change log is written before the state it describes, and every write is keyed, so a
// retry after a crash at any point converges on what one uninterrupted run writes. Every filter names the
// GEO, the first field of the shard keys (README, "Sharding the warehouse"), so on a sharded cluster each
// write goes to the shard holding it; and every bulk write first checks that this run still holds the
// collection's claim (progress.ts), so a run that lost it writes nothing more. A row too large for one
// document has its largest fields put in GridFS before anything is logged (oversize.ts).
import type { AnyBulkWriteOperation, BulkWriteResult, Collection, Db } from 'mongodb';
import { formatCycle } from '../cycle.js';
import { failedError } from '../errors.js';
import { escapeIdPart } from './convert.js';
import type { BuiltDocument } from './documents.js';
import { diffFields, type ChangedValue, type FieldChanges } from './change-values.js';
import { describeMongoError, judgeBulkError } from './mongo-errors.js';
import { OversizeStore, reportedIdsMax, type StoredFields } from './oversize.js';
import { changesCollection, type CollectionClaim } from './progress.js';
import type { SeenKeys } from './seen-keys.js';

export interface StateDocument {
  _id: string;
  geo: string;
  /** files: the GridFS files its fields refer to (oversize.ts), only when there are any. */
  _meta: { hash: string; cycle: Date; files?: string[] };
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
  /** updated: each changed field's old and new value, bounded in size (change-values.ts; README, "Change log"). */
  values?: Record<string, ChangedValue>;
  /** The cycle whose feed sent this entry; null (written explicitly, so it can be indexed and matched) until then. */
  fedIn: Date | null;
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
  /** Insert, replace and delete operations sent, change log, GridFS and bookkeeping included. */
  writeOps: number;
  /** Rows written with fields in GridFS, as too large for one document. */
  oversize: number;
  /** The first of those rows' `_id`s (up to 20). */
  oversizeIds: string[];
}

export type CheckpointPhase = 'stored' | 'logged' | 'written' | 'removed';

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
  /** This run's claim on the collection, verified before every bulk write. */
  claim: Pick<CollectionClaim, 'verify'>;
  /** The collection's previous run never finished: GridFS may hold uploads of it that no document refers to. */
  afterUnfinished?: boolean;
}

export class CollectionWriter {
  private readonly state: Collection<StateDocument>;
  private readonly changes: Collection<ChangeDocument>;
  private readonly cycleLabel: string;
  private readonly oversize: OversizeStore;
  /** Whether GridFS may now hold files no document refers to; only then is it swept (a steady run reads nothing there). */
  private filesLeft: boolean;

  constructor(private readonly options: WriterOptions) {
    this.state = options.db.collection<StateDocument>(options.collection);
    this.changes = options.db.collection<ChangeDocument>(changesCollection);
    this.cycleLabel = formatCycle(options.cycle);
    this.oversize = new OversizeStore({
      db: options.db, collection: options.collection, geo: options.geo, label: options.label,
      countWrites: (operations) => (options.counts.writeOps += operations),
      verifyClaim: () => this.verifyClaim(),
    });
    this.filesLeft = options.afterUnfinished ?? false;
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
      this.state.find({ geo, _id: { $in: docs.map((doc) => doc._id) } }, { projection: { '_meta.hash': 1, '_meta.cycle': 1, '_meta.files': 1 } }).toArray());
    const storedById = new Map(stored.map((doc) => [doc._id, doc._meta]));
    const created: BuiltDocument[] = [];
    const updated: BuiltDocument[] = [];
    for (const doc of docs) {
      const meta = storedById.get(doc._id);
      if (!meta) created.push(doc);
      else if (meta.cycle && meta.cycle.getTime() > cycle.getTime()) counts.newer++;
      else if (meta.hash === doc.hash) counts.unchanged++;
      else {
        updated.push(doc);
        if (meta.files?.length) this.filesLeft = true; // its old files may go
      }
    }
    if (created.length + updated.length === 0) return;

    const oversize = await this.storeOversize([...created, ...updated]);
    const changesById = await this.changedFields(updated, oversize);
    await this.logChanges([
      ...created.map((doc) => this.change(doc._id, 'created')),
      ...updated.map((doc) => {
        const { fields, values } = changesById.get(doc._id) ?? { fields: [], values: {} };
        return { ...this.change(doc._id, 'updated'), fields, values };
      }),
    ]);
    await this.options.checkpoint('logged');

    const meta = (doc: BuiltDocument) => {
      const files = oversize.get(doc._id)?.files;
      return { hash: doc.hash, cycle, ...(files ? { files } : {}) };
    };
    const fields = (doc: BuiltDocument) => oversize.get(doc._id)?.fields ?? doc.fields;
    const operations: AnyBulkWriteOperation<StateDocument>[] = [
      ...created.map((doc) => ({ insertOne: { document: { _id: doc._id, geo, ...fields(doc), _meta: meta(doc) } } })),
      // Only over an older cycle's content: a newer run may have written in between.
      ...updated.map((doc) => ({
        replaceOne: { filter: { _id: doc._id, geo, '_meta.cycle': { $lte: cycle } }, replacement: { geo, ...fields(doc), _meta: meta(doc) } },
      })),
    ];
    const result = await this.bulk(this.state, operations, 'writing');
    counts.inserted += result.insertedCount;
    counts.updated += result.matchedCount;
    await this.options.checkpoint('written');
  }

  /**
   * Checked before anything is logged, so a row MongoDB cannot hold never leaves a change-log entry
   * without its document: the fields of each row too large for one document go to GridFS first.
   */
  private async storeOversize(docs: BuiltDocument[]): Promise<Map<string, StoredFields>> {
    const { counts, cycle } = this.options;
    const stored = new Map<string, StoredFields>();
    for (const doc of docs) {
      const fitted = await this.mongo('storing fields in GridFS for', () => this.oversize.fit(doc._id, doc.fields, { hash: doc.hash, cycle }));
      if (!fitted) continue;
      stored.set(doc._id, fitted);
      counts.oversize++;
      if (counts.oversizeIds.length < reportedIdsMax) counts.oversizeIds.push(doc._id);
      await this.options.checkpoint('stored');
    }
    return stored;
  }

  /** After the last write of the cycle: GridFS files of this GEO and collection that no document refers to go. */
  async sweepFiles(batchSize: number): Promise<void> {
    if (!this.filesLeft) return;
    const removed = await this.mongo('removing unused GridFS files of', () => this.oversize.sweep(this.state, batchSize));
    if (removed > 0) await this.options.checkpoint('stored');
  }

  /**
   * Removes the GEO's documents the source no longer has: the stored `_id`s are read `batchSize` at a
   * time and checked against the seen set, so memory stays flat whatever the collection's size.
   */
  async removeUnseen(batchSize: number): Promise<void> {
    const { geo, cycle, counts } = this.options;
    // Every row read this cycle now has its document here, of this cycle or older unless a newer run has it:
    // when the GEO's documents of this cycle or older are exactly those, none is gone, and nothing is scanned.
    const stored = await this.mongo('counting', () => this.state.countDocuments({ geo, '_meta.cycle': { $lte: cycle } }));
    if (stored === counts.read - counts.newer) return;
    let candidates: string[] = [];
    // `_id`s only; whether a removed one has GridFS files is asked of the few that go.
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
    const { cycle, counts, geo } = this.options;
    const seen = await this.options.seen.which(candidates);
    const ids = candidates.filter((id) => !seen.has(id));
    if (ids.length === 0) return;
    // Those with fields in GridFS: their files go with them (the sweep after the last write).
    const withFiles = await this.mongo('reading', () => this.state.countDocuments({ geo, _id: { $in: ids }, '_meta.files.0': { $exists: true } }));
    if (withFiles > 0) this.filesLeft = true;
    await this.logChanges(ids.map((id) => this.change(id, 'removed')));
    await this.options.checkpoint('logged');
    const result = await this.bulk(this.state, ids.map((_id) => ({ deleteOne: { filter: { _id, geo, '_meta.cycle': { $lte: cycle } } } })), 'removing from');
    counts.removed += result.deletedCount;
    await this.options.checkpoint('removed');
  }

  private change(docId: string, op: ChangeOp): ChangeDocument {
    const { collection, cycle, geo } = this.options;
    return { _id: `${this.cycleLabel}:${escapeIdPart(collection)}:${docId}`, cycle, geo, collection, docId, op, fedIn: null };
  }

  /**
   * For each updated document, the top-level fields whose stored value differs from the new one, with the
   * old value (from this read of the stored document) and the new one as the document will hold it (a
   * field put in GridFS as its reference), each bounded in size.
   */
  private async changedFields(updated: BuiltDocument[], oversize: Map<string, StoredFields>): Promise<Map<string, FieldChanges>> {
    if (updated.length === 0) return new Map();
    const { geo } = this.options;
    const before = await this.mongo('reading', () =>
      this.state.find({ geo, _id: { $in: updated.map((doc) => doc._id) } }, { projection: { _meta: 0 } }).toArray());
    const beforeById = new Map(before.map((doc) => [doc._id, doc as Record<string, unknown>]));
    return new Map(updated.map((doc) => [doc._id, diffFields(beforeById.get(doc._id) ?? {}, doc.fields, oversize.get(doc._id)?.fields ?? doc.fields)]));
  }

  /** Inserts change-log entries; one already there (from an interrupted run of this cycle) is left as it is. */
  private async logChanges(entries: ChangeDocument[]): Promise<void> {
    const result = await this.bulk(this.changes, entries.map((document) => ({ insertOne: { document } })), 'writing the change log of');
    this.options.counts.changesLogged += result.insertedCount;
  }

  /**
   * An unordered bulk write, once this run has made sure it still holds the collection. Every failed write
   * is judged (mongo-errors.ts): an insert whose `_id` is already there counts as done; anything else, or
   * a write concern error, fails the step naming the document.
   */
  private async bulk<T extends { _id: string }>(collection: Collection<T>, operations: AnyBulkWriteOperation<T>[], doing: string): Promise<BulkWriteResult> {
    await this.verifyClaim();
    this.options.counts.writeOps += operations.length;
    try {
      return await collection.bulkWrite(operations, { ordered: false });
    } catch (error) {
      const verdict = judgeBulkError(error, {
        doing: `${doing} collection ${this.options.collection}`,
        collection: collection.collectionName,
        operation: (index) => describeOperation(operations[index]),
      });
      if (verdict.done) return verdict.result;
      throw verdict.error;
    }
  }

  /** Throws if another run has taken the collection since this one claimed it (GridFS writes check too). */
  private async verifyClaim(): Promise<void> {
    this.options.counts.writeOps += await this.mongo(`checking the claim on`, () => this.options.claim.verify());
  }

  private async mongo<T>(doing: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw describeMongoError(error, `${doing} collection ${this.options.collection}`);
    }
  }
}

function describeOperation<T extends { _id: string }>(operation: AnyBulkWriteOperation<T> | undefined): { insert: boolean; id: string } | undefined {
  if (!operation) return undefined;
  if ('insertOne' in operation) return { insert: true, id: String(operation.insertOne.document._id) };
  const filter = 'replaceOne' in operation ? operation.replaceOne.filter : 'deleteOne' in operation ? operation.deleteOne.filter : undefined;
  return filter && '_id' in filter ? { insert: false, id: String(filter._id) } : undefined;
}
