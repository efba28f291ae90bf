// `archive prune`: retention of the archive store (every object for archive.hourly_days, then the first
// of each day for archive.daily_days, then nothing) and of the local inbox (agent files archived more
// than archive.local_days ago). A local file is only ever deleted once its archived copy is recorded,
// so nothing not yet archived elsewhere is lost.
import { lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedConfig } from '../../config/load.js';
import { centreDirs } from '../../config/load.js';
import { createLogger } from '../../log.js';
import { listArchiveRecords, markArchivePruned, type ArchiveRecord } from '../../state/archive.js';
import { openArchiveStore } from '../../archive/store.js';
import { InboxRefusal, openGeoInboxDir } from '../../worker/inbox-file.js';
import { withStateDb } from '../context.js';

export interface PruneResult {
  dryRun: boolean;
  storeObjects: string[];
  localFiles: string[];
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
    const result: PruneResult = { dryRun, storeObjects: [], localFiles: [] };
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
    for (const record of archived.filter((item) => item.kind === 'agent-dump' && item.archivedAt && now.getTime() - item.archivedAt.getTime() > archive.local_days * dayMs)) {
      const name = record.objectKey.split('/').pop()!;
      const file = join(centreDirs(loaded.config).inbox, record.geo ?? '', name);
      // Through the GEO's directory opened without following links: a GEO that swapped its directory
      // for a link must not get a file of that name removed elsewhere.
      const dir = await openGeoInboxDir(centreDirs(loaded.config).inbox, record.geo ?? '').catch((error: unknown) => {
        if (!(error instanceof InboxRefusal)) throw error;
        log.warn(`${file} not removed: ${error.message}`);
        return undefined;
      });
      if (!dir) continue;
      try {
        if (!(await lstat(dir.at(name)).catch(() => undefined))?.isFile()) continue;
        result.localFiles.push(file);
        if (!dryRun) await rm(dir.at(name), { force: true });
      } finally {
        await dir.close();
      }
    }
    return result;
  });
}

export function describeArchivePrune(result: PruneResult): string {
  const verb = result.dryRun ? 'would remove' : 'removed';
  return [
    ...result.storeObjects.map((key) => `${verb} ${key} from the archive store`),
    ...result.localFiles.map((file) => `${verb} ${file} (archived)`),
    `${verb} ${result.storeObjects.length} archived objects and ${result.localFiles.length} local files`,
  ].join('\n');
}
