// Ganymede's own collections in the warehouse: `_ganymede_etl` records, per GEO and collection, the newest
// cycle applied (claimed before the first write, so a late older cycle never starts writing over it),
// and each collection's indexes are created when missing (listed first, so a steady run writes nothing).
// A claim is also a fencing token: the run that took it last owns the collection, and every other run
// finds so before its next write and stops, so a run that lost its lease (or was overtaken by a newer
// cycle) writes nothing more. A cycle that can no longer finish is `abandoned` once its unapplied
// change-log entries are gone (unfinished.ts).
import { randomUUID } from 'node:crypto';
import type { Collection, Db, IndexSpecification } from 'mongodb';
import { formatCycle } from '../cycle.js';
import { alreadyRunning } from '../errors.js';

export const progressCollection = '_ganymede_etl';
export const changesCollection = '_ganymede_changes';

export interface ProgressDoc {
  _id: string;
  geo: string;
  collection: string;
  /** The newest cycle applied or being applied. */
  cycle: Date;
  /** abandoned: the run never finished, and a later run of the GEO did not write the collection. */
  state: 'running' | 'done' | 'abandoned';
  /** The run that owns the collection while `running`; removed when done. */
  token?: string;
  startedAt: Date;
  finishedAt?: Date;
}

export type Claim =
  | { outcome: 'newer'; cycle: Date }
  /** afterUnfinished: the run before this one (of any cycle) never finished, so it may have left GridFS uploads behind. */
  | { outcome: 'claimed'; writes: number; unfinished?: Date; afterUnfinished: boolean; claim: CollectionClaim };

const maxClaimAttempts = 5;

/**
 * Takes (geo, collection) for `cycle` unless a newer cycle has it: a compare-and-set on the recorded cycle
 * and token, so two runs racing see one winner, and the loser's next write finds it lost. Re-running a
 * cycle already done writes nothing until it has something to write (see CollectionClaim.verify).
 */
export async function claimCycle(db: Db, geo: string, collection: string, cycle: Date): Promise<Claim> {
  const progress = db.collection<ProgressDoc>(progressCollection);
  const _id = `${geo}:${collection}`;
  for (let attempt = 1; attempt <= maxClaimAttempts; attempt++) {
    const current = await progress.findOne({ _id });
    if (current && current.cycle.getTime() > cycle.getTime()) return { outcome: 'newer', cycle: current.cycle };
    if (current && current.cycle.getTime() === cycle.getTime() && current.state === 'done') {
      return { outcome: 'claimed', writes: 0, afterUnfinished: false, claim: new CollectionClaim(db, _id, cycle, undefined) };
    }
    const token = randomUUID();
    const set = { geo, collection, cycle, state: 'running' as const, token, startedAt: new Date() };
    try {
      const result = await progress.updateOne(
        current ? { _id, cycle: current.cycle, token: current.token ?? { $exists: false } } : { _id, cycle: { $exists: false } },
        { $set: set, $unset: { finishedAt: '' } },
        { upsert: !current },
      );
      if (result.matchedCount + result.upsertedCount === 1) {
        const unfinished = current?.state === 'running' && current.cycle.getTime() !== cycle.getTime() ? current.cycle : undefined;
        return { outcome: 'claimed', writes: 1, unfinished, afterUnfinished: current !== null && current.state !== 'done', claim: new CollectionClaim(db, _id, cycle, token) };
      }
    } catch (error) {
      if ((error as { code?: unknown }).code !== 11000) throw error; // another run inserted it first
    }
  }
  throw new Error(`could not claim ${_id} for the cycle in ${maxClaimAttempts} attempts: another run keeps changing it`);
}

/** This run's hold on one GEO's collection for one cycle. */
export class CollectionClaim {
  constructor(
    private readonly db: Db,
    /** `<geo>:<collection>` */
    readonly id: string,
    readonly cycle: Date,
    private token: string | undefined,
  ) {}

  private get progress(): Collection<ProgressDoc> {
    return this.db.collection<ProgressDoc>(progressCollection);
  }

  /**
   * Called before every write: throws if another run has taken the collection since this one claimed it.
   * A re-run of a cycle already done takes the claim only now, when it first has something to write.
   * Returns the writes it made (0, or 1 for that late claim).
   */
  async verify(): Promise<number> {
    if (this.token === undefined) {
      const token = randomUUID();
      const taken = await this.progress.updateOne(
        { _id: this.id, cycle: this.cycle, state: 'done', token: { $exists: false } },
        { $set: { state: 'running', token, startedAt: new Date() }, $unset: { finishedAt: '' } },
      );
      if (taken.matchedCount !== 1) throw await this.lost();
      this.token = token;
      return 1;
    }
    if (!(await this.progress.findOne({ _id: this.id, token: this.token }, { projection: { _id: 1 } }))) throw await this.lost();
    return 0;
  }

