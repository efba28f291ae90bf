// The dump's data format, both ways: which expression reads each column, how rows become bytes that
// LOAD DATA reads back unchanged, the LOAD DATA statement that does so, and the row checksum.
import { crc32Range } from './crc32.js';
import type { ColumnEncoding, DumpColumn, DumpTablePlan } from './dump-manifest.js';

/** Backticks, with backticks inside doubled: names may be reserved words, non-ASCII or contain anything. */
export function quoteIdentifier(name: string): string {
  return '`' + name.replaceAll('`', '``') + '`';
}

// JSON (MySQL 5.7+) refuses binary-charset strings; MariaDB's INET4/INET6/UUID take them as the 4- or
// 16-byte binary form. Everything else stores the bytes it is given in its own charset.
const utf8mb4TextTypes = new Set(['json', 'inet4', 'inet6', 'uuid']);

export function encodingFor(dataType: string): ColumnEncoding {
  const type = dataType.toLowerCase();
  if (type === 'float') return 'float-as-double';
  if (type === 'enum' || type === 'set') return 'index';
  if (utf8mb4TextTypes.has(type)) return 'utf8mb4-text';
  return 'raw';
}

function selectExpression(column: DumpColumn): string {
  const name = quoteIdentifier(column.name);
  switch (column.encoding) {
    case 'float-as-double':
      // Not CAST(… AS DOUBLE): MySQL has it only since 8.0.17. The product is computed in double, and
      // -0 * 1 stays -0 where a server keeps negative zero.
      return `${name} * 1e0`;
    case 'index':
      return `${name} + 0`;
    case 'raw':
    case 'utf8mb4-text':
      return name;
  }
}

/**
 * The one query that produces a table's data, used at the source to dump and at the centre to verify
 * the load, so both sides hash the same rendering. SQL_NO_CACHE: MySQL 5.x must not serve (or store)
 * a table-sized result from the query cache.
 */
export function selectSql(table: string, columns: readonly DumpColumn[], database?: string): string {
  const from = database === undefined ? quoteIdentifier(table) : `${quoteIdentifier(database)}.${quoteIdentifier(table)}`;
  return `SELECT /*!40001 SQL_NO_CACHE */ ${columns.map(selectExpression).join(', ')} FROM ${from}`;
}

/** LOAD DATA for one table of the dump, into the connection's default database. */
export function loadDataSql(table: DumpTablePlan): string {
  const targets: string[] = [];
  const assignments: string[] = [];
  table.columns.forEach((column, i) => {
    const name = quoteIdentifier(column.name);
    if (column.encoding === 'index') {
      // A number assigned to ENUM/SET is the index/bitmask; the string '2' would first be matched
      // against a member named '2'.
      targets.push(`@v${i}`);
      assignments.push(`${name} = CAST(@v${i} AS UNSIGNED)`);
    } else if (column.encoding === 'utf8mb4-text') {
      targets.push(`@v${i}`);
      assignments.push(`${name} = CONVERT(@v${i} USING utf8mb4)`);
    } else {
      targets.push(name);
    }
  });
  // CHARACTER SET binary: no conversion at all, each column receives its own charset's bytes; it also
  // makes the server unescape byte by byte, which multi-byte charsets such as sjis (0x5C as a trail
  // byte) need. The file name is only echoed back to mysql2's infileStreamFactory, which ignores it.
  return (
    `LOAD DATA LOCAL INFILE 'ganymede.tsv' INTO TABLE ${quoteIdentifier(table.name)} CHARACTER SET binary ` +
    `FIELDS TERMINATED BY '\\t' ENCLOSED BY '' ESCAPED BY '\\\\' LINES STARTING BY '' TERMINATED BY '\\n' ` +
    `(${targets.join(', ')})` +
    (assignments.length > 0 ? ` SET ${assignments.join(', ')}` : '')
  );
}

const backslash = 0x5c;
const tab = 0x09;
const newline = 0x0a;
// What LOAD DATA unescapes after a backslash, for the four bytes that cannot appear raw.
const escapeOf = new Uint8Array(256);
escapeOf[0x00] = 0x30; // \0 (SELECT … INTO OUTFILE writes NUL so too)
escapeOf[tab] = 0x74; // \t
escapeOf[newline] = 0x6e; // \n
escapeOf[backslash] = backslash;
const nullMarker = Buffer.from('\\N');
const directFieldBytes = 4096;
const twoTo32 = 2 ** 32;
const carryAt = 2 ** 52;

