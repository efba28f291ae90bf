// Sessions of the web console. The session id lives only in the browser's cookie; the table keeps its
// SHA-256, so any API host (they share nothing but MySQL) can check it and a read of the table signs nobody
// in. Expiry is decided on the database's clock, the one all hosts share. A viewer's session ends with the
// viewer (the join below finds no viewer once it is revoked, and revokeViewer deletes the rows besides).
import { createHash, randomBytes } from 'node:crypto';
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';

export type ConsoleRole = 'admin' | 'viewer';

export interface ConsoleSession {
  role: ConsoleRole;
  /** The viewer's name for a viewer session. */
  viewerName: string | null;
  viewerId: number | null;
  /** For an admin session: which admin token made it (see credentialTagOf). */
  credentialTag: string | null;
  /** The secret the session's form tokens are derived from (src/console/csrf.ts). */
  csrfSecret: string;
  createdAt: Date;
  expiresAt: Date;
}

export const hashSessionId = (sessionId: string): string => createHash('sha256').update(sessionId, 'utf8').digest('hex');

export interface NewSession {
  role: ConsoleRole;
  viewerId?: number | undefined;
  credentialTag?: string | undefined;
  sourceAddress: string;
  hours: number;
}

/** Stores a new session; returns its id (for the cookie, never stored) and what the row holds. */
export async function createConsoleSession(db: Db, session: NewSession): Promise<{ sessionId: string; csrfSecret: string }> {
  const sessionId = randomBytes(32).toString('base64url');
  const csrfSecret = randomBytes(32).toString('hex');
  await db.query(
    `INSERT INTO console_sessions (id_hash, role, viewer_id, credential_tag, csrf_secret, source_address, created_at, expires_at)
     VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL ? SECOND)`,
    [hashSessionId(sessionId), session.role, session.viewerId ?? null, session.credentialTag ?? null, csrfSecret, session.sourceAddress.slice(0, 45), Math.round(session.hours * 3600)],
  );
  return { sessionId, csrfSecret };
}

/** The session of this id if it exists, has not expired, and (for a viewer) its viewer still exists. */
export async function findConsoleSession(db: Db, sessionId: string): Promise<ConsoleSession | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT s.role, s.viewer_id, s.credential_tag, s.csrf_secret, s.created_at, s.expires_at, v.name AS viewer_name
     FROM console_sessions s LEFT JOIN viewers v ON v.id = s.viewer_id
     WHERE s.id_hash = ? AND s.expires_at > UTC_TIMESTAMP(3)`,
    [hashSessionId(sessionId)],
  );
  const row = rows[0];
  if (!row) return undefined;
  const role = row.role as ConsoleRole;
  if (role === 'viewer' && row.viewer_name === null) return undefined;
  if (role !== 'viewer' && role !== 'admin') return undefined;
  return {
    role,
    viewerName: (row.viewer_name as string | null) ?? null,
    viewerId: row.viewer_id === null ? null : Number(row.viewer_id),
    credentialTag: (row.credential_tag as string | null) ?? null,
    csrfSecret: String(row.csrf_secret),
    createdAt: row.created_at as Date,
    expiresAt: row.expires_at as Date,
  };
}

export async function endConsoleSession(db: Db, sessionId: string): Promise<void> {
  await db.query('DELETE FROM console_sessions WHERE id_hash = ?', [hashSessionId(sessionId)]);
}

/** Expired sessions go at the next sign-in, so the table stays the size of its use. */
export async function dropExpiredConsoleSessions(db: Db): Promise<number> {
  const [result] = await db.query<mysql.ResultSetHeader>('DELETE FROM console_sessions WHERE expires_at < UTC_TIMESTAMP(3) LIMIT 1000');
  return result.affectedRows;
}
