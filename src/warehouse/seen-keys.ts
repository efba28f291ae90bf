// The `_id`s of one collection's documents the source had this cycle, kept in a temporary table on the
// scratch MySQL server instead of in the worker's memory: what the warehouse holds and this set lacks is
// removed at the end, and a cycle of millions of rows costs the worker nothing. Each `_id` is stored as
// its MD5 (16 bytes, a fixed-width key however long the `_id`); a collision would need ~2^64 documents.
import { createHash, randomBytes } from 'node:crypto';
import type { Connection } from 'mysql2';

const digest = (id: string) => createHash('md5').update(id, 'utf8').digest();

function run<T = unknown>(conn: Connection, sql: string, values?: unknown[]): Promise<T> {
  return new Promise((resolve, reject) => conn.query(sql, values, (error, result) => (error ? reject(error) : resolve(result as T))));
}

export class SeenKeys {
  private constructor(
    private readonly conn: Connection,
    private readonly table: string,
  ) {}

  /** A temporary table lives as long as its connection: a crashed worker leaves nothing behind. */
  static async create(conn: Connection): Promise<SeenKeys> {
    const table = `_gmd_seen_${randomBytes(6).toString('hex')}`;
    await run(conn, `CREATE TEMPORARY TABLE \`${table}\` (k BINARY(16) NOT NULL PRIMARY KEY) ENGINE=InnoDB`);
    return new SeenKeys(conn, table);
  }

  /** Records a batch; returns an `_id` seen before (in this batch or an earlier one), if any. */
  async add(ids: string[]): Promise<string | undefined> {
    if (ids.length === 0) return undefined;
    const inBatch = new Set<string>();
    for (const id of ids) {
      if (inBatch.has(id)) return id;
      inBatch.add(id);
    }
    try {
      await run(this.conn, `INSERT INTO \`${this.table}\` (k) VALUES ?`, [ids.map((id) => [digest(id)])]);
      return undefined;
    } catch (error) {
      // The statement is undone as a whole; which key was there before is then a lookup away.
      if ((error as { code?: string }).code !== 'ER_DUP_ENTRY') throw error;
      return [...(await this.which(ids))][0] ?? ids[0];
    }
  }

  /** The ones of `ids` that were recorded. */
  async which(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const byDigest = new Map(ids.map((id) => [digest(id).toString('hex'), id]));
    const rows = await run<Array<{ k: Buffer }>>(this.conn, `SELECT k FROM \`${this.table}\` WHERE k IN (?)`, [ids.map(digest)]);
    return new Set(rows.map((row) => byDigest.get(row.k.toString('hex'))!));
  }

  async drop(): Promise<void> {
    await run(this.conn, `DROP TEMPORARY TABLE IF EXISTS \`${this.table}\``);
  }
}

/**
 * For tables without a key: how many times each row content (its hash) came so far this cycle, in a
 * temporary table beside the seen keys, so that identical rows get occurrences 1, 2, … without the
 * worker holding one counter per distinct row.
 */
export class RowOccurrences {
  private constructor(
    private readonly conn: Connection,
    private readonly table: string,
  ) {}

  static async create(conn: Connection): Promise<RowOccurrences> {
    const table = `_gmd_occ_${randomBytes(6).toString('hex')}`;
    await run(conn, `CREATE TEMPORARY TABLE \`${table}\` (h VARBINARY(64) NOT NULL PRIMARY KEY, n INT UNSIGNED NOT NULL) ENGINE=InnoDB`);
    return new RowOccurrences(conn, table);
  }

  /** The occurrence number of each hash, in order, counting those of earlier batches. */
  async next(hashes: string[]): Promise<number[]> {
    if (hashes.length === 0) return [];
    const distinct = [...new Set(hashes)];
    const rows = await run<Array<{ h: Buffer; n: number }>>(this.conn, `SELECT h, n FROM \`${this.table}\` WHERE h IN (?)`, [distinct.map((hash) => Buffer.from(hash))]);
    const counts = new Map(rows.map((row) => [row.h.toString(), Number(row.n)]));
    const occurrences = hashes.map((hash) => {
      const n = (counts.get(hash) ?? 0) + 1;
      counts.set(hash, n);
      return n;
    });
    // REPLACE, not ON DUPLICATE KEY UPDATE n = VALUES(n) (deprecated in MySQL 8.0.20+): on a table of only its
    // key and n, replacing the row is the same update, in a form every server takes without a warning.
    await run(this.conn, `REPLACE INTO \`${this.table}\` (h, n) VALUES ?`, [distinct.map((hash) => [Buffer.from(hash), counts.get(hash)!])]);
    return occurrences;
  }

  async drop(): Promise<void> {
    await run(this.conn, `DROP TEMPORARY TABLE IF EXISTS \`${this.table}\``);
  }
}
