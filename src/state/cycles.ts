// Cycles: one per UTC hour, created when the first GEO opens a transaction for it.
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';
import { formatCycle } from '../cycle.js';

export const cycleStates = ['collecting', 'ready', 'feeding', 'fed', 'sending', 'sent', 'failed'] as const;
export type CycleState = (typeof cycleStates)[number];

export interface Cycle {
  cycle: string;
  cycleStart: Date;
  state: CycleState;
  /** Transactions by state, for every GEO that opened one. */
  transactions: Record<string, number>;
  missingGeos: string[];
  error: string | null;
  readyAt: Date | null;
  fedAt: Date | null;
  sentAt: Date | null;
}

export async function listCycles(db: Db, options: { limit?: number; cycleStart?: Date } = {}): Promise<Cycle[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT c.*, (SELECT GROUP_CONCAT(CONCAT(t.state, ':', t.n)) FROM
        (SELECT state, COUNT(*) AS n, cycle_start FROM transactions GROUP BY cycle_start, state) t WHERE t.cycle_start = c.cycle_start) AS txn_states
     FROM cycles c ${options.cycleStart ? 'WHERE c.cycle_start = ?' : ''} ORDER BY c.cycle_start DESC LIMIT ?`,
    options.cycleStart ? [options.cycleStart, options.limit ?? 48] : [options.limit ?? 48],
  );
  return rows.map((row) => ({
    cycle: formatCycle(row.cycle_start),
    cycleStart: row.cycle_start,
    state: row.state,
    transactions: Object.fromEntries(
      String(row.txn_states ?? '')
        .split(',')
        .filter(Boolean)
        .map((pair) => {
          const [state, count] = pair.split(':');
          return [state!, Number(count)];
        }),
    ),
    missingGeos: row.missing_geos ? String(row.missing_geos).split(',') : [],
    error: row.error,
    readyAt: row.ready_at,
    fedAt: row.fed_at,
    sentAt: row.sent_at,
  }));
}

export async function getCycle(db: Db, cycleStart: Date): Promise<Cycle | undefined> {
  return (await listCycles(db, { cycleStart, limit: 1 }))[0];
}