/**
 * Where a RowEncoder writes: `next` gives the space to encode into (its own Buffer, or a region of a
 * bigger one, at least `minBytes` long when it can), `emit` takes it back filled. Between the two calls
 * the space is the encoder's alone.
 */
export interface ChunkSink {
  next(minBytes: number): Buffer;
  emit(filled: Buffer): void;
}

/** A fresh chunk each time, of `chunkBytes`. */
export function allocatingSink(emit: (chunk: Buffer) => void, chunkBytes = 64 * 1024): ChunkSink {
  return { next: () => Buffer.allocUnsafe(chunkBytes), emit };
}

/**
 * Turns rows of raw values (Buffer, or null for NULL) into the dump's bytes, emitted in chunks no larger
 * than the sink's space however large a row is (LOAD DATA LOCAL sends each chunk as one packet, which
 * must stay under max_allowed_packet), and keeps the row count, byte count and row checksum.
 */
export class RowEncoder {
  rows = 0;
  bytes = 0;
  private readonly sink: ChunkSink;
  private chunk: Buffer;
  private capacity: number;
  private pos = 0;
  private rowStart = 0;
  private rowCrc = 0;
  private sumLow = 0;
  private sumHigh = 0;

  /** `sink`, or an emit function that gets fresh chunks of `chunkBytes`. */
  constructor(sink: ChunkSink | ((chunk: Buffer) => void), chunkBytes = 64 * 1024) {
    this.sink = typeof sink === 'function' ? allocatingSink(sink, chunkBytes) : sink;
    this.chunk = this.sink.next(0);
    this.capacity = this.chunk.length;
  }

  encode(row: readonly (Buffer | null)[]): void {
    for (let i = 0; i < row.length; i++) {
      if (i > 0) this.putByte(tab);
      const value = row[i];
      if (value === null || value === undefined) this.putRun(nullMarker, 0, 2);
      else if (value.length <= directFieldBytes) this.putDirect(value);
      else this.putLarge(value);
    }
    this.putByte(newline);
    this.endRow();
  }

  private endRow(): void {
    const crc = crc32Range(this.chunk, this.rowStart, this.pos, this.rowCrc);
    this.rowStart = this.pos;
    this.rowCrc = 0;
    this.rows++;
    this.sumLow += crc;
    if (this.sumLow >= carryAt) this.carry();
  }

  /**
   * One row straight from a text-protocol row packet: `payload[start, end)` holds each column as a
   * length-encoded string (0xfb for NULL). The bytes and the checksum are those `encode` gives for the
   * same row as Buffers, without a Buffer per field or an array per row.
   */
  encodePacket(payload: Buffer, start: number, end: number): void {
    // The most a row can grow to: a NULL (1 byte) becomes `\N` and a tab; a value byte at most 2 bytes.
    const most = 3 * (end - start) + 1;
    if (most > this.capacity - this.pos && this.pos > 0) this.flush(most);
    if (most <= this.capacity - this.pos) {
      this.encodePacketInPlace(payload, start, end);
    } else {
      this.encodePacketInParts(payload, start, end);
    }
    this.endRow();
  }

  /** Emits what is left; call once, after the last row. */
  end(): void {
    if (this.pos > 0) this.flush(0, true);
  }

  /** `crc32-sum64` of the rows so far. */
  checksum(): string {
    this.carry();
    return ((BigInt(this.sumHigh) << 32n) + BigInt(this.sumLow)).toString(16).padStart(16, '0');
  }

  private carry(): void {
    this.sumHigh = (this.sumHigh + Math.floor(this.sumLow / twoTo32)) % twoTo32;
    this.sumLow %= twoTo32;
  }

  /** Hands the chunk to the sink and, unless it was the last, takes new space of at least `minBytes`. */
  private flush(minBytes = 0, last = false): void {
    this.rowCrc = crc32Range(this.chunk, this.rowStart, this.pos, this.rowCrc);
    const full = this.chunk.subarray(0, this.pos);
    this.bytes += this.pos;
    this.pos = 0;
    this.rowStart = 0;
    this.sink.emit(full);
    if (last) return;
    this.chunk = this.sink.next(minBytes);
    this.capacity = this.chunk.length;
  }

