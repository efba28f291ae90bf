// The centre's way into a delivered file: decrypt with the centre's key, require the signature of the
// expected GEO, gunzip and unpack into a directory. Unpacking goes to a staging directory that becomes
// the result only after the whole file was read and verified; anything that fails verification is
// removed, so nothing unverified is ever loaded. What it unpacks to is bounded as it streams (a signed
// file can be a decompression bomb) and each entry is checked at its header (dump-layout.ts).
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import type { PrivateKey, PublicKey } from 'openpgp';
import { OpenPgpRefusal, openStream } from '../openpgp/open.js';
import { Readable, Writable } from 'node:stream';
import { isZstd, zstdStream } from './zstd.js';
import { manifestEntry, planEntry } from './dump-archive.js';
import { DumpLayout } from './dump-layout.js';
import { DumpManifestError, parseDumpManifest, type DumpManifest } from './dump-manifest.js';
import { readTar, type TarEntrySink } from './tar-reader.js';

export interface OpenDeliveryOptions {
  /** A path, or a file already opened that reads from its start on each call (an inbox file, opened without following links). */
  file: string | { read(): Readable };
  decryptionKeys: PrivateKey | PrivateKey[];
  expectedSigningKeys: PublicKey | PublicKey[];
  /** Where the dump ends up; must not exist yet. Its parent is created. */
  dir: string;
  signal?: AbortSignal;
  /** How messages name the file (default: its path). */
  label?: string;
  /**
   * The most bytes it may unpack to, counted as they stream out of decryption and out of decompression
   * (tar headers included); past it the delivery is refused at once. `why` names the setting.
   */
  limit?: { bytes: number; why: string };
}

export interface OpenedDelivery {
  dir: string;
  signerFingerprint: string;
  manifest: DumpManifest;
  /** Bytes unpacked (plaintext data files and manifests). */
  bytes: number;
}

export class DeliveryRefusal extends Error {
  override name = 'DeliveryRefusal';
}

/** Past the unpack limit: refused as it is, whatever else the file may be. */
export class UnpackLimitRefusal extends DeliveryRefusal {
  override name = 'UnpackLimitRefusal';
}

function readFileOf(options: OpenDeliveryOptions) {
  const highWaterMark = 1024 * 1024;
  return typeof options.file === 'string' ? createReadStream(options.file, { highWaterMark }) : options.file.read();
}

const labelOf = (options: OpenDeliveryOptions) => options.label ?? (typeof options.file === 'string' ? options.file : 'the delivered file');

/** Passes bytes through until more than the limit have gone by, then refuses the delivery. */
function capBytes(limit: OpenDeliveryOptions['limit'], what: string) {
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let bytes = 0;
    for await (const chunk of source) {
      bytes += chunk.length;
      if (limit && bytes > limit.bytes) throw new UnpackLimitRefusal(`its ${what} passes ${limit.bytes} bytes, the most this delivery may unpack to (${limit.why}); nothing of it is kept`);
      yield chunk;
    }
  };
}

/** An entry's file, written with backpressure; a write error surfaces at the next write or at end. */
function fileSink(path: string): TarEntrySink {
  const stream = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  let failure: Error | undefined;
  stream.on('error', (error) => (failure = error));
  const failed = new Promise<never>((_resolve, reject) => stream.once('error', reject));
  failed.catch(() => undefined);
  return {
    async write(chunk) {
      if (failure) throw failure;
      if (!stream.write(chunk)) await Promise.race([once(stream, 'drain'), failed]);
    },
    async end() {
      if (failure) throw failure;
      await Promise.race([new Promise<void>((resolve) => stream.end(resolve)), failed]);
    },
  };
}

/**
 * The last stage of the pipeline: reads the tar and writes only the entries a dump may hold, in the
 * order and sizes it may hold them (dump-layout.ts), as plain 0600 files; any other entry refuses the
 * whole archive at its header, before a byte of it is written.
 */
