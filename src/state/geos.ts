// The GEOs table: each regional site, its OpenPGP signing key and its hashed API token.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type mysql from 'mysql2/promise';
import { inTransaction, type Db } from './db.js';

export interface Geo {
  id: number;
  name: string;
  enabled: boolean;
  publicKey: string;
  keyFingerprint: string;
  tokenHint: string;
  createdAt: Date;
  updatedAt: Date;
  keyRotatedAt: Date | null;
  tokenRotatedAt: Date | null;
}

const tokenPrefix = 'gmd_';
const tokenBytes = 32;

/** Tokens are 256 random bits, so a plain SHA-256 is a safe way to store them (no dictionary to attack). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function tokensEqual(presented: string, expectedHash: string): boolean {
  const a = Buffer.from(hashToken(presented), 'hex');
  const b = Buffer.from(expectedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function newToken(geoName: string): { token: string; hash: string; hint: string } {
  const token = `${tokenPrefix}${geoName}_${randomBytes(tokenBytes).toString('base64url')}`;
  return { token, hash: hashToken(token), hint: token.slice(0, Math.min(token.length, 12)) };
}

const columns = `id, name, enabled, public_key, key_fingerprint, token_hint, created_at, updated_at, key_rotated_at, token_rotated_at`;

function toGeo(row: mysql.RowDataPacket): Geo {
  return {
    id: Number(row.id),
    name: row.name,
    enabled: Boolean(row.enabled),
    publicKey: row.public_key,
    keyFingerprint: row.key_fingerprint,
    tokenHint: row.token_hint,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    keyRotatedAt: row.key_rotated_at,
    tokenRotatedAt: row.token_rotated_at,
  };
}

export async function listGeos(db: Db): Promise<Geo[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(`SELECT ${columns} FROM geos ORDER BY name`);
  return rows.map(toGeo);
}

export async function findGeo(db: Db, name: string): Promise<Geo | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(`SELECT ${columns} FROM geos WHERE name = ?`, [name]);
  return rows[0] ? toGeo(rows[0]) : undefined;
}

export async function findGeoByToken(db: Db, token: string): Promise<Geo | undefined> {
  const hash = hashToken(token);
  const [rows] = await db.query<mysql.RowDataPacket[]>(`SELECT ${columns}, token_hash FROM geos WHERE token_hash = ?`, [hash]);
  const row = rows[0];
  // The index lookup finds the candidate; the constant-time compare is what decides.
  return row && tokensEqual(token, row.token_hash) ? toGeo(row) : undefined;
}

export interface AddGeoInput {
  name: string;
  publicKey: string;
  keyFingerprint: string;
}

/** Adds a GEO and returns its API token: the only time the token exists in clear. Undefined if the name is taken. */
export async function addGeo(db: Db, input: AddGeoInput): Promise<{ geo: Geo; token: string } | undefined> {
  const { token, hash, hint } = newToken(input.name);
  const [result] = await db.query<mysql.ResultSetHeader>(
    `INSERT IGNORE INTO geos (name, enabled, public_key, key_fingerprint, token_hash, token_hint, created_at, updated_at)
     VALUES (?, 1, ?, ?, ?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`,
    [input.name, input.publicKey, input.keyFingerprint, hash, hint],
  );
  if (result.affectedRows !== 1) return undefined;
  return { geo: (await findGeo(db, input.name))!, token };
}

export async function setGeoEnabled(db: Db, name: string, enabled: boolean): Promise<Geo | undefined> {
  await db.query('UPDATE geos SET enabled = ?, updated_at = UTC_TIMESTAMP(3) WHERE name = ?', [enabled ? 1 : 0, name]);
  return findGeo(db, name);
}

/** A new token; the old one stops working with this statement. */
export async function rotateGeoToken(db: Db, name: string): Promise<{ geo: Geo; token: string } | undefined> {
  const { token, hash, hint } = newToken(name);
  const [result] = await db.query<mysql.ResultSetHeader>(
    'UPDATE geos SET token_hash = ?, token_hint = ?, token_rotated_at = UTC_TIMESTAMP(3), updated_at = UTC_TIMESTAMP(3) WHERE name = ?',
    [hash, hint, name],
  );
  return result.affectedRows === 1 ? { geo: (await findGeo(db, name))!, token } : undefined;
}

export class RevokedKeyError extends Error {
  override name = 'RevokedKeyError';
}

export interface RotateKeyOptions {
  /** The old key may be in someone else's hands: it verifies nothing any more, not even files already delivered. */
  revokeOld?: boolean;
}

