// The centre's way into a delivered file: decrypt with the centre's key, require the signature of the
// expected GEO, gunzip and unpack into a directory. Unpacking goes to a staging directory that becomes
// the result only after the whole file was read and verified; anything that fails verification is
// removed, so nothing unverified is ever loaded.
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
import { dumpEntryPattern, manifestEntry } from './dump-archive.js';
import { parseDumpManifest, type DumpManifest } from './dump-manifest.js';
import { readTar, type TarEntrySink } from './tar-reader.js';

export interface OpenDeliveryOptions {
  file: string;
  decryptionKeys: PrivateKey | PrivateKey[];
  expectedSigningKeys: PublicKey | PublicKey[];
  /** Where the dump ends up; must not exist yet. Its parent is created. */
  dir: string;
  signal?: AbortSignal;
  /** How messages name the file (default: its path). */
  label?: string;
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
 * The last stage of the pipeline: reads the tar and writes only the entries a dump may hold, as plain
 * 0600 files; any other entry (a link, a device, an unexpected path) refuses the whole archive.
 */
function unpackInto(dir: string, counter: { bytes: number }) {
  return (source: AsyncIterable<Buffer>): Promise<void> =>
    readTar(source, async (entry) => {
      if (entry.type !== 'file' || !dumpEntryPattern.test(entry.path)) {
        throw new DeliveryRefusal(`the archive holds an unexpected entry ${JSON.stringify(entry.path)} (${entry.type === 'file' ? 'File' : `type ${entry.type}`})`);
      }
      const target = join(dir, entry.path);
      counter.bytes += entry.size;
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      return fileSink(target);
    });
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
    const plaintext = openStream(createReadStream(options.file, { highWaterMark: 1024 * 1024 }), {
      decryptionKeys: options.decryptionKeys,
      expectedSigningKeys: options.expectedSigningKeys,
      label: options.label ?? options.file,
    });
    const sink = unpackInto(staging, counter);
    await pipeline(plaintext, decompress, sink, { signal: options.signal });
    const { signerFingerprint } = await plaintext.verified;
    const manifest = parseDumpManifest(await readFile(join(staging, manifestEntry), 'utf8').catch(() => {
      throw new DeliveryRefusal('the archive has no manifest.json: the agent did not finish it');
    }));
    await rename(staging, options.dir);
    return { dir: options.dir, signerFingerprint, manifest, bytes: counter.bytes };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    if (error instanceof OpenPgpRefusal || options.signal?.aborted || isLocalFault(error)) throw error;
    throw await verdictOf(options, error);
  }
}

const isLocalFault = (error: unknown) => ['ENOSPC', 'EDQUOT', 'EACCES', 'EROFS', 'EMFILE'].includes((error as NodeJS.ErrnoException).code ?? '');

/**
 * Plaintext streams out before the integrity check, so a damaged file usually trips gunzip or tar
 * first. What the operator needs is the OpenPGP verdict: read the message to its end to get it.
 */
async function verdictOf(options: OpenDeliveryOptions, unpackError: unknown): Promise<Error> {
  const plaintext = openStream(createReadStream(options.file, { highWaterMark: 1024 * 1024 }), {
    decryptionKeys: options.decryptionKeys,
    expectedSigningKeys: options.expectedSigningKeys,
    label: options.label ?? options.file,
  });
  try {
    await pipeline(plaintext, new Writable({ write: (_chunk, _encoding, done) => done() }));
    await plaintext.verified;
  } catch (error) {
    if (error instanceof OpenPgpRefusal) return error;
  }
  return new DeliveryRefusal(`decrypted and signed by the expected key, but not a compressed tar dump: ${(unpackError as Error).message ?? String(unpackError)}`);
}