function unpackInto(dir: string, counter: { bytes: number }, limit: OpenDeliveryOptions['limit']) {
  const layout = new DumpLayout();
  return (source: AsyncIterable<Buffer>): Promise<void> =>
    readTar(source, async (entry) => {
      const problem = layout.problemWith(entry);
      if (problem) throw new DeliveryRefusal(problem);
      counter.bytes += entry.size;
      if (limit && counter.bytes > limit.bytes) {
        throw new UnpackLimitRefusal(`${JSON.stringify(entry.path)} (${entry.size} bytes) takes the dump past ${limit.bytes} bytes, the most this delivery may unpack to (${limit.why}); nothing of it is kept`);
      }
      const target = join(dir, entry.path);
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      const sink = fileSink(target);
      return entry.path === planEntry ? withPlanCheck(sink, layout) : sink;
    });
}

/** plan.json goes to its file and, once whole, tells the layout which data files the dump holds. */
function withPlanCheck(sink: TarEntrySink, layout: DumpLayout): TarEntrySink {
  const chunks: Buffer[] = [];
  return {
    async write(chunk) {
      chunks.push(Buffer.from(chunk));
      await sink.write(chunk);
    },
    async end() {
      await sink.end();
      const problem = layout.planRead(Buffer.concat(chunks).toString('utf8'));
      if (problem) throw new DeliveryRefusal(problem);
    },
  };
}

/** gzip or zstd, told apart by the first bytes, so files of either agent setting open. */
async function* decompress(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) return;
  async function* all(): AsyncGenerator<Buffer> {
    yield first.value;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  const decompressor = isZstd(first.value) ? zstdStream('decompress') : createGunzip();
  const feeding = pipeline(Readable.from(all()), decompressor).catch((error: unknown) => {
    decompressor.destroy(error as Error);
  });
  yield* decompressor as AsyncIterable<Buffer>;
  await feeding;
}

export async function openDelivery(options: OpenDeliveryOptions): Promise<OpenedDelivery> {
  const staging = `${options.dir}.unverified`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true, mode: 0o700 });
  const counter = { bytes: 0 };
  try {
    const plaintext = openStream(readFileOf(options), {
      decryptionKeys: options.decryptionKeys,
      expectedSigningKeys: options.expectedSigningKeys,
      label: labelOf(options),
    });
    const sink = unpackInto(staging, counter, options.limit);
    await pipeline(plaintext, capBytes(options.limit, 'decrypted data'), decompress, capBytes(options.limit, 'decompressed data'), sink, { signal: options.signal });
    const { signerFingerprint } = await plaintext.verified;
    // Verified by now: whatever is wrong with the manifest is what the GEO signed, and says so itself.
    const manifest = parseDumpManifest(await readFile(join(staging, manifestEntry), 'utf8').catch(() => {
      throw new DeliveryRefusal('the archive has no manifest.json: the agent did not finish it');
    }));
    await rename(staging, options.dir);
    return { dir: options.dir, signerFingerprint, manifest, bytes: counter.bytes };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    if (error instanceof OpenPgpRefusal || error instanceof DumpManifestError || options.signal?.aborted || isLocalFault(error)) throw error;
    throw await verdictOf(options, error);
  }
}

const isLocalFault = (error: unknown) => ['ENOSPC', 'EDQUOT', 'EACCES', 'EROFS', 'EMFILE'].includes((error as NodeJS.ErrnoException).code ?? '');

/**
 * Plaintext streams out before the integrity check, so a damaged file usually trips gunzip or tar
 * first. What the operator needs is the OpenPGP verdict: read the message to its end to get it.
 */
async function verdictOf(options: OpenDeliveryOptions, unpackError: unknown): Promise<Error> {
  const plaintext = openStream(readFileOf(options), {
    decryptionKeys: options.decryptionKeys,
    expectedSigningKeys: options.expectedSigningKeys,
    label: labelOf(options),
  });
  try {
    // Bounded like the unpack: the decrypted data alone can be a bomb (an OpenPGP compressed packet).
    await pipeline(plaintext, capBytes(options.limit, 'decrypted data'), new Writable({ write: (_chunk, _encoding, done) => done() }), { signal: options.signal });
    await plaintext.verified;
  } catch (error) {
    if (error instanceof OpenPgpRefusal) return error;
    if (error instanceof UnpackLimitRefusal || options.signal?.aborted) return error as Error;
  }
  if (unpackError instanceof UnpackLimitRefusal) return unpackError;
  return new DeliveryRefusal(`decrypted and signed by the expected key, but not a compressed tar dump: ${(unpackError as Error).message ?? String(unpackError)}`);
}
