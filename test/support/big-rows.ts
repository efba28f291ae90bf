// Rows larger than one MongoDB document (16 MiB) for the oversize tests. INSERT cannot carry a value over
// the server's max_allowed_packet (16 MiB here) and CONCAT/UNHEX return NULL past it: LOAD DATA LOCAL, in
// 64 KiB packets, is how such a row gets in without raising the server's limit.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import mysql from 'mysql2';
import { mysqlOptions } from './mysql.js';

/** A LONGBLOB over 16 MiB, as the issue found it (17.8 MB). */
export const bigBlobBytes = 17_800_000;
/** Characters of a LONGTEXT value over 16 MiB once in UTF-8 (multi-byte characters included). */
export const bigTextChars = 17 * 1024 * 1024;

export const bigRowsTable = 'CREATE TABLE blobs (id INT PRIMARY KEY, label VARCHAR(20), b LONGBLOB NULL, t LONGTEXT NULL) DEFAULT CHARSET=utf8mb4';

export type Cell = number | string | Buffer | null;

export function randomBlob(bytes = bigBlobBytes): Buffer {
  return randomBytes(bytes);
}

/** Text of `chars` UTF-16 units mixing ASCII, accents and emoji, different for each seed. */
export function bigText(seed: string, chars = bigTextChars): string {
  const unit = `${seed} héllo wörld 😀 tab\t nl\n bs\\ `;
  return unit.repeat(Math.ceil(chars / unit.length)).slice(0, chars - 1) + '.';
}

export function sha256(value: Buffer | string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** A naive LOAD DATA escaper (tab-separated, `\N` for NULL), independent of Ganymede's own. */
function cellBytes(value: Cell): Buffer {
  if (value === null) return Buffer.from('\\N');
  const raw = Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8');
  const out = Buffer.alloc(raw.length * 2);
  let n = 0;
  for (const byte of raw) {
    const escaped = byte === 0 ? 0x30 : byte === 9 ? 0x74 : byte === 10 ? 0x6e : byte === 0x5c ? 0x5c : -1;
    if (escaped >= 0) out[n++] = 0x5c;
    out[n++] = escaped >= 0 ? escaped : byte;
  }
  return out.subarray(0, n);
}

/** Loads `rows` into `table` of `database` (after deleting the rows with the same first column, the key). */
export async function loadRows(database: string, table: string, rows: Cell[][]): Promise<void> {
  const conn = mysql.createConnection(mysqlOptions(database));
  try {
    const run = (options: object) => new Promise<void>((resolve, reject) => conn.query(options as never, (error: Error | null) => (error ? reject(error) : resolve())));
    await run({ sql: `DELETE FROM \`${table}\` WHERE id IN (?)`, values: [rows.map((row) => row[0])] });
    const data = Buffer.concat(rows.flatMap((row) => [Buffer.concat(row.flatMap((cell, i) => (i === 0 ? [cellBytes(cell)] : [Buffer.from('\t'), cellBytes(cell)]))), Buffer.from('\n')]));
    const packets = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
    await run({ sql: `LOAD DATA LOCAL INFILE 'rows' INTO TABLE \`${table}\` CHARACTER SET binary`, infileStreamFactory: () => Readable.from(packets) });
  } finally {
    conn.end();
  }
}
