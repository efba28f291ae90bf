// Tar archives no tar tool writes, for the tests of what a compromised GEO can sign and deliver: header
// fields set to raw bytes (negative and huge base-256 numbers, garbage octal), pax records of any text, and
// zero-filled parts that compress to almost nothing (decompression bombs), as gzip or as zstd frames.
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { tarEnd, tarEntry } from '../../src/dump/tar-stream.js';

const blockBytes = 512;

/** Offsets and lengths of a ustar header's numeric fields. */
export const headerFields = {
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
} as const;

export interface RawHeaderOptions {
  path: string;
  size?: number;
  /** The header's type letter: '0' file, 'x' pax, 'L' GNU long name, 'g' pax global. */
  type?: string;
  /** Fields replaced by these bytes (right-padded with NULs), the checksum fixed up afterwards. */
  raw?: Partial<Record<keyof typeof headerFields, Buffer | string>>;
}

/** One header block, valid but for what `raw` puts in it. */
export function rawHeader(options: RawHeaderOptions): Buffer {
  const block = Buffer.alloc(blockBytes);
  new Header({ path: options.path, mode: 0o600, size: options.size ?? 0, mtime: new Date('2026-01-01T00:00:00Z'), type: 'File', uid: 0, gid: 0 }).encode(block, 0);
  if (options.type) block[156] = options.type.charCodeAt(0);
  for (const [name, value] of Object.entries(options.raw ?? {})) {
    const [start, length] = headerFields[name as keyof typeof headerFields];
    block.fill(0, start, start + length);
    (typeof value === 'string' ? Buffer.from(value, 'latin1') : value).copy(block, start, 0, length);
  }
  // The checksum: the sum of all bytes with the checksum field read as spaces, in octal.
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

const padding = (size: number) => Buffer.alloc((blockBytes - (size % blockBytes)) % blockBytes);

/** A pax extended header entry holding `records` as written ("key=value"), each given its length prefix. */
export function paxEntry(records: string[]): Buffer {
  const data = Buffer.from(records.map((record) => {
    // The length counts itself: find the fixed point.
    let length = record.length + 3;
    while (`${length} ${record}\n`.length !== length) length = `${length} ${record}\n`.length;
    return `${length} ${record}\n`;
  }).join(''));
  return Buffer.concat([rawHeader({ path: 'PaxHeaders/x', size: data.length, type: 'x' }), data, padding(data.length)]);
}

/** A base-256 numeric field: 0x80 (positive) or 0xff (negative) then the value's bytes, big-endian. */
export function base256(value: bigint, length: number): Buffer {
  const field = Buffer.alloc(length);
  let rest = value < 0n ? (1n << BigInt(8 * length)) + value : value;
  for (let i = length - 1; i >= 0; i--) {
    field[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  field[0] = value < 0n ? 0xff : field[0]! | 0x80;
  return field;
}

/** A tar of `entries` (already encoded) after plan.json, closed by the end marker. */
export function tarWithPlan(plan: string | Buffer, entries: Buffer[]): Buffer {
  return Buffer.concat([tarEntry('plan.json', plan), ...entries, tarEnd()]);
}

/**
 * A tar whose data parts are all zeros, compressed: `parts` entries of `partBytes` each after plan.json.
 * zstd gets it down to a few kB per 8 MiB; the zero part is compressed once and its frame repeated, since
 * concatenated zstd frames (and gzip members) decompress to the concatenation.
 */
export function zeroBomb(plan: string | Buffer, file: string, parts: number, partBytes: number, compression: 'zstd' | 'gzip'): Buffer {
  const compress = (bytes: Buffer) => (compression === 'zstd' ? execFileSync('zstd', ['-q', '-c'], { input: bytes, maxBuffer: 1 << 28 }) : gzipSync(bytes, { level: 9 }));
  const zeros = compress(Buffer.alloc(partBytes + padding(partBytes).length));
  const pieces = [compress(tarEntry('plan.json', plan))];
  for (let part = 1; part <= parts; part++) {
    pieces.push(compress(rawHeader({ path: `data/${file}.${String(part).padStart(6, '0')}`, size: partBytes })), zeros);
  }
  pieces.push(compress(tarEnd()));
  return Buffer.concat(pieces);
}
