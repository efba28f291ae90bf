// What the centre expects of each GEO: every enabled GEO delivers every hour, from the first hour after it was
// added (or enabled again after a disable). These reads feed the dead-man switch of `check` and the alert
// webhook (src/alerts/dead-man.ts); they are bounded by a window so a tick can afford them every minute.
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';
import type { TxnState } from './transactions.js';

export interface ExpectedGeo {
  id: number;
  name: string;
  /** Always true unless asked for disabled GEOs too (the console's grid shows them, owing nothing). */
  enabled: boolean;
  /** Since when the GEO is expected: when it was added, or enabled again after its last disable. */
  expectedSince: Date;
}

export interface HourTransaction {
  geoId: number;
  cycleStart: Date;
  state: TxnState;
}

/**
 * The enabled GEOs and when each became expected. A re-enable is found in the audit trail (`geo.enable`
 * after the last `geo.disable`, by the CLI or the API alike): the hours a GEO spent disabled are not owed.
 */
export async function listExpectedGeos(db: Db, options: { includeDisabled?: boolean } = {}): Promise<ExpectedGeo[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT g.id, g.name, g.enabled, g.created_at,
       (SELECT MIN(e.at) FROM audit_log e WHERE e.target = CONCAT('geo:', g.name) AND e.action = 'geo.enable'
          AND e.at > (SELECT MAX(d.at) FROM audit_log d WHERE d.target = CONCAT('geo:', g.name) AND d.action = 'geo.disable')) AS enabled_again_at
     FROM geos g ${options.includeDisabled ? '' : 'WHERE g.enabled = 1 '}ORDER BY g.name`,
  );
  return rows.map((row) => {
    const created = row.created_at as Date;
    const enabledAgain = row.enabled_again_at as Date | null;
    return { id: Number(row.id), name: String(row.name), enabled: Boolean(row.enabled), expectedSince: enabledAgain && enabledAgain > created ? enabledAgain : created };
  });
}

/** Every transaction of an hour at or after `from`, of any GEO, in any state: newest hours first. */
export async function listTransactionsSince(db: Db, from: Date): Promise<HourTransaction[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT geo_id, cycle_start, state FROM transactions WHERE cycle_start >= ? ORDER BY cycle_start DESC, geo_id',
    [from],
  );
  return rows.map((row) => ({ geoId: Number(row.geo_id), cycleStart: row.cycle_start as Date, state: row.state as TxnState }));
}
