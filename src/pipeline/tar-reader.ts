// A strict, streaming tar reader for the centre's side of a delivery. It knows just what a dump needs:
// regular files (ustar, GNU or pax headers, long names, sizes past 8 GiB) and refuses everything else
// (links, devices, directories) through the caller's entry check. It writes each entry's bytes straight to
// the caller's sink, chunk slices and all: node-tar's per-entry streams cost 1.5 s of CPU on a 650 MB dump
// (bench/README.md, "load"), this reader a fraction of that.

const blockBytes = 512;

export class TarFormatError extends Error {
  override name = 'TarFormatError';
}

export interface TarEntryHeader {
  path: string;
  size: number;
  /** 'file' for a regular file; otherwise the header's type letter, e.g. '2' (symlink), '5' (directory). */
  type: 'file' | string;
}

export interface TarEntrySink {
  write(chunk: Buffer): Promise<void>;
  end(): Promise<void>;
}

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? raw.length : end).toString('utf8');
}

function numberField(block: Buffer, start: number, length: number, what: string): number {
  const raw = block.subarray(start, start + length);
  // GNU base-256: the high bit of the first byte set, the rest big-endian.
  if ((raw[0]! & 0x80) !== 0) {
    let value = raw[0]! & 0x7f;
    for (const byte of raw.subarray(1)) value = value * 256 + byte;
    if (!Number.isSafeInteger(value)) throw new TarFormatError(`a tar header's ${what} is too large`);
    return value;
  }
  const text = field(block, start, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`a tar header's ${what} is not a number: ${JSON.stringify(text)}`);
  return Number.parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  const stored = numberField(block, 148, 8, 'checksum');
  let sum = 8 * 0x20;
  for (let i = 0; i < blockBytes; i++) if (i < 148 || i >= 156) sum += block[i]!;
  return sum === stored;
}

const isZeroBlock = (block: Buffer) => block.every((byte) => byte === 0);

/** The `path` and `size` records of a pax extended header ("<len> <key>=<value>\n" each). */
function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    const length = Number.parseInt(data.subarray(offset, space).toString('ascii'), 10);
    if (space < 0 || !Number.isInteger(length) || length <= 0 || offset + length > data.length) throw new TarFormatError('a pax header record is malformed');
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (equals > 0) records.set(record.slice(0, equals), record.slice(equals + 1));
    offset += length;
  }
  return records;
}

type State =
  | { kind: 'header' }
  | { kind: 'data'; left: number; pad: number; sink: TarEntrySink | undefined; meta?: Buffer[] | undefined; type: string }
  | { kind: 'pad'; left: number };

/**
 * Reads a tar stream; for each regular file, `open` gives the sink its bytes go to. `open` throws to refuse
 * an entry (the caller's rules: names, types), which ends the read with that error.
 */
export async function readTar(source: AsyncIterable<Buffer>, open: (entry: TarEntryHeader) => Promise<TarEntrySink>): Promise<void> {
  let state: State = { kind: 'header' };
  let pending: Buffer | undefined;
  let nextPath: string | undefined;
  let nextSize: number | undefined;
  let zeroBlocks = 0;
  let ended = false;

  for await (const chunk of source) {
    if (ended) continue; // what follows the end marker (padding to a record size) is not read
    let buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let offset = 0;
    while (offset < buffer.length && !ended) {
      if (state.kind === 'data') {
        const take = Math.min(state.left, buffer.length - offset);
        const slice = buffer.subarray(offset, offset + take);
        if (state.sink) await state.sink.write(slice);
        else state.meta?.push(Buffer.from(slice));
        offset += take;
        state.left -= take;
        if (state.left === 0) {
          if (state.sink) await state.sink.end();
          if (state.meta) {
            const data = Buffer.concat(state.meta);
            if (state.type === 'L') nextPath = field(data, 0, data.length);
            else if (state.type === 'x') {
              const records = paxRecords(data);
              if (records.has('path')) nextPath = records.get('path');
              if (records.has('size')) nextSize = Number(records.get('size'));
            }
          }
          state = { kind: 'pad', left: state.pad };
        }
        continue;
      }
      if (state.kind === 'pad') {
        const take = Math.min(state.left, buffer.length - offset);
        offset += take;
        state.left -= take;
        if (state.left === 0) state = { kind: 'header' };
        continue;
      }
      if (buffer.length - offset < blockBytes) {
        pending = Buffer.from(buffer.subarray(offset));
        break;
      }
      const block = buffer.subarray(offset, offset + blockBytes);
      offset += blockBytes;
      if (isZeroBlock(block)) {
        if (++zeroBlocks === 2) ended = true;
        continue;
      }
      if (zeroBlocks > 0) throw new TarFormatError('a tar header follows an end-of-archive block');
      if (!checksumOk(block)) throw new TarFormatError('a tar header has a wrong checksum: not a tar archive, or a damaged one');
      const typeflag = String.fromCharCode(block[156]!);
      const ustar = field(block, 257, 6) === 'ustar';
      const name = field(block, 0, 100);
      const prefix = ustar ? field(block, 345, 155) : '';
      const size = nextSize ?? numberField(block, 124, 12, 'size');
      const pad = (blockBytes - (size % blockBytes)) % blockBytes;
      if (typeflag === 'x' || typeflag === 'L') {
        if (size > 1024 * 1024) throw new TarFormatError('a tar extended header is over 1 MiB');
        state = { kind: 'data', left: size, pad, sink: undefined, meta: [], type: typeflag };
      } else if (typeflag === 'g') {
        state = { kind: 'data', left: size, pad, sink: undefined, meta: undefined, type: typeflag };
      } else {
        const path = nextPath ?? (prefix ? `${prefix}/${name}` : name);
        nextPath = undefined;
        nextSize = undefined;
        const type = typeflag === '0' || typeflag === '\0' ? 'file' : typeflag;
        const sink = await open({ path, size, type });
        state = { kind: 'data', left: size, pad, sink, type };
      }
      if (state.left === 0) {
        if (state.sink) await state.sink.end();
        state = { kind: 'pad', left: pad };
        if (pad === 0) state = { kind: 'header' };
      }
    }
  }
  if (state.kind === 'data') throw new TarFormatError(`the tar archive ends inside an entry, ${state.left} bytes short (truncated)`);
  if (pending || state.kind === 'pad') throw new TarFormatError('the tar archive ends inside a header (truncated)');
}
