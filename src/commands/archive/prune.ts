// `archive prune`: retention of the archive store (every object for archive.hourly_days, then the first
// of each day for archive.daily_days, then nothing) and of the inbox (agent files archived more than
// archive.local_days ago: delivered ones, superseded ones, and refused ones from quarantine), in a local
// directory or the shared inbox store. A file is only ever deleted once its archived copy is recorded, so
// nothing not yet archived elsewhere is lost.
import type { LoadedConfig } from '../../config/load.js';
import { createLogger } from '../../log.js';
import { listArchiveRecords, markArchivePruned, type ArchiveRecord } from '../../state/archive.js';
import { markRetiredDeliveryRemoved, retiredDeliveriesToRemove, retiredSourceKeys, type RetiredReason } from '../../state/retired-deliveries.js';
import { openArchiveStore } from '../../archive/store.js';
import { describeInboxFile, isLocalInbox, removeArchivedFile } from '../../inbox/delivery.js';
import { openInboxStore } from '../../inbox/store.js';
import { InboxRefusal } from '../../worker/inbox-file.js';
import { withStateDb } from '../context.js';

export interface PruneResult {
  dryRun: boolean;
  storeObjects: string[];
  /** Delivered files removed from the inbox: local paths, or the objects of a store inbox. */
  localFiles: string[];
  /** Superseded files removed from the inbox and refused ones from quarantine. */
  retiredFiles: Array<{ file: string; reason: RetiredReason }>;
}

const dayMs = 86_400_000;

/** Objects past retention: older than hourly_days, except each day's first until daily_days. */
export function pastRetention(records: ArchiveRecord[], now: Date, hourlyDays: number, dailyDays: number): ArchiveRecord[] {
  const firstOfDay = new Map<string, ArchiveRecord>();
  for (const record of [...records].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())) {
    const day = `${record.kind}:${record.geo ?? ''}:${record.createdAt.toISOString().slice(0, 10)}`;
    if (!firstOfDay.has(day)) firstOfDay.set(day, record);
  }
  const kept = new Set(firstOfDay.values());
  return records.filter((record) => {
    const age = now.getTime() - record.createdAt.getTime();
    if (age <= hourlyDays * dayMs) return false;
    return !(kept.has(record) && age <= dailyDays * dayMs);
  });
}

export async function runArchivePrune({ loaded, dryRun = false, now = new Date() }: { loaded: LoadedConfig; dryRun?: boolean; now?: Date }): Promise<PruneResult> {
  const { archive } = loaded.config;
  const log = createLogger('prune');
  return withStateDb(loaded, async (db) => {
    const archived = (await listArchiveRecords(db, { limit: 1_000_000 })).filter((record) => record.state === 'archived');
    const result: PruneResult = { dryRun, storeObjects: [], localFiles: [], retiredFiles: [] };
    const expired = pastRetention(archived, now, archive.hourly_days, archive.daily_days);
    if (expired.length > 0) {
      const store = await openArchiveStore(loaded, log);
      try {
        for (const record of expired) {
          result.storeObjects.push(record.objectKey);
          if (dryRun) continue;
          await store.remove(record.objectKey);
          await markArchivePruned(db, record.id);
        }
      } finally {
        await store.close();
      }
    }
    const archivedBefore = new Date(now.getTime() - archive.local_days * dayMs);
    // A delivery that was superseded or quarantined since it was archived goes by its retired record below.
    const retired = await retiredSourceKeys(db);
    const delivered = archived.filter((item) => item.kind === 'agent-dump' && item.archivedAt && item.archivedAt < archivedBefore && !retired.has(item.sourceKey));
    const leftovers = await retiredDeliveriesToRemove(db, archivedBefore);
    if (delivered.length === 0 && leftovers.length === 0) return result;
    // The inbox as every central host reaches it: a local directory (file://), or the shared store.
    const inbox = isLocalInbox(loaded) ? undefined : await openInboxStore(loaded, log);
    try {
      const remove = async (place: 'inbox' | 'quarantine', location: string): Promise<string | undefined> => {
        const file = describeInboxFile(loaded, inbox, place, location);
        try {
          return (await removeArchivedFile(loaded, inbox, place, location, dryRun)) ? file : undefined;
        } catch (error) {
          if (!(error instanceof InboxRefusal)) throw error;
          log.warn(`${file} not removed: ${error.message}`);
          return undefined;
        }
      };
      for (const record of delivered) {
        const removed = await remove('inbox', `${record.geo ?? ''}/${record.objectKey.split('/').pop()!}`);
        if (removed) result.localFiles.push(removed);
      }
      for (const file of leftovers) {
        const removed = await remove(file.reason === 'superseded' ? 'inbox' : 'quarantine', file.location);
        if (removed) result.retiredFiles.push({ file: removed, reason: file.reason });
        // Gone already (or not a regular file: never archived as one) is as removed: not looked for again.
        if (!dryRun) await markRetiredDeliveryRemoved(db, file.txnId, file.delivery);
      }
    } finally {
      await inbox?.close();
    }
    return result;
  });
}

export function describeArchivePrune(result: PruneResult): string {
  const verb = result.dryRun ? 'would remove' : 'removed';
  const files = result.localFiles.length + result.retiredFiles.length;
  return [
    ...result.storeObjects.map((key) => `${verb} ${key} from the archive store`),
    ...result.localFiles.map((file) => `${verb} ${file} (archived)`),
    ...result.retiredFiles.map(({ file, reason }) => `${verb} ${file} (${reason}, archived)`),
    `${verb} ${result.storeObjects.length} archived objects and ${files} local files`,
  ].join('\n');
}
