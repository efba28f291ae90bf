// Ganymede's own collections in the warehouse: `_ganymede_etl` records, per GEO and collection, the newest
// cycle applied (claimed before the first write, so a late older cycle never starts writing over it),
// and each collection's indexes are created when missing (listed first, so a steady run writes nothing).
import type { Collection, Db, IndexSpecification } from 'mongodb';

export const progressCollection = '_ganymede_etl';
export const changesCollection = '_ganymede_changes';

export interface ProgressDoc {
  _id: string;
  geo: string;
  collection: string;
  /** The newest cycle applied or being applied. */
  cycle: Date;
  state: 'running' | 'done';
  startedAt: Date;
  finishedAt?: Date;
}

export type Claim =
  | { outcome: 'newer'; cycle: Date }
  | { outcome: 'claimed'; writes: number; unfinished?: Date };

const maxClaimAttempts = 5;

/**
 * Takes (geo, collection) for `cycle` unless a newer cycle has it. A compare-and-set on the recorded cycle,
 * so two runs racing see one winner. Re-running the recorded cycle writes nothing.
 */
export async function claimCycle(db: Db, geo: string, collection: string, cycle: Date): Promise<Claim> {
  const progress = db.collection<ProgressDoc>(progressCollection);
  const _id = `${geo}:${collection}`;
  for (let attempt = 1; attempt <= maxClaimAttempts; attempt++) {
    const current = await progress.findOne({ _id });
    if (current && current.cycle.getTime() > cycle.getTime()) return { outcome: 'newer', cycle: current.cycle };
    if (current && current.cycle.getTime() === cycle.getTime()) return { outcome: 'claimed', writes: 0 };
    const set = { geo, collection, cycle, state: 'running' as const, startedAt: new Date() };
    try {
      const result = await progress.updateOne(
        current ? { _id, cycle: current.cycle } : { _id, cycle: { $exists: false } },
        { $set: set, $unset: { finishedAt: '' } },
        { upsert: !current },
      );
      if (result.matchedCount + result.upsertedCount === 1) {
        return { outcome: 'claimed', writes: 1, unfinished: current?.state === 'running' ? current.cycle : undefined };
      }
    } catch (error) {
      if ((error as { code?: unknown }).code !== 11000) throw error; // another run inserted it first
    }
  }
  throw new Error(`could not claim ${_id} for the cycle in ${maxClaimAttempts} attempts: another run keeps changing it`);
}

/** Marks the cycle applied; writes nothing when it already was. */
export async function finishCycle(db: Db, geo: string, collection: string, cycle: Date): Promise<number> {
  const result = await db.collection<ProgressDoc>(progressCollection).updateOne(
    { _id: `${geo}:${collection}`, cycle, state: 'running' },
    { $set: { state: 'done', finishedAt: new Date() } },
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

export const stateIndexes: IndexSpecification[] = [{ geo: 1, '_meta.cycle': 1 }];
export const changeIndexes: IndexSpecification[] = [{ cycle: 1, geo: 1, collection: 1 }];
