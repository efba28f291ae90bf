// The chain of centre keys that agents fetch: oldest first, each later key signed by the one before it,
// so an agent that trusts any key of the chain can follow it to the newest without trusting the API.
import type mysql from 'mysql2/promise';
import { inTransaction, type Db } from './db.js';

export interface CentreKey {
  fingerprint: string;
  publicKey: string;
  /** The fingerprint of the key before it in the chain, whose signature `signature` is; null for the first. */
  signedBy: string | null;
  /** Armored detached signature over the armored `publicKey` text, by `signedBy`. */
  signature: string | null;
  createdAt: Date;
  retiredAt: Date | null;
}

export async function listCentreKeys(db: Db): Promise<CentreKey[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT key_fingerprint, public_key, signed_by, signature, created_at, retired_at FROM centre_keys ORDER BY id',
  );
  return rows.map((row) => ({
    fingerprint: row.key_fingerprint,
    publicKey: row.public_key,
    signedBy: row.signed_by,
    signature: row.signature,
    createdAt: row.created_at,
    retiredAt: row.retired_at,
  }));
}

export interface KeyHandover {
  from: { fingerprint: string; publicKey: string };
  to: { fingerprint: string; publicKey: string; signature: string };
}

/**
 * Records that the centre now decrypts with `to` and retires `from`. The first rotation also records
 * `from` as the start of the chain. Recording the same handover again changes nothing.
 */
export class ChainMovedError extends Error {
  override name = 'ChainMovedError';
}

export async function recordKeyHandover(db: Db, handover: KeyHandover, alsoInTransaction?: (connection: mysql.PoolConnection) => Promise<void>): Promise<void> {
  await inTransaction(db, async (connection) => {
    // Two hosts rotating at once must not fork the chain: a handover starts from the newest key or none.
    const [newest] = await connection.query<mysql.RowDataPacket[]>('SELECT key_fingerprint FROM centre_keys ORDER BY id DESC LIMIT 1 FOR UPDATE');
    const from = newest[0]?.key_fingerprint as string | undefined;
    if (from === handover.to.fingerprint) return;
    if (from !== undefined && from !== handover.from.fingerprint) {
      throw new ChainMovedError(`the newest published centre key is ${from}, not ${handover.from.fingerprint}: another rotation happened meanwhile`);
    }
    await connection.query(
      `INSERT IGNORE INTO centre_keys (key_fingerprint, public_key, signed_by, signature, created_at) VALUES (?, ?, NULL, NULL, UTC_TIMESTAMP(3))`,
      [handover.from.fingerprint, handover.from.publicKey],
    );
    const [inserted] = await connection.query<mysql.ResultSetHeader>(
      `INSERT IGNORE INTO centre_keys (key_fingerprint, public_key, signed_by, signature, created_at) VALUES (?, ?, ?, ?, UTC_TIMESTAMP(3))`,
      [handover.to.fingerprint, handover.to.publicKey, handover.from.fingerprint, handover.to.signature],
    );
    if (inserted.affectedRows === 1) {
      await connection.query('UPDATE centre_keys SET retired_at = UTC_TIMESTAMP(3) WHERE key_fingerprint = ? AND retired_at IS NULL', [handover.from.fingerprint]);
      await alsoInTransaction?.(connection);
    }
  });
}

/** Transactions delivered before `retiredAt` that have not been decrypted yet: their files may need the retired key. */
export async function deliveriesWaitingSince(db: Db, retiredAt: Date): Promise<number> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT COUNT(*) AS waiting FROM transactions t
      WHERE t.state IN ('delivered', 'processing', 'failed') AND t.delivered_at < ?
        AND NOT EXISTS (SELECT 1 FROM steps s WHERE s.txn_id = t.id AND s.name = 'decrypt' AND s.state = 'done'
                          AND s.step_key LIKE CONCAT('txn:', t.id, ':', t.delivery, ':%'))`,
    [retiredAt],
  );
  return Number(rows[0]!.waiting);
}
