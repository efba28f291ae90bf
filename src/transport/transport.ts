// The one interface every store satisfies (restic's Backend): the inbox, Glassbeam's SFTP server and the
// archive stores all sit behind it. Retrying and dry-run are wrappers around a Transport, never flags in one.
import type { Readable } from 'node:stream';
import { failedError, refusedError } from '../errors.js';

/**
 * What put() reads from. Called once per attempt, so a retry can start again from the first byte:
 * return a fresh stream each time (e.g. `() => createReadStream(file)`), never the same one.
 */
export type PutSource = () => Readable | AsyncIterable<Uint8Array>;

export interface PutOptions {
  /** When known, the upload is refused unless exactly this many bytes arrived. */
  expectedSize?: number;
}

export interface PutResult {
  size: number;
}

export interface TransportStat {
  size: number;
  modifiedAt: Date;
}

export interface TransportEntry extends TransportStat {
  /** Relative to the transport's root, `/`-separated. */
  name: string;
}

export interface Transport {
  /**
   * Stores `name` so that a reader sees either nothing, the old content or the whole new content:
   * the bytes go to `name.part`, its size is checked, then it is renamed over `name` in one step.
   */
  put(name: string, source: PutSource, options?: PutOptions): Promise<PutResult>;
  /** undefined when there is no such file. */
  stat(name: string): Promise<TransportStat | undefined>;
  /** Every complete file whose name starts with `prefix`, sorted by name; `.part` files never appear. */
  list(prefix?: string): Promise<TransportEntry[]>;
  /** Fails (exit code "failed") when there is no such file. */
  get(name: string): Promise<Readable>;
  /** Removing a file that is not there is not an error: a retried remove must not fail. */
  remove(name: string): Promise<void>;
  /** Ends sessions and sockets; the transport reconnects if used again. */
  close(): Promise<void>;
  /** Where this transport points, for messages: never a key, password or token. */
  describe(): string;
  /**
   * Stores `name` as a copy of `sourceName` in `source` that the store makes itself: no byte of it passes
   * through this process. undefined when the two cannot (another kind of store, another server, account or
   * key), and the caller streams get() into put() instead. The copy holds the source as it was when the
   * store read it; a caller that needs particular bytes reads the copy back (the source may change, the
   * copy only through this transport).
   */
  copyFrom?(source: Transport, sourceName: string, name: string): Promise<PutResult | undefined>;
  /** The store itself under wrappers such as withRetry: what copyFrom recognises a source of its own kind by. */
  unwrap?(): Transport;
}

export const partSuffix = '.part';

export const isPartName = (name: string): boolean => name.endsWith(partSuffix);

/**
 * Refuses anything but a plain file name or a relative path below the root, before any I/O: a name
 * comes from a GEO or a config file and must not be able to reach outside the transport's directory.
 */
export function checkName(name: string): string {
  const problem = nameProblem(name, false);
  if (problem) throw refusedError(`refused transport file name ${JSON.stringify(name)}: ${problem}`, 'use a plain file name or a relative path without ".."');
  return name;
}

/** A list() prefix: like a name, but may be empty or end with `/`. */
export function checkPrefix(prefix: string): string {
  const problem = prefix === '' ? undefined : nameProblem(prefix, true);
  if (problem) throw refusedError(`refused transport list prefix ${JSON.stringify(prefix)}: ${problem}`, 'use a relative path without ".."');
  return prefix;
}

function nameProblem(name: string, isPrefix: boolean): string | undefined {
  if (name === '') return 'it is empty';
  if (name.includes('\0')) return 'it contains a NUL byte';
  if (/[\x00-\x1f\x7f]/.test(name)) return 'it contains a control character';
  if (name.startsWith('/')) return 'it is absolute';
  if (name.includes('\\')) return 'it contains a backslash';
  const segments = name.split('/');
  if (isPrefix && segments.at(-1) === '') segments.pop();
  if (segments.some((segment) => segment === '..')) return 'it contains ".."';
  if (segments.some((segment) => segment === '.' || segment === '')) return 'it contains an empty or "." path segment';
  if (!isPrefix && isPartName(name)) return `names ending in ${partSuffix} are reserved for uploads in progress`;
  return undefined;
}

/** The directory part of a prefix, where a listing has to start: `a/b/c` → `a/b`, `abc` → ``. */
export function prefixDir(prefix: string): string {
  const slash = prefix.lastIndexOf('/');
  return slash < 0 ? '' : prefix.slice(0, slash);
}

/**
 * Reads one attempt of a put() source as Buffers and counts the bytes. A failure of the source is
 * remembered in `sourceError`: it is the caller's (a file, an encryptor), not the store's, and must be
 * rethrown as it was, not mapped to a transport error nor retried.
 */
export class CountedSource {
  bytes = 0;
  sourceError: unknown = undefined;

  constructor(private readonly source: PutSource) {}

  async *chunks(): AsyncGenerator<Buffer> {
    let iterable: AsyncIterable<Uint8Array>;
    try {
      iterable = this.source();
    } catch (error) {
      this.sourceError = error;
      throw error;
    }
    const iterator = iterable[Symbol.asyncIterator]();
    try {
      for (;;) {
        let buffer: Buffer;
        try {
          const step = await iterator.next();
          if (step.done) return;
          buffer = toBuffer(step.value as unknown);
        } catch (error) {
          this.sourceError = error;
          throw error;
        }
        this.bytes += buffer.length;
        yield buffer;
      }
    } finally {
      // Stops (and for a Readable, destroys) the source when the upload ends early.
      await iterator.return?.().catch(() => {});
    }
  }
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  // A Readable in string mode yields strings.
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new TypeError(`a put() source yielded ${typeof chunk}, not bytes`);
}

/** The size check before the rename; a short or long .part never gets the final name. */
export function checkPutSize(address: string, name: string, counted: number, stored: number, options: PutOptions | undefined): void {
  if (stored !== counted) {
    throw failedError(
      `${address}: ${name}${partSuffix} holds ${stored} bytes after sending ${counted}; it was not renamed to ${name}`,
      'send it again; if this repeats, check free space on the receiving side',
    );
  }
  const expected = options?.expectedSize;
  if (expected !== undefined && expected !== counted) {
    throw failedError(
      `${address}: the source of ${name} gave ${counted} bytes, not the ${expected} expected; it was not stored`,
      'the file changed while it was being sent; send it again',
    );
  }
}

/** Joins small chunks into ones of at least `bytes`, for stores where each chunk costs a round trip. */
export async function* coalesce(chunks: AsyncIterable<Buffer>, bytes: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of chunks) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= bytes) {
      yield pending.length === 1 ? chunk : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

/** A cleanup that must not hide the error that caused it. */
export async function quietly(action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
  } catch {
    // the original error is the one worth reporting
  }
}
