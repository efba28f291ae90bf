// A cycle whose etl never finished for a collection can leave change-log entries it logged but never
// applied (the log is written before the state). A retry of that cycle applies them; once the cycle can
// no longer finish (a newer cycle claims the collection, or a delivery of the GEO no longer has it: a
// mapping skips the table, the table is gone) they are removed, so the feed never reports a change the
// warehouse does not hold. Entries already fed stay: they are what was sent.
import type { Db } from 'mongodb';
import { formatCycle } from '../cycle.js';
import { abandonCycle, changesCollection, listRunning, type ProgressDoc } from './progress.js';
import type { ChangeDocument, StateDocument } from './write.js';
import { inBatches } from './batches.js';

/** Removes the unfed entries of (geo, collection, cycle) whose change the state does not hold; returns how many. */
export async function dropUnappliedChanges(db: Db, geo: string, collection: string, cycle: Date, batchSize: number): Promise<number> {
  const changes = db.collection<ChangeDocument>(changesCollection);
  const state = db.collection<StateDocument>(collection);
  const cursor = changes.find({ cycle, geo, collection, fedIn: null }, { projection: { docId: 1, op: 1 }, batchSize });
  let dropped = 0;
  for await (const batch of inBatches(cursor, batchSize)) {
    const cycleById = new Map<string, number>();
    for await (const doc of state.find({ geo, _id: { $in: batch.map((entry) => entry.docId) } }, { projection: { '_meta.cycle': 1 } })) {
      cycleById.set(doc._id, doc._meta.cycle.getTime());
    }
    // Applied: a created or updated document holds this cycle's content (or a newer one's); a removed one is gone.
    const unapplied = batch.filter((entry) => {
      const stored = cycleById.get(entry.docId);
      return entry.op === 'removed' ? stored !== undefined && stored <= cycle.getTime() : stored === undefined || stored < cycle.getTime();
    });
    if (unapplied.length > 0) {
      const result = await changes.deleteMany({ geo, collection, cycle, _id: { $in: unapplied.map((entry) => entry._id) } });
      dropped += result.deletedCount;
    }
  }
  return dropped;
}

/**
 * This GEO's runs that never finished for collections this delivery does not write: their unapplied
 * entries go and their records become `abandoned`, so nothing stays `running` for good. Returns the write operations.
 */
export async function abandonUnplanned(db: Db, geo: string, cycle: Date, planned: Set<string>, batchSize: number, log: (line: string) => void): Promise<number> {
  let writes = 0;
  const running: ProgressDoc[] = await listRunning(db, geo, cycle);
  for (const record of running.filter((record) => !planned.has(record.collection))) {
    const dropped = await dropUnappliedChanges(db, geo, record.collection, record.cycle, batchSize);
    writes += dropped + (await abandonCycle(db, record));
    log(`${record.collection}: cycle ${formatCycle(record.cycle)} never finished for this GEO and this delivery does not write the collection `
      + `(a mapping skips it, or the table is gone): ${dropped} change-log entr${dropped === 1 ? 'y' : 'ies'} it never applied removed, the run marked abandoned`);
  }
  return writes;
}