  // The whole row fits in the chunk: one tight loop, no bounds checks.
  private encodePacketInPlace(payload: Buffer, start: number, end: number): void {
    const chunk = this.chunk;
    let pos = this.pos;
    let p = start;
    while (p < end) {
      if (p !== start) chunk[pos++] = tab;
      const tag = payload[p++]!;
      let length = tag;
      if (tag >= 0xfb) {
        if (tag === 0xfb) {
          chunk[pos++] = backslash;
          chunk[pos++] = 0x4e; // N
          continue;
        }
        // 0xfc: 2 bytes of length, 0xfd: 3; 0xfe (8) cannot occur in a row smaller than a chunk
        if (tag > 0xfd) throw new Error(`malformed row packet: length tag 0x${tag.toString(16)}`);
        length = tag === 0xfc ? payload[p]! | (payload[p + 1]! << 8) : payload[p]! | (payload[p + 1]! << 8) | (payload[p + 2]! << 16);
        p += tag === 0xfc ? 2 : 3;
      }
      const valueEnd = p + length;
      if (valueEnd > end) throw new Error('malformed row packet: a value runs past the end of the row');
      for (; p < valueEnd; p++) {
        const byte = payload[p]!;
        const escaped = escapeOf[byte]!;
        if (escaped !== 0) {
          chunk[pos++] = backslash;
          chunk[pos++] = escaped;
        } else {
          chunk[pos++] = byte;
        }
      }
    }
    chunk[pos++] = newline;
    this.pos = pos;
  }

  // A row larger than a chunk (a big BLOB, a 16 MB text): field by field, through the checked paths.
  private encodePacketInParts(payload: Buffer, start: number, end: number): void {
    let p = start;
    while (p < end) {
      if (p !== start) this.putByte(tab);
      const tag = payload[p++]!;
      let length = tag;
      if (tag === 0xfb) {
        this.putRun(nullMarker, 0, 2);
        continue;
      } else if (tag === 0xfc) {
        length = payload.readUInt16LE(p);
        p += 2;
      } else if (tag === 0xfd) {
        length = payload.readUIntLE(p, 3);
        p += 3;
      } else if (tag === 0xfe) {
        length = payload.readUInt32LE(p) + payload.readUInt32LE(p + 4) * twoTo32;
        p += 8;
      } else if (tag > 0xfe) {
        throw new Error(`malformed row packet: length tag 0x${tag.toString(16)}`);
      }
      // `payload` may be the socket's whole chunk: the row ends at `end`, not at the buffer's end.
      if (p + length > end) throw new Error('malformed row packet: a value runs past the end of the row');
      const value = payload.subarray(p, p + length);
      if (length <= directFieldBytes) this.putDirect(value);
      else this.putLarge(value);
      p += length;
    }
    this.putByte(newline);
  }

  private putByte(byte: number): void {
    if (this.pos === this.capacity) this.flush();
    this.chunk[this.pos++] = byte;
  }

  // Values up to a few KiB in one pass straight into the chunk: cheaper than scanning, then copying runs.
  private putDirect(value: Buffer): void {
    if (this.capacity - this.pos < 2 * value.length) {
      if (this.pos > 0) this.flush(2 * value.length);
      if (this.capacity - this.pos < 2 * value.length) {
        this.putLarge(value);
        return;
      }
    }
    const chunk = this.chunk;
    let pos = this.pos;
    for (let i = 0; i < value.length; i++) {
      const byte = value[i]!;
      const escaped = escapeOf[byte]!;
      if (escaped !== 0) {
        chunk[pos++] = backslash;
        chunk[pos++] = escaped;
      } else {
        chunk[pos++] = byte;
      }
    }
    this.pos = pos;
  }

  private putLarge(value: Buffer): void {
    // Most text has none of the four bytes, and indexOf (memchr) finds that out far faster than a loop.
    if (value.indexOf(backslash) < 0 && value.indexOf(tab) < 0 && value.indexOf(newline) < 0 && value.indexOf(0) < 0) {
      this.putRun(value, 0, value.length);
      return;
    }
    let runStart = 0;
    for (let i = 0; i < value.length; i++) {
      const escaped = escapeOf[value[i]!]!;
      if (escaped !== 0) {
        this.putRun(value, runStart, i);
        this.putByte(backslash);
        this.putByte(escaped);
        runStart = i + 1;
      }
    }
    this.putRun(value, runStart, value.length);
  }

  private putRun(source: Buffer, start: number, end: number): void {
    while (start < end) {
      if (this.pos === this.capacity) this.flush();
      const n = Math.min(end - start, this.capacity - this.pos);
      source.copy(this.chunk, this.pos, start, start + n);
      this.pos += n;
      start += n;
    }
  }
}
