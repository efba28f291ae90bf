// The change log past its retention: entries older than `days` that no feed still needs go, per GEO (the
// shard key's first field in every filter) and a batch at a time, so memory and each delete stay small.
// An entry is still needed while it is not fed, unless the feed is `full`, which never reads the log.
// Lookups (`ganymede lookup --history`) see only what is kept.
import type { Db, Document } from 'mongodb';
import { inBatches } from './batches.js';
import { changesCollection, progressCollection } from './progress.js';

export interface ChangeLogPurge {
  /** Entries deleted, or that would be with dryRun. */
  entries: number;
}

export async function purgeChangeLog(db: Db, options: { before: Date; feedMode: 'full' | 'changes'; batchSize: number; dryRun?: boolean }): Promise<ChangeLogPurge> {
  const changes = db.collection<{ _id: string }>(changesCollection);
  // Every GEO that ever wrote the warehouse has a progress record (an unsharded collection).
  const geos = ((await db.collection(progressCollection).distinct('geo')) as string[]).sort();
  let entries = 0;
  for (const geo of geos) {
    const filter: Document = { geo, cycle: { $lt: options.before }, ...(options.feedMode === 'changes' ? { fedIn: { $ne: null } } : {}) };
    if (options.dryRun) {
      entries += await changes.countDocuments(filter);
      continue;
    }
    for await (const batch of inBatches(changes.find(filter, { projection: { _id: 1 }, batchSize: options.batchSize }), options.batchSize)) {
      const result = await changes.deleteMany({ geo, _id: { $in: batch.map((entry) => entry._id) } });
      entries += result.deletedCount;
    }
  }
  return { entries };
}
