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

/**
 * A numeric header field: octal digits (space or NUL ended), or GNU base-256 (high bit of the first byte
 * set). Every value is range-checked: a GEO signs whatever bytes it likes, and a size that is negative or
 * past 2^53 once sent this reader backwards over the same bytes forever.
 */
function numberField(block: Buffer, start: number, length: number, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const raw = block.subarray(start, start + length);
  let value: number;
  if (raw[0] === 0xff) throw new TarFormatError(`a tar header's ${what} is negative (base-256)`);
  if ((raw[0]! & 0x80) !== 0) {
    value = raw[0]! & 0x7f;
    for (const byte of raw.subarray(1)) value = value * 256 + byte;
  } else {
    const text = field(block, start, length).trim();
    if (text !== '' && !/^[0-7]+$/.test(text)) throw new TarFormatError(`a tar header's ${what} is not an octal number: ${JSON.stringify(text.slice(0, 20))}`);
    value = text === '' ? 0 : Number.parseInt(text, 8);
  }
  if (!Number.isSafeInteger(value) || value > max) throw new TarFormatError(`a tar header's ${what} is out of range (over ${max})`);
  return value;
}

/** The numeric fields this reader does not use, checked all the same: a header with any out of range is not one a tar tool wrote. */
function checkOtherNumbers(block: Buffer, ustar: boolean): void {
  numberField(block, 100, 8, 'mode', 0o7777777);
  numberField(block, 108, 8, 'uid', 0xffff_ffff);
  numberField(block, 116, 8, 'gid', 0xffff_ffff);
  numberField(block, 136, 12, 'mtime');
  if (ustar) {
    numberField(block, 329, 8, 'device major number', 0xffff_ffff);
    numberField(block, 337, 8, 'device minor number', 0xffff_ffff);
  }
}

function checksumOk(block: Buffer): boolean {
  const stored = numberField(block, 148, 8, 'checksum');
  let sum = 8 * 0x20;
  for (let i = 0; i < blockBytes; i++) if (i < 148 || i >= 156) sum += block[i]!;
  return sum === stored;
}

const isZeroBlock = (block: Buffer) => block.every((byte) => byte === 0);

/** Meta entries (pax headers, GNU long names) are read into memory: none a tar tool writes comes near this. */
export const maxMetaEntryBytes = 1024 * 1024;

/** pax keys whose value is a number, with what it may be. */
const paxNumbers: Record<string, RegExp> = {
  size: /^[0-9]{1,16}$/,
  uid: /^[0-9]{1,10}$/,
  gid: /^[0-9]{1,10}$/,
  mtime: /^-?[0-9]{1,16}(\.[0-9]{1,9})?$/,
  atime: /^-?[0-9]{1,16}(\.[0-9]{1,9})?$/,
  ctime: /^-?[0-9]{1,16}(\.[0-9]{1,9})?$/,
};

/** The records of a pax extended header ("<len> <key>=<value>\n" each), every numeric one range-checked. */
function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    const lengthText = space < 0 ? '' : data.subarray(offset, space).toString('ascii');
    const length = /^[1-9][0-9]{0,6}$/.test(lengthText) ? Number(lengthText) : 0;
    if (length === 0 || offset + length > data.length || space >= offset + length - 1 || data[offset + length - 1] !== 0x0a) {
      throw new TarFormatError('a pax header record is malformed');
    }
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (equals > 0) {
      const key = record.slice(0, equals);
      const value = record.slice(equals + 1);
      const pattern = paxNumbers[key];
      if (pattern && (!pattern.test(value) || Math.abs(Number(value)) > Number.MAX_SAFE_INTEGER)) {
        throw new TarFormatError(`a pax header's ${key} is not a number in range: ${JSON.stringify(value.slice(0, 20))}`);
      }
      records.set(key, value);
    }
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
      checkOtherNumbers(block, ustar);
      const meta = typeflag === 'x' || typeflag === 'L' || typeflag === 'g';
      // A pax size stands for the size of the file entry it precedes, never of another meta entry.
      const size = meta ? numberField(block, 124, 12, 'size') : (nextSize ?? numberField(block, 124, 12, 'size'));
      const pad = (blockBytes - (size % blockBytes)) % blockBytes;
      if (meta && size > maxMetaEntryBytes) throw new TarFormatError(`a tar ${typeflag === 'L' ? 'long name' : 'extended header'} is over 1 MiB (${size} bytes)`);
      if (typeflag === 'x' || typeflag === 'L') {
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
