// `ganymede purge`: deletes status events (and the GEO hours' recorded schemas with them), metric points and
// the attempts of finished transactions older than their retention, in small batches (state/retention.ts);
// and the warehouse's change-log entries past retention.change_log_days that no feed needs any more.
import type { LoadedConfig } from '../config/load.js';
import { purgeExpiredRows, type PurgedRows } from '../state/retention.js';
import { withStateDb } from './context.js';

export interface PurgeResult {
  dryRun: boolean;
  deleted: PurgedRows[];
}

export async function runPurge({ loaded, dryRun = false, now = new Date() }: { loaded: LoadedConfig; dryRun?: boolean; now?: Date }): Promise<PurgeResult> {
  return withStateDb(loaded, async (db) => {
    const deleted = await purgeExpiredRows(db, loaded.config.retention, now, dryRun);
    if (loaded.config.mongodb.url) deleted.push(await purgeWarehouse(loaded, dryRun, now));
    return { dryRun, deleted };
  });
}

/** Fed change-log entries (every entry, when the feed is full) past retention.change_log_days. */
async function purgeWarehouse(loaded: LoadedConfig, dryRun: boolean, now: Date): Promise<PurgedRows> {
  const { retention, feed } = loaded.config;
  const [{ openWarehouse }, { purgeChangeLog }] = await Promise.all([import('../warehouse/client.js'), import('../warehouse/purge.js')]);
  const warehouse = await openWarehouse(loaded);
  try {
    const before = new Date(now.getTime() - retention.change_log_days * 86_400_000);
    const purged = await purgeChangeLog(warehouse.db, { before, feedMode: feed.mode, batchSize: Math.min(retention.batch_rows, 10_000), dryRun });
    return { what: `warehouse change-log entries${feed.mode === 'changes' ? ' (fed)' : ''}`, olderThanDays: retention.change_log_days, rows: purged.entries };
  } finally {
    await warehouse.close();
  }
}

export function describePurge(result: PurgeResult): string {
  const verb = result.dryRun ? 'would delete' : 'deleted';
  return result.deleted.map((item) => `${verb} ${item.rows} ${item.what} older than ${item.olderThanDays} days`).join('\n');
}
