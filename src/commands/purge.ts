// `ganymede purge`: deletes status events, metric points and the attempts of finished transactions older
// than their retention, in small batches (one short statement each) so no table is locked for long.
import type mysql from 'mysql2/promise';
import type { LoadedConfig } from '../config/load.js';
import { withStateDb } from './context.js';

export interface PurgeResult {
  dryRun: boolean;
  deleted: Array<{ what: string; olderThanDays: number; rows: number }>;
}

export async function runPurge({ loaded, dryRun = false, now = new Date() }: { loaded: LoadedConfig; dryRun?: boolean; now?: Date }): Promise<PurgeResult> {
  const { retention } = loaded.config;
  const kinds = [
    { what: 'status events', table: 'events', where: 'received_at < ?', days: retention.events_days },
    { what: 'metric points', table: 'metric_points', where: 'at < ?', days: retention.metrics_days },
    { what: 'metric minutes', table: 'metric_minutes', where: 'minute < ?', days: retention.metrics_days },
    {
      what: 'attempts of finished steps',
      table: 'step_attempts',
      where: "finished_at < ? AND step_id IN (SELECT id FROM (SELECT id FROM steps WHERE state IN ('done', 'cancelled')) finished)",
      days: retention.attempts_days,
    },
    {
      what: 'log tails of attempts',
      table: 'attempt_logs',
      where: "recorded_at < ? AND step_id IN (SELECT id FROM (SELECT id FROM steps WHERE state IN ('done', 'cancelled')) finished)",
      days: retention.attempts_days,
    },
  ];
  return withStateDb(loaded, async (db) => {
    const deleted: PurgeResult['deleted'] = [];
    for (const kind of kinds) {
      const cutoff = new Date(now.getTime() - kind.days * 86_400_000);
      let rows = 0;
      if (dryRun) {
        const [count] = await db.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${kind.table} WHERE ${kind.where}`, [cutoff]);
        rows = Number(count[0]?.n ?? 0);
      } else {
        for (;;) {
          const [result] = await db.query<mysql.ResultSetHeader>(`DELETE FROM ${kind.table} WHERE ${kind.where} LIMIT ${retention.batch_rows}`, [cutoff]);
          rows += result.affectedRows;
          if (result.affectedRows < retention.batch_rows) break;
        }
      }
      deleted.push({ what: kind.what, olderThanDays: kind.days, rows });
    }
    return { dryRun, deleted };
  });
}

export function describePurge(result: PurgeResult): string {
  const verb = result.dryRun ? 'would delete' : 'deleted';
  return result.deleted.map((item) => `${verb} ${item.rows} ${item.what} older than ${item.olderThanDays} days`).join('\n');
}