  /** Marks the cycle applied and lets go of the claim; writes nothing when this run never had to take it. */
  async finish(): Promise<number> {
    if (this.token === undefined) return 0;
    const result = await this.progress.updateOne(
      { _id: this.id, cycle: this.cycle, token: this.token },
      { $set: { state: 'done', finishedAt: new Date() }, $unset: { token: '' } },
    );
    if (result.matchedCount !== 1) throw await this.lost();
    return 1;
  }

  private async lost(): Promise<Error> {
    const now = await this.progress.findOne({ _id: this.id });
    const by = now ? `another run of cycle ${formatCycle(now.cycle)} (${now.state})` : 'another run';
    return alreadyRunning(`${this.id}: ${by} took this collection over while this run of cycle ${formatCycle(this.cycle)} was writing it; `
      + 'this run stopped and writes nothing more to it');
  }
}

/** This GEO's collections whose run of a cycle up to `cycle` started and never finished. */
export async function listRunning(db: Db, geo: string, cycle: Date): Promise<ProgressDoc[]> {
  return db.collection<ProgressDoc>(progressCollection).find({ geo, state: 'running', cycle: { $lte: cycle } }).toArray();
}

/**
 * Marks a run that can no longer finish and takes its token away (a worker of it still alive stops at its
 * next write); writes nothing when another run changed the record meanwhile.
 */
export async function abandonCycle(db: Db, record: ProgressDoc): Promise<number> {
  const result = await db.collection<ProgressDoc>(progressCollection).updateOne(
    { _id: record._id, cycle: record.cycle, state: 'running', token: record.token ?? { $exists: false } },
    { $set: { state: 'abandoned', finishedAt: new Date() }, $unset: { token: '' } },
  );
  return result.matchedCount;
}

/** Creates the indexes `collection` lacks; returns how many it created. */
export async function ensureIndexes(collection: Collection, wanted: IndexSpecification[]): Promise<number> {
  let existing: string[] = [];
  try {
    existing = (await collection.listIndexes().toArray()).map((index) => JSON.stringify(index.key));
  } catch (error) {
    if ((error as { code?: unknown }).code !== 26) throw error; // NamespaceNotFound: no collection, no indexes yet
  }
  const missing = wanted.filter((key) => !existing.includes(JSON.stringify(key)));
  if (missing.length > 0) await collection.createIndexes(missing.map((key) => ({ key: key as Record<string, 1> })));
  return missing.length;
}

// The first of each is the collection's shard key on a sharded cluster (README, "Sharding the
// warehouse"); sh.shardCollection needs an index that starts with it.
export const stateIndexes: IndexSpecification[] = [{ geo: 1, _id: 1 }, { geo: 1, '_meta.cycle': 1 }];
// The change log's second serves the feed: what is not fed yet (`fedIn: null`), per GEO and collection, in
// `_id` order; the fourth a document's history (lookup.ts), newest first, without scanning its GEO's whole log.
export const changeIndexes: IndexSpecification[] = [
  { geo: 1, collection: 1, cycle: 1, _id: 1 },
  { fedIn: 1, geo: 1, collection: 1, _id: 1 },
  { cycle: 1, geo: 1, collection: 1 },
  { geo: 1, collection: 1, docId: 1, cycle: 1 },
];

/**
 * The GEOs, of `geos`, whose warehouse content is already of a later cycle than `cycle` (applied or being
 * applied, in any collection): a feed of `cycle` read now would carry that later content for them.
 */
export async function geosAheadOf(db: Db, geos: string[], cycle: Date): Promise<Array<{ geo: string; cycle: Date }>> {
  if (geos.length === 0) return [];
  const ahead = new Map<string, Date>();
  const records = db.collection<ProgressDoc>(progressCollection).find({ geo: { $in: geos }, cycle: { $gt: cycle }, state: { $in: ['running', 'done'] } }, { projection: { geo: 1, cycle: 1 } });
  for await (const record of records) if (!ahead.has(record.geo) || ahead.get(record.geo)!.getTime() > record.cycle.getTime()) ahead.set(record.geo, record.cycle);
  return [...ahead].sort(([a], [b]) => (a < b ? -1 : 1)).map(([geo, at]) => ({ geo, cycle: at }));
}
