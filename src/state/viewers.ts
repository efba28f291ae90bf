// Viewer tokens: read-only sign-in to the web console for people who watch but do not act. Stored as GEO
// tokens are (src/state/geos.ts): 256 random bits, kept only as a SHA-256, compared in constant time.
// A viewer is removed whole when revoked, its console sessions with it; the audit trail remembers it.
import { randomBytes } from 'node:crypto';
import type mysql from 'mysql2/promise';
import { inTransaction, type Db } from './db.js';
import { hashToken, tokensEqual } from './geos.js';

export interface Viewer {
  id: number;
  name: string;
  tokenHint: string;
  createdAt: Date;
  lastSignedInAt: Date | null;
}

export interface ViewerWithSessions extends Viewer {
  /** Console sessions of this viewer not expired yet. */
  activeSessions: number;
}

export const viewerNamePattern = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const tokenPrefix = 'gmv_';

function newViewerToken(name: string): { token: string; hash: string; hint: string } {
  const token = `${tokenPrefix}${name}_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token), hint: token.slice(0, Math.min(token.length, 12)) };
}

const toViewer = (row: mysql.RowDataPacket): Viewer => ({
  id: Number(row.id),
  name: String(row.name),
  tokenHint: String(row.token_hint),
  createdAt: row.created_at as Date,
  lastSignedInAt: (row.last_signed_in_at as Date | null) ?? null,
});

export async function findViewer(db: Db, name: string): Promise<Viewer | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT * FROM viewers WHERE name = ?', [name]);
  return rows[0] ? toViewer(rows[0]) : undefined;
}

export async function listViewers(db: Db): Promise<ViewerWithSessions[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT v.*, (SELECT COUNT(*) FROM console_sessions s WHERE s.viewer_id = v.id AND s.expires_at > UTC_TIMESTAMP(3)) AS sessions
     FROM viewers v ORDER BY v.name`,
  );
  return rows.map((row) => ({ ...toViewer(row), activeSessions: Number(row.sessions) }));
}

/** The viewer holding this token, or undefined. */
export async function findViewerByToken(db: Db, token: string): Promise<Viewer | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT * FROM viewers WHERE token_hash = ?', [hashToken(token)]);
  const row = rows[0];
  // The index lookup finds the candidate; the constant-time compare is what decides.
  return row && tokensEqual(token, String(row.token_hash)) ? toViewer(row) : undefined;
}

/** Adds a viewer and returns its token: the only time the token exists in clear. Undefined if the name is taken. */
export async function addViewer(db: Db, name: string): Promise<{ viewer: Viewer; token: string } | undefined> {
  const { token, hash, hint } = newViewerToken(name);
  const [result] = await db.query<mysql.ResultSetHeader>(
    'INSERT IGNORE INTO viewers (name, token_hash, token_hint, created_at) VALUES (?, ?, ?, UTC_TIMESTAMP(3))',
    [name, hash, hint],
  );
  if (result.affectedRows !== 1) return undefined;
  return { viewer: (await findViewer(db, name))!, token };
}

export async function noteViewerSignIn(db: Db, viewerId: number): Promise<void> {
  await db.query('UPDATE viewers SET last_signed_in_at = UTC_TIMESTAMP(3) WHERE id = ?', [viewerId]);
}

/** Removes the viewer and ends its console sessions in one transaction; undefined when there is no such viewer. */
export async function revokeViewer(db: Db, name: string): Promise<{ viewer: Viewer; sessionsEnded: number } | undefined> {
  return inTransaction(db, async (connection) => {
    const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT * FROM viewers WHERE name = ? FOR UPDATE', [name]);
    if (!rows[0]) return undefined;
    const viewer = toViewer(rows[0]);
    const [ended] = await connection.query<mysql.ResultSetHeader>('DELETE FROM console_sessions WHERE viewer_id = ?', [viewer.id]);
    await connection.query('DELETE FROM viewers WHERE id = ?', [viewer.id]);
    return { viewer, sessionsEnded: ended.affectedRows };
  });
}
