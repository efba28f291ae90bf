// The centre's one way through a delivered file, shared by whatever opens one (open-delivery.ts unpacks it
// to files, load-delivery.ts streams it into MySQL, verify-delivery.ts only checks it): decrypt with the
// centre's key, decompress (zstd or gzip), read the tar strictly, check each entry against the dump layout
// and the unpack limit at its header, and verify the signature once the stream ended. openpgp.js hands
// out plaintext before its integrity check (MEASUREMENTS.md): what a consumer did with the bytes is
// trusted only once readDelivery resolved.
import { createReadStream } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { PrivateKey, PublicKey } from 'openpgp';
import { OpenPgpRefusal, openStream } from '../openpgp/open.js';
import { manifestEntry, planEntry } from '../dump/dump-archive.js';
import { DumpLayout } from '../dump/dump-layout.js';
import { DumpManifestError } from '../dump/dump-manifest.js';
import { readTar, type TarEntryHeader, type TarEntrySink } from './tar-reader.js';
import { isZstd, zstdStream } from '../dump/zstd.js';

export interface DeliverySource {
  /** A path, or a file already opened that reads from its start on each call (an inbox file, opened without following links). */
  file: string | { read(): Readable };
  decryptionKeys: PrivateKey | PrivateKey[];
  expectedSigningKeys: PublicKey | PublicKey[];
  signal?: AbortSignal | undefined;
  /** How messages name the file (default: its path). */
  label?: string | undefined;
  /**
   * The most bytes it may unpack to, counted as they stream out of decryption and out of decompression
   * (tar headers included); past it the delivery is refused at once. `why` names the setting.
   */
  limit?: { bytes: number; why: string } | undefined;
}

/** What a consumer does with the entries the layout allowed. */
export interface DeliveryConsumer {
  /** Called at each entry's header, once the layout and the limit allowed it; its bytes go to the sink returned. */
  entry(entry: TarEntryHeader): Promise<TarEntrySink>;
  /** plan.json, once whole (after its own sink ended) and before any data part. */
  plan?(text: string): void | Promise<void>;
  /** The read failed or was stopped: release whatever waits for more bytes. Called before the verdict is sought. */
  abort?(error: Error): void;
}

export interface ReadDelivery {
  signerFingerprint: string;
  /** Bytes of the entries (data parts and both JSON files). */
  bytes: number;
  /** manifest.json as the GEO signed it; not parsed here (its parser's error says what is wrong). */
  manifestText: string;
}

export class DeliveryRefusal extends Error {
  override name = 'DeliveryRefusal';
}

/** Past the unpack limit: refused as it is, whatever else the file may be. */
export class UnpackLimitRefusal extends DeliveryRefusal {
  override name = 'UnpackLimitRefusal';
}

function readFileOf(source: DeliverySource): Readable {
  const highWaterMark = 1024 * 1024;
  return typeof source.file === 'string' ? createReadStream(source.file, { highWaterMark }) : source.file.read();
}

const labelOf = (source: DeliverySource) => source.label ?? (typeof source.file === 'string' ? source.file : 'the delivered file');

function decryptedStream(source: DeliverySource) {
  return openStream(readFileOf(source), { decryptionKeys: source.decryptionKeys, expectedSigningKeys: source.expectedSigningKeys, label: labelOf(source) });
}

