// What `purge` deletes from the Ganymede database, and after how long: status events (and the GEO hours'
// recorded schemas with them), metric points and the attempts of finished steps, each in small batches (one
// short statement each) so no table is locked for long.
import type mysql from 'mysql2/promise';
import type { Config } from '../config/schema.js';
import type { Db } from './db.js';

export interface PurgedRows {
  what: string;
  olderThanDays: number;
  rows: number;
}

interface RetentionRule {
  what: string;
  table: string;
  /** Rows past the cutoff, the one placeholder. */
  where: string;
  days: number;
}

function retentionRules(retention: Config['retention']): RetentionRule[] {
  return [
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
    // The GEO hours' schemas go with the status events that announced their changes; a schema no hour
    // names any more goes once it was last used before then (storeVersion refreshes created_at on each use).
    { what: 'schemas of GEO hours', table: 'geo_schemas', where: 'cycle_start < ?', days: retention.events_days },
    { what: 'schema versions no hour names', table: 'schema_versions', where: 'created_at < ? AND sha256 NOT IN (SELECT schema_sha256 FROM geo_schemas)', days: retention.events_days },
  ];
}

/** Deletes (or, dryRun, counts) every row past its retention as of `now`, table by table in the order above. */
export async function purgeExpiredRows(db: Db, retention: Config['retention'], now: Date, dryRun: boolean): Promise<PurgedRows[]> {
  const purged: PurgedRows[] = [];
  for (const rule of retentionRules(retention)) {
    const cutoff = new Date(now.getTime() - rule.days * 86_400_000);
    let rows = 0;
    if (dryRun) {
      const [count] = await db.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${rule.table} WHERE ${rule.where}`, [cutoff]);
      rows = Number(count[0]?.n ?? 0);
    } else {
      for (;;) {
        const [result] = await db.query<mysql.ResultSetHeader>(`DELETE FROM ${rule.table} WHERE ${rule.where} LIMIT ${retention.batch_rows}`, [cutoff]);
        rows += result.affectedRows;
        if (result.affectedRows < retention.batch_rows) break;
      }
    }
    purged.push({ what: rule.what, olderThanDays: rule.days, rows });
  }
  return purged;
}
