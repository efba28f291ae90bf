// Encrypt + sign as a stream: what a GEO agent does to a compressed dump before it leaves the site.
// The output is what `gpg --encrypt --sign --compress-algo none` would write: binary, SEIPDv1 with MDC,
// AES-256, one-pass signature, no compression layer (the input is already zstd/gzip).
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import type { PrivateKey, PublicKey } from 'openpgp';
import { fromPullStream, toPullStream } from './web-streams.js';

export interface SealOptions {
  /** The centre's key (more than one: each can open the file). */
  encryptionKeys: PublicKey | PublicKey[];
  /** The GEO's unlocked private key; the centre refuses files not signed by the key it expects. */
  signingKey: PrivateKey;
  /** Name stored in the literal data packet; informational only (gpg ignores it unless told otherwise). */
  filename?: string;
}

/**
 * Returns the sealed bytes of `input` as a Node Readable. Composes in a pipeline as a function stage:
 * `pipeline(dump, compressor, (source) => sealStream(source, options), file)`. Errors of `input` and of
 * openpgp.js surface as errors of the returned stream.
 */
export function sealStream(input: AsyncIterable<Uint8Array | string>, options: SealOptions): Readable {
  let sourceError: unknown;
  return fromPullStream({
    source: input,
    open: async () => {
      // The first chunk is read before openpgp.js starts: a source that fails at once must fail here,
      // because openpgp.js leaves a signature promise that rejects unhandled if cancelled before output.
      const iterator = input[Symbol.asyncIterator]();
      const first = await iterator.next();
      const rest = (async function* () {
        if (first.done) return;
        yield first.value;
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
      })();
      const message = await openpgp.createMessage({
        binary: toPullStream(rest, (error) => (sourceError = error)),
        format: 'binary',
        ...(options.filename === undefined ? {} : { filename: options.filename }),
      });
      return openpgp.encrypt({
        message,
        encryptionKeys: options.encryptionKeys,
        signingKeys: options.signingKey,
        // Our own session key pins SEIPDv1: openpgp.js otherwise switches to SEIPDv2 (AEAD) whenever every
        // recipient key advertises it, whatever config.aeadProtect says, and GnuPG 2.2 cannot read that.
        sessionKey: { data: new Uint8Array(randomBytes(32)), algorithm: 'aes256' },
        format: 'binary',
        config: {
          aeadProtect: false,
          preferredCompressionAlgorithm: openpgp.enums.compression.uncompressed,
        },
      });
    },
    // A failing source (the compressor, the dump) keeps its own error rather than openpgp.js's rewording.
    mapError: (error) =>
      sourceError instanceof Error
        ? sourceError
        : new Error(`OpenPGP seal failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error }),
  });
}
