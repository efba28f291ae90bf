// Writes a tar archive as a stream without knowing any file's size in advance. A tar header must carry
// its entry's size, and a table's dump size is only known once it has been read; so each table's data is
// cut into parts of a fixed size (`0001.tsv.000001`, `.000002`, …) that the reader concatenates in order.
// Memory stays at one part, whatever the table's size. Any tar tool reads the result.
import { Header } from 'tar';

export const defaultPartBytes = 8 * 1024 * 1024;

export const blockBytes = 512;

/** Writes the header block of a file entry at `offset` of `target`. */
export function writeHeader(target: Buffer, offset: number, path: string, size: number, mtime: Date): void {
  target.fill(0, offset, offset + blockBytes);
  const entry = new Header({ path, mode: 0o600, size, mtime, type: 'File', uid: 0, gid: 0, uname: '', gname: '' });
  if (entry.encode(target, offset)) throw new Error(`tar: the path ${path} does not fit a ustar header`);
}

function header(path: string, size: number, mtime: Date): Buffer {
  const block = Buffer.alloc(blockBytes);
  writeHeader(block, 0, path, size, mtime);
  return block;
}

const padding = (size: number) => Buffer.alloc((blockBytes - (size % blockBytes)) % blockBytes);

/** One whole entry whose content is in memory (a manifest, a schema). */
export function tarEntry(path: string, content: Buffer | string, mtime = new Date()): Buffer {
  const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  return Buffer.concat([header(path, data.length, mtime), data, padding(data.length)]);
}

/** The two zero blocks that end an archive. */
export function tarEnd(): Buffer {
  return Buffer.alloc(blockBytes * 2);
}

export function partName(path: string, part: number): string {
  return `${path}.${String(part).padStart(6, '0')}`;
}

/**
 * The entries of one stream cut into parts of partBytes (the last one shorter). An empty stream gives no
 * part at all; the reader treats a table with no part as empty. Returns the number of parts written.
 */
export async function* tarParts(path: string, source: AsyncIterable<Buffer>, partBytes = defaultPartBytes, mtime = new Date()): AsyncGenerator<Buffer, number> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  let parts = 0;
  function* emit(size: number): Generator<Buffer> {
    yield header(partName(path, ++parts), size, mtime);
    let left = size;
    while (left > 0) {
      const first = held[0]!;
      if (first.length <= left) {
        yield first;
        held.shift();
        left -= first.length;
      } else {
        yield first.subarray(0, left);
        held[0] = first.subarray(left);
        left = 0;
      }
    }
    heldBytes -= size;
    const pad = padding(size);
    if (pad.length) yield pad;
  }
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    held.push(chunk);
    heldBytes += chunk.length;
    while (heldBytes >= partBytes) yield* emit(partBytes);
  }
  if (heldBytes > 0) yield* emit(heldBytes);
  held = [];
  return parts;
}
