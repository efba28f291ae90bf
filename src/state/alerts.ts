// Alert states for the webhook: the tick compares what is failing now with what was failing before, so
// each failure is announced once when it starts and once when it recovers. Besides the failures read here,
// the caller passes problems found elsewhere (the dead-man switch's silent GEOs, silent hours, dead hosts).
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';
import { formatCycle } from '../cycle.js';
import { insertedRow } from './upsert.js';

export interface PendingAlert {
  key: string;
  firing: boolean;
  detail: string;
  changedAt: Date;
}

/** What is failing now: transactions failed or refused, and cycles whose feed or send failed. */
async function currentFailures(db: Db): Promise<Map<string, string>> {
  const [txns] = await db.query<mysql.RowDataPacket[]>(
    `SELECT t.id, g.name AS geo, t.cycle_start, t.state, t.step, t.error FROM transactions t JOIN geos g ON g.id = t.geo_id WHERE t.state IN ('failed', 'refused')`,
  );
  const [cycles] = await db.query<mysql.RowDataPacket[]>("SELECT cycle_start, error FROM cycles WHERE state = 'failed'");
  const failures = new Map<string, string>();
  for (const row of txns) {
    failures.set(`txn:${row.id}`, `transaction ${row.id} of ${row.geo} ${formatCycle(row.cycle_start)} ${row.state}${row.step ? ` at ${row.step}` : ''}: ${String(row.error ?? '').slice(0, 800)}`);
  }
  for (const row of cycles) failures.set(`cycle:${formatCycle(row.cycle_start)}`, `cycle ${formatCycle(row.cycle_start)} failed: ${String(row.error ?? '').slice(0, 800)}`);
  return failures;
}

/**
 * Records what started or stopped failing since the last call, `also` (key → detail) counted as failing
 * too; returns every alert not yet notified.
 */
export async function updateAlerts(db: Db, also: ReadonlyMap<string, string> = new Map()): Promise<PendingAlert[]> {
  const failures = await currentFailures(db);
  for (const [key, detail] of also) failures.set(key, detail.slice(0, 1000));
  const [known] = await db.query<mysql.RowDataPacket[]>('SELECT alert_key, firing FROM alert_states');
  const firingBefore = new Set(known.filter((row) => Number(row.firing) === 1).map((row) => String(row.alert_key)));
  for (const [key, detail] of failures) {
    if (firingBefore.has(key)) continue;
    const inserted = await insertedRow(db);
    await db.query(
      `INSERT INTO alert_states (alert_key, firing, detail, changed_at, notified, attempts) VALUES (?, 1, ?, UTC_TIMESTAMP(3), 0, 0)${inserted.alias}
       ON DUPLICATE KEY UPDATE firing = 1, detail = ${inserted.value('detail')}, changed_at = ${inserted.value('changed_at')}, notified = 0, attempts = 0`,
      [key, detail],
    );
  }
  for (const key of firingBefore) {
    if (failures.has(key)) continue;
    await db.query(`UPDATE alert_states SET firing = 0, changed_at = UTC_TIMESTAMP(3), notified = 0, attempts = 0 WHERE alert_key = ?`, [key]);
  }
  const [pending] = await db.query<mysql.RowDataPacket[]>('SELECT * FROM alert_states WHERE notified = 0 ORDER BY changed_at, alert_key');
  return pending.map((row) => ({ key: row.alert_key, firing: Number(row.firing) === 1, detail: row.detail, changedAt: row.changed_at }));
}

export async function markAlertNotified(db: Db, key: string, firing: boolean, delivered: boolean): Promise<void> {
  await db.query(`UPDATE alert_states SET ${delivered ? 'notified = 1,' : ''} attempts = attempts + 1 WHERE alert_key = ? AND firing = ?`, [key, firing ? 1 : 0]);
}