/**
 * A new signing key, in force at once. The old key is kept as retired: it still verifies the files that
 * were delivered before this moment (by the server's clock, when the agent closed the transaction), for
 * as long as they wait to be processed or are retried; anything delivered later must carry the new
 * key's signature. With revokeOld, the old key verifies nothing. Rotating to the key already in force
 * changes nothing, so a re-run after a crash is harmless.
 */
export async function rotateGeoKey(db: Db, name: string, publicKey: string, keyFingerprint: string, options: RotateKeyOptions = {}): Promise<Geo | undefined> {
  return inTransaction(db, async (connection) => {
    const [rows] = await connection.query<mysql.RowDataPacket[]>(`SELECT ${columns} FROM geos WHERE name = ? FOR UPDATE`, [name]);
    if (!rows[0]) return undefined;
    const current = toGeo(rows[0]);
    const [revoked] = await connection.query<mysql.RowDataPacket[]>('SELECT 1 FROM geo_retired_keys WHERE geo_id = ? AND key_fingerprint = ? AND revoked = 1 LIMIT 1', [current.id, keyFingerprint]);
    if (revoked.length > 0) throw new RevokedKeyError(`key ${keyFingerprint} was revoked for GEO ${name}; it cannot be put back in force`);
    if (current.keyFingerprint === keyFingerprint) {
      if (options.revokeOld) await connection.query('UPDATE geo_retired_keys SET revoked = 1 WHERE geo_id = ?', [current.id]);
      return current;
    }
    await connection.query(
      `INSERT INTO geo_retired_keys (geo_id, public_key, key_fingerprint, retired_at, revoked) VALUES (?, ?, ?, UTC_TIMESTAMP(3), ?)`,
      [current.id, current.publicKey, current.keyFingerprint, options.revokeOld ? 1 : 0],
    );
    // A revoked key is revoked in every earlier retirement too.
    if (options.revokeOld) await connection.query('UPDATE geo_retired_keys SET revoked = 1 WHERE geo_id = ? AND key_fingerprint = ?', [current.id, current.keyFingerprint]);
    await connection.query(
      'UPDATE geos SET public_key = ?, key_fingerprint = ?, key_rotated_at = UTC_TIMESTAMP(3), updated_at = UTC_TIMESTAMP(3) WHERE id = ?',
      [publicKey, keyFingerprint, current.id],
    );
    const [after] = await connection.query<mysql.RowDataPacket[]>(`SELECT ${columns} FROM geos WHERE id = ?`, [current.id]);
    return toGeo(after[0]!);
  });
}

export interface RetiredGeoKey {
  publicKey: string;
  keyFingerprint: string;
  retiredAt: Date;
  revoked: boolean;
}

export async function listRetiredGeoKeys(db: Db, geoId: number): Promise<RetiredGeoKey[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT public_key, key_fingerprint, retired_at, revoked FROM geo_retired_keys WHERE geo_id = ? ORDER BY retired_at DESC, id DESC',
    [geoId],
  );
  return rows.map((row) => ({ publicKey: row.public_key, keyFingerprint: row.key_fingerprint, retiredAt: row.retired_at, revoked: Boolean(row.revoked) }));
}

/**
 * The armored keys whose signature a file delivered at deliveredAt may carry: the GEO's key in force,
 * and each retired key that was still in force when the file was delivered (and is not revoked).
 */
export async function signingKeysForDelivery(db: Db, geo: Geo, deliveredAt: Date | null): Promise<{ armored: string; fingerprint: string; retiredAt?: Date }[]> {
  const keys: { armored: string; fingerprint: string; retiredAt?: Date }[] = [{ armored: geo.publicKey, fingerprint: geo.keyFingerprint }];
  if (!deliveredAt) return keys;
  for (const retired of await listRetiredGeoKeys(db, geo.id)) {
    if (retired.revoked || retired.retiredAt.getTime() <= deliveredAt.getTime()) continue;
    if (keys.some((key) => key.fingerprint === retired.keyFingerprint)) continue;
    keys.push({ armored: retired.publicKey, fingerprint: retired.keyFingerprint, retiredAt: retired.retiredAt });
  }
  return keys;
}

export type RemoveGeoResult = 'removed' | 'not-found' | 'has-history';

/** Removes a GEO that never delivered anything; one with history is kept (disable it instead). */
export async function removeGeo(db: Db, name: string): Promise<RemoveGeoResult> {
  const [result] = await db.query<mysql.ResultSetHeader>(
    'DELETE FROM geos WHERE name = ? AND NOT EXISTS (SELECT 1 FROM transactions t WHERE t.geo_id = geos.id)',
    [name],
  );
  if (result.affectedRows === 1) {
    await db.query('DELETE FROM geo_retired_keys WHERE geo_id NOT IN (SELECT id FROM geos)');
    return 'removed';
  }
  return (await findGeo(db, name)) ? 'has-history' : 'not-found';
}
