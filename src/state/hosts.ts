// The central hosts and their heartbeats: each host (its site.name) upserts its row from every tick and
// every lease renewal of its workers. What runs on a host is not stored twice: it is read from the running
// steps, which name their host (steps.lease_host). Ages are measured on the database's clock, the one clock
// all hosts share, so a host whose own clock is off is not called dead for it.
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';
import type { Logger } from '../log.js';
import { messageOf } from '../errors.js';
import { formatCycle } from '../cycle.js';

/** The default of centre.host_dead_after_ms: three missed ticks. */
export const defaultHostDeadAfterMs = 180_000;

export type HeartbeatSource = 'tick' | 'worker';

export interface Heartbeat {
  host: string;
  version: string;
  by: HeartbeatSource;
}

/** One upsert: the host's row appears on its first heartbeat and is kept current by the next ones. */
export async function recordHeartbeat(db: Db, beat: Heartbeat): Promise<void> {
  await db.query(
    `INSERT INTO hosts (name, first_seen_at, last_seen_at, last_seen_by, version) VALUES (?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), ?, ?)
     ON DUPLICATE KEY UPDATE last_seen_at = UTC_TIMESTAMP(3), last_seen_by = ?, version = ?`,
    [beat.host, beat.by, beat.version, beat.by, beat.version],
  );
}

/**
 * A heartbeat that never fails its caller: membership is for the operator, and a tick or a worker must not
 * stop for it. The first failure is a warning, repeats (a worker beats every renewal) only debug lines.
 */
export function heartbeatOrWarn(db: Db, beat: Heartbeat, log: Logger): () => Promise<void> {
  let warned = false;
  return async () => {
    try {
      await recordHeartbeat(db, beat);
    } catch (error) {
      const message = `could not record the heartbeat of host ${beat.host}: ${messageOf(error)}`;
      if (warned) log.debug(message);
      else log.warn(`${message} (\`ganymede hosts\` may show it dead; the work goes on)`);
      warned = true;
    }
  };
}

export interface RunningStep {
  step: string;
  txnId: number | null;
  cycle: string;
}

export interface HostView {
  name: string;
  alive: boolean;
  firstSeenAt: Date;
  lastSeenAt: Date;
  /** Milliseconds since the last heartbeat, by the database's clock (or the `now` asked for). */
  lastSeenAgoMs: number;
  lastSeenBy: HeartbeatSource;
  version: string;
  running: RunningStep[];
}

/** Every host that has sent a heartbeat, with the steps running there; alive when seen within deadAfterMs. */
export async function listHosts(db: Db, deadAfterMs: number, now?: Date): Promise<HostView[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT name, first_seen_at, last_seen_at, last_seen_by, version,
            TIMESTAMPDIFF(MICROSECOND, last_seen_at, COALESCE(?, UTC_TIMESTAMP(3))) DIV 1000 AS ago_ms
     FROM hosts ORDER BY name`,
    [now ?? null],
  );
  if (rows.length === 0) return [];
  const [steps] = await db.query<mysql.RowDataPacket[]>(
    "SELECT lease_host, name, txn_id, cycle_start FROM steps WHERE state = 'running' AND lease_host IN (?) ORDER BY started_at, id",
    [rows.map((row) => row.name)],
  );
  return rows.map((row) => {
    const agoMs = Number(row.ago_ms);
    return {
      name: row.name,
      alive: agoMs <= deadAfterMs,
      firstSeenAt: row.first_seen_at,
      lastSeenAt: row.last_seen_at,
      lastSeenAgoMs: Math.max(0, agoMs),
      lastSeenBy: row.last_seen_by,
      version: row.version,
      running: steps
        .filter((step) => String(step.lease_host).toLowerCase() === String(row.name).toLowerCase())
        .map((step) => ({ step: step.name, txnId: step.txn_id === null ? null : Number(step.txn_id), cycle: formatCycle(step.cycle_start) })),
    };
  });
}

/** How many hosts are alive and dead, for /metrics. */
export async function countHosts(db: Db, deadAfterMs: number): Promise<{ alive: number; dead: number }> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT COALESCE(SUM(last_seen_at >= UTC_TIMESTAMP(3) - INTERVAL ? MICROSECOND), 0) AS alive, COUNT(*) AS total FROM hosts`,
    [deadAfterMs * 1000],
  );
  const alive = Number(rows[0]?.alive ?? 0);
  return { alive, dead: Number(rows[0]?.total ?? 0) - alive };
}

export type ForgetOutcome = { kind: 'forgotten' } | { kind: 'alive'; lastSeenAgoMs: number } | { kind: 'not-found' };

/** Removes a dead host's row; a live one stays (the condition is in the DELETE, so a heartbeat racing it wins). */
/** With dryRun, the outcome a forget would have now ('forgotten': the host is dead), nothing deleted. */
export async function forgetHost(db: Db, name: string, deadAfterMs: number, options: { dryRun?: boolean } = {}): Promise<ForgetOutcome> {
  const dead = 'name = ? AND last_seen_at < UTC_TIMESTAMP(3) - INTERVAL ? MICROSECOND';
  if (options.dryRun) {
    const [found] = await db.query<mysql.RowDataPacket[]>(`SELECT 1 FROM hosts WHERE ${dead}`, [name, deadAfterMs * 1000]);
    if (found.length > 0) return { kind: 'forgotten' };
  } else {
    const [deleted] = await db.query<mysql.ResultSetHeader>(`DELETE FROM hosts WHERE ${dead}`, [name, deadAfterMs * 1000]);
    if (deleted.affectedRows > 0) return { kind: 'forgotten' };
  }
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT GREATEST(0, TIMESTAMPDIFF(MICROSECOND, last_seen_at, UTC_TIMESTAMP(3)) DIV 1000) AS ago_ms FROM hosts WHERE name = ?',
    [name],
  );
  return rows[0] ? { kind: 'alive', lastSeenAgoMs: Number(rows[0].ago_ms) } : { kind: 'not-found' };
}
