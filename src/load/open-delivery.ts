// The centre's way into a delivered file as files: decrypt with the centre's key, require the signature of
// the expected GEO, decompress and unpack into a directory (delivery-reader.ts does all but the files).
// Unpacking goes to a staging directory that becomes the result only after the whole file was read and
// verified; anything that fails verification is removed, so nothing unverified is ever loaded.
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { parseDumpManifest, type DumpManifest } from '../dump/dump-manifest.js';
import { readDelivery, type DeliverySource } from './delivery-reader.js';
import type { TarEntrySink } from './tar-reader.js';

export { DeliveryRefusal, UnpackLimitRefusal } from './delivery-reader.js';

export interface OpenDeliveryOptions extends DeliverySource {
  /** Where the dump ends up; must not exist yet. Its parent is created. */
  dir: string;
}

export interface OpenedDelivery {
  dir: string;
  signerFingerprint: string;
  manifest: DumpManifest;
  /** Bytes unpacked (plaintext data files and manifests). */
  bytes: number;
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

export async function openDelivery(options: OpenDeliveryOptions): Promise<OpenedDelivery> {
  const staging = `${options.dir}.unverified`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true, mode: 0o700 });
  try {
    // Each entry as a plain 0600 file, written only once the layout allowed its header.
    const read = await readDelivery(options, {
      async entry(entry) {
        const target = join(staging, entry.path);
        await mkdir(dirname(target), { recursive: true, mode: 0o700 });
        return fileSink(target);
      },
    });
    // Verified by now: whatever is wrong with the manifest is what the GEO signed, and says so itself.
    const manifest = parseDumpManifest(read.manifestText);
    await rename(staging, options.dir);
    return { dir: options.dir, signerFingerprint: read.signerFingerprint, manifest, bytes: read.bytes };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}