/** Passes bytes through until more than the limit have gone by, then refuses the delivery. */
function capBytes(limit: DeliverySource['limit'], what: string) {
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let bytes = 0;
    for await (const chunk of source) {
      bytes += chunk.length;
      if (limit && bytes > limit.bytes) throw new UnpackLimitRefusal(`its ${what} passes ${limit.bytes} bytes, the most this delivery may unpack to (${limit.why}); nothing of it is kept`);
      yield chunk;
    }
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

/** Collects a JSON entry's text while its bytes also go on to the consumer's sink. */
function collecting(sink: TarEntrySink, done: (text: string) => void | Promise<void>): TarEntrySink {
  const chunks: Buffer[] = [];
  return {
    async write(chunk) {
      chunks.push(Buffer.from(chunk));
      await sink.write(chunk);
    },
    async end() {
      await sink.end();
      await done(Buffer.concat(chunks).toString('utf8'));
    },
  };
}

/**
 * Reads the whole delivery through `consumer` and resolves once the signature of an expected key was
 * verified at its end. Refusals name what is wrong with the file (OpenPgpRefusal, DeliveryRefusal,
 * UnpackLimitRefusal); an error of the consumer's own (a disk, a database) comes out as it was thrown.
 */
export async function readDelivery(source: DeliverySource, consumer: DeliveryConsumer): Promise<ReadDelivery> {
  const layout = new DumpLayout();
  const fromConsumer = new WeakSet<object>();
  const theirs = async <T>(call: () => T | Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      // A refusal, or a dump file the consumer could not read, is about the data: it gets the OpenPGP verdict.
      if (error instanceof Object && !(error instanceof DeliveryRefusal) && !(error instanceof DumpManifestError)) fromConsumer.add(error);
      throw error;
    }
  };
  let bytes = 0;
  let manifestText: string | undefined;
  const sinkOf = async (entry: TarEntryHeader): Promise<TarEntrySink> => {
    const problem = layout.problemWith(entry);
    if (problem) throw new DeliveryRefusal(problem);
    bytes += entry.size;
    if (source.limit && bytes > source.limit.bytes) {
      throw new UnpackLimitRefusal(`${JSON.stringify(entry.path)} (${entry.size} bytes) takes the dump past ${source.limit.bytes} bytes, the most this delivery may unpack to (${source.limit.why}); nothing of it is kept`);
    }
    const sink = await theirs(() => consumer.entry(entry));
    const guarded: TarEntrySink = { write: (chunk) => theirs(() => sink.write(chunk)), end: () => theirs(() => sink.end()) };
    if (entry.path === planEntry) {
      return collecting(guarded, async (text) => {
        const refused = layout.planRead(text);
        if (refused) throw new DeliveryRefusal(refused);
        await theirs(() => consumer.plan?.(text));
      });
    }
    if (entry.path === manifestEntry) return collecting(guarded, (text) => void (manifestText = text));
    return guarded;
  };

  let signerFingerprint: string;
  try {
    const plaintext = decryptedStream(source);
    await pipeline(plaintext, capBytes(source.limit, 'decrypted data'), decompress, capBytes(source.limit, 'decompressed data'), (tar: AsyncIterable<Buffer>) => readTar(tar, sinkOf), {
      signal: source.signal,
    });
    ({ signerFingerprint } = await plaintext.verified);
  } catch (error) {
    consumer.abort?.(error as Error);
    if (error instanceof OpenPgpRefusal || source.signal?.aborted || isLocalFault(error)) throw error;
    if (error instanceof Object && fromConsumer.has(error)) throw error;
    throw await verdictOf(source, error);
  }
  // Verified by now: a missing manifest is what the GEO signed.
  if (manifestText === undefined) throw new DeliveryRefusal('the archive has no manifest.json: the agent did not finish it');
  return { signerFingerprint, bytes, manifestText };
}

const isLocalFault = (error: unknown) => ['ENOSPC', 'EDQUOT', 'EACCES', 'EROFS', 'EMFILE'].includes((error as NodeJS.ErrnoException).code ?? '');

/**
 * Plaintext streams out before the integrity check, so a damaged file usually trips decompression or the
 * tar reader first. What the operator needs is the OpenPGP verdict: read the message to its end to get it.
 */
async function verdictOf(source: DeliverySource, unpackError: unknown): Promise<Error> {
  const plaintext = decryptedStream(source);
  try {
    // Bounded like the unpack: the decrypted data alone can be a bomb (an OpenPGP compressed packet).
    await pipeline(plaintext, capBytes(source.limit, 'decrypted data'), new Writable({ write: (_chunk, _encoding, done) => done() }), { signal: source.signal });
    await plaintext.verified;
  } catch (error) {
    if (error instanceof OpenPgpRefusal) return error;
    if (error instanceof UnpackLimitRefusal || source.signal?.aborted) return error as Error;
  }
  // Both say what is wrong themselves: past the limit, or a plan the consumer read that is not a dump plan.
  if (unpackError instanceof UnpackLimitRefusal || unpackError instanceof DumpManifestError) return unpackError;
  return new DeliveryRefusal(`decrypted and signed by the expected key, but not a compressed tar dump: ${(unpackError as Error).message ?? String(unpackError)}`);
}
