// The reads behind the web console's grid (GEOs down, UTC hours across): every transaction and every cycle
// of a window of hours, and the GEO hours whose schema changed, in one statement, so that 200 GEOs × 48 hours stay one round trip; the GEOs with the
// hour each is expected from come from src/state/expectations.ts. With `changedSince` only what changed
// since then: what the page's poll asks for every few seconds.
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';
import type { TxnState } from './transactions.js';
import type { CycleState } from './cycles.js';
import { hourMs } from '../cycle.js';

export interface GridTxn {
  id: number;
  geoId: number;
  cycleStart: Date;
  state: TxnState;
  step: string | null;
  /** The first 300 characters of the error, enough for a cell's title. */
  error: string | null;
  /** From opening to delivery, or to now while the agent is at it. */
  agentMs: number;
  /** From delivery to finished, or to now while the centre is at it; null before delivery. */
  centreMs: number | null;
  finished: boolean;
  /** Changes in the GEO's schema at this hour since its hour before, as load recorded them (0 when none or not loaded yet). */
  schemaChanges: number;
}

export interface GridCycle {
  cycleStart: Date;
  state: CycleState;
  error: string | null;
  sentAt: Date | null;
}

export interface GridHours {
  txns: GridTxn[];
  cycles: GridCycle[];
  /** The database's clock when it answered: where the next poll starts from. */
  now: Date;
}

const errorChars = 300;

// Times come back as numbers (hours and milliseconds since the epoch, durations computed by the server on its
// own clock): ten thousand rows parse several times faster without a Date per column.
const epochMs = (column: string) => `TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', ${column}) DIV 1000`;
const epochHour = `TIMESTAMPDIFF(HOUR, '1970-01-01 00:00:00', cycle_start)`;
const now = 'UTC_TIMESTAMP(3)';

/** Transactions and cycles of the hours from `from` up to (not including) `to`. */
export async function listGridHours(db: Db, from: Date, to: Date, changedSince?: Date): Promise<GridHours> {
  const changed = changedSince ? ' AND updated_at >= ?' : '';
  const window = changedSince ? [from, to, changedSince] : [from, to];
  // Schema changes are a part of their own, not a join: the index on (cycle_start, change_count) finds the
  // few hours with changes, where a join looked up every transaction's row (+15 ms for 200 GEOs × 48 h).
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT 't' AS kind, id, geo_id, ${epochHour} AS hour, state, step, LEFT(error, ${errorChars}) AS error,
            TIMESTAMPDIFF(MICROSECOND, opened_at, COALESCE(delivered_at, ${now})) DIV 1000 AS agent_ms,
            TIMESTAMPDIFF(MICROSECOND, delivered_at, COALESCE(finished_at, ${now})) DIV 1000 AS centre_ms,
            finished_at IS NOT NULL AS finished
       FROM transactions WHERE cycle_start >= ? AND cycle_start < ?${changed}
     UNION ALL
     SELECT 'c', NULL, NULL, ${epochHour}, state, NULL, LEFT(error, ${errorChars}), ${epochMs('sent_at')}, NULL, NULL
       FROM cycles WHERE cycle_start >= ? AND cycle_start < ?${changed}
     UNION ALL
     SELECT 's', NULL, geo_id, ${epochHour}, NULL, NULL, NULL, change_count, NULL, NULL
       FROM geo_schemas WHERE cycle_start >= ? AND cycle_start < ? AND change_count > 0
     UNION ALL
     SELECT 'n', NULL, NULL, NULL, NULL, NULL, NULL, ${epochMs(now)}, NULL, NULL`,
    [...window, ...window, from, to],
  );
  const hours: GridHours = { txns: [], cycles: [], now: new Date() };
  const schemaChanges = new Map<string, number>();
  for (const row of rows) {
    if (row.kind === 't') {
      hours.txns.push({
        id: Number(row.id),
        geoId: Number(row.geo_id),
        cycleStart: new Date(Number(row.hour) * hourMs),
        state: row.state as TxnState,
        step: row.step as string | null,
        error: row.error as string | null,
        agentMs: Number(row.agent_ms),
        centreMs: row.centre_ms === null ? null : Number(row.centre_ms),
        finished: Number(row.finished) === 1,
        schemaChanges: 0,
      });
    } else if (row.kind === 'c') {
      hours.cycles.push({ cycleStart: new Date(Number(row.hour) * hourMs), state: row.state as CycleState, error: row.error as string | null, sentAt: row.agent_ms === null ? null : new Date(Number(row.agent_ms)) });
    } else if (row.kind === 's') {
      schemaChanges.set(`${row.geo_id}@${row.hour}`, Number(row.agent_ms));
    } else {
      hours.now = new Date(Number(row.agent_ms));
    }
  }
  if (schemaChanges.size > 0) {
    for (const txn of hours.txns) txn.schemaChanges = schemaChanges.get(`${txn.geoId}@${txn.cycleStart.getTime() / hourMs}`) ?? 0;
  }
  return hours;
}
