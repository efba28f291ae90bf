// The agent's one stream: dump tar → gzip → OpenPGP (encrypted to the centre, signed by the GEO) → a
// 0600 file, hashing and counting on the way. Plaintext exists only in memory, a chunk at a time.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, constants as zlib } from 'node:zlib';
import type { PrivateKey, PublicKey } from 'openpgp';
import { sealStream } from '../openpgp/seal.js';
import { zstdStream } from './zstd.js';

export interface SealToFileOptions {
  source: AsyncIterable<Buffer>;
  path: string;
  encryptionKeys: PublicKey | PublicKey[];
  signingKey: PrivateKey;
  /** gzip (zlib, level 1 by default) or zstd -1 (the zstd tool, much faster). */
  compression?: 'gzip' | 'zstd';
  /** 1 (fastest, the default) to 9. */
  gzipLevel?: number;
  signal?: AbortSignal;
}

export interface SealedFile {
  size: number;
  sha256: string;
}

export async function sealToFile(options: SealToFileOptions): Promise<SealedFile> {
  const hash = createHash('sha256');
  let size = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  // Opened first: a file that cannot be created fails here, before any encryption starts.
  const file = await open(options.path, 'wx', 0o600);
  await pipeline(
    Readable.from(options.source, { objectMode: false }),
    // Large chunks: fewer, bigger OpenPGP packets and zlib calls; the level trades CPU for size.
    options.compression === 'zstd' ? zstdStream('compress') : createGzip({ level: options.gzipLevel ?? 1, chunkSize: 256 * 1024, strategy: zlib.Z_DEFAULT_STRATEGY }),
    (compressed: AsyncIterable<Uint8Array>) => sealStream(compressed, { encryptionKeys: options.encryptionKeys, signingKey: options.signingKey }),
    measure,
    file.createWriteStream(),
    { signal: options.signal },
  );
  return { size, sha256: hash.digest('hex') };
}
