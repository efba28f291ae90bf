// The audit trail: who changed what, from where. One row per action that succeeded; rows are never
// updated. The actor is the admin token, a GEO's token, a console viewer or an operating-system user at the CLI.
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';

export type AuditActor = 'admin-token' | `geo:${string}` | `viewer:${string}` | `os:${string}`;

export interface AuditRecord {
  actor: AuditActor;
  /** What was done, e.g. `geo.add`, `geo.rotate-token`. */
  action: string;
  /** What it was done to, e.g. `geo:emea`. */
  target: string;
  /** More about it; an object is stored as JSON text. */
  detail?: string | Record<string, unknown> | undefined;
  /** The client's IP address, for actions that came over the network. */
  sourceAddress?: string | undefined;
}

export interface AuditEntry {
  id: number;
  at: Date;
  actor: string;
  action: string;
  target: string;
  detail: string | null;
  sourceAddress: string | null;
}

export interface AuditFilter {
  actor?: string | undefined;
  action?: string | undefined;
  target?: string | undefined;
  /** At or after. */
  from?: Date | undefined;
  /** Before. */
  to?: Date | undefined;
  /** Newest first; default 100, at most 10 000. */
  limit?: number | undefined;
}

const actorPattern = /^(admin-token|(geo|viewer):[a-z0-9][a-z0-9_-]{0,31}|os:[^\s:]{1,64})$/;
const maxDetailChars = 4000;
const defaultLimit = 100;
const maxLimit = 10_000;

/**
 * Stores one action, at the database's clock unless `at` is given. An actor not of the three forms is a
 * bug in the caller, not a user's mistake.
 */
export async function recordAudit(db: Db | mysql.PoolConnection, record: AuditRecord, at?: Date): Promise<number> {
  if (!actorPattern.test(record.actor)) throw new Error(`recordAudit: "${record.actor}" is not admin-token, geo:<name>, viewer:<name> or os:<user>`);
  if (!record.action || record.action.length > 64) throw new Error('recordAudit: the action must be 1-64 characters');
  const detail = record.detail === undefined ? null : typeof record.detail === 'string' ? record.detail : JSON.stringify(record.detail);
  const [result] = await db.query<mysql.ResultSetHeader>(
    'INSERT INTO audit_log (at, actor, action, target, detail, source_address) VALUES (COALESCE(?, UTC_TIMESTAMP(3)), ?, ?, ?, ?, ?)',
    [at ?? null, record.actor, record.action, record.target.slice(0, 191), detail?.slice(0, maxDetailChars) ?? null, record.sourceAddress?.slice(0, 45) ?? null],
  );
  return result.insertId;
}

export async function listAudit(db: Db, filter: AuditFilter = {}): Promise<AuditEntry[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  for (const [column, value] of [['actor', filter.actor], ['action', filter.action], ['target', filter.target]] as const) {
    if (value === undefined) continue;
    where.push(`${column} = ?`);
    values.push(value);
  }
  if (filter.from) {
    where.push('at >= ?');
    values.push(filter.from);
  }
  if (filter.to) {
    where.push('at < ?');
    values.push(filter.to);
  }
  const limit = Math.min(Math.max(1, Math.trunc(filter.limit ?? defaultLimit)), maxLimit);
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT id, at, actor, action, target, detail, source_address FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit}`,
    values,
  );
  return rows.map((row) => ({
    id: Number(row.id),
    at: row.at,
    actor: row.actor,
    action: row.action,
    target: row.target,
    detail: row.detail,
    sourceAddress: row.source_address,
  }));
}
