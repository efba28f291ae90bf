// Decrypt + verify as a stream: what the centre does to a file a GEO delivered.
//
// The contract (openpgp.js streams plaintext before it can know whether the file is good):
// - bytes come out of the returned stream BEFORE the integrity check (MDC) and the signature are checked;
// - the stream ends ('end', a pipeline resolving) only if both passed; otherwise it is destroyed with an
//   OpenPgpRefusal in place of its end, after the last byte;
// - `verified` settles after that: it resolves with the signer once 'end' was emitted, and rejects with
//   the refusal (or because the stream was closed early).
// So a caller treats what came out as good only once `await pipeline(...)` and `await opened.verified`
// both succeeded: load into a staging place, and mark done only then.
import type { Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import type { Message, PrivateKey, PublicKey } from 'openpgp';
import { fingerprintOf } from './keys.js';
import { fromPullStream, toPullStream } from './web-streams.js';
import { classifyFailure, OpenPgpRefusal, type OpenStage } from './refusal.js';

export { OpenPgpRefusal, type RefusalReason } from './refusal.js';

export interface OpenOptions {
  /** The centre's unlocked private key(s). */
  decryptionKeys: PrivateKey | PrivateKey[];
  /** The GEO key(s) a valid signature must come from; anything else is refused. */
  expectedSigningKeys: PublicKey | PublicKey[];
  /** Names the file in refusal messages, e.g. its path or inbox name. */
  label?: string;
}

export interface Verification {
  /** Primary key fingerprint (upper-case hex) of the expected key that made the valid signature. */
  signerFingerprint: string;
}

export interface OpenedStream extends Readable {
  /** Settles only after the stream ended; see the contract at the top of open.ts. */
  readonly verified: Promise<Verification>;
}

type VerificationResult = Awaited<ReturnType<typeof openpgp.decrypt>>['signatures'][number];

export function openStream(input: AsyncIterable<Uint8Array | string>, options: OpenOptions): OpenedStream {
  const label = options.label ?? 'OpenPGP message';
  const decryptionKeys = [options.decryptionKeys].flat();
  const expectedKeys = [options.expectedSigningKeys].flat();
  const tally = { firstByte: undefined as number | undefined, bytesRead: 0 };
  let sourceError: unknown;
  let signatures: VerificationResult[] = [];
  let verification: Verification | undefined;
  let stage: OpenStage = 'read';
  let anonymousRecipient = false;

  const stream = fromPullStream({
    source: input,
    open: async () => {
      const message = await openpgp.readMessage({
        binaryMessage: toPullStream(tallyChunks(input, tally), (error) => (sourceError = error)),
      });
      anonymousRecipient = assertEncryptedToUs(message, decryptionKeys, label);
      stage = 'decrypt';
      const result = await openpgp.decrypt({
        message,
        decryptionKeys,
        verificationKeys: expectedKeys,
        format: 'binary',
        // Streams instead of holding the whole message (1.6 GB RSS for 500 MB otherwise); the price is
        // that the MDC and signatures are only known at the end, hence the contract above.
        config: { allowUnauthenticatedStream: true },
      });
      // Known before any data: one-pass signature packets precede the literal data.
      if (result.signatures.length === 0) {
        throw new OpenPgpRefusal('unsigned', `${label}: not signed; a signature by ${describeKeys(expectedKeys)} is required`);
      }
      signatures = result.signatures;
      stage = 'data';
      return result.data as ReadableStream<Uint8Array>;
    },
    beforeEnd: async () => {
      verification = await checkSignatures(signatures, expectedKeys, label);
    },
    mapError: (error) => {
      if (sourceError instanceof Error) return sourceError;
      if (error instanceof OpenPgpRefusal) return error;
      return classifyFailure(error, { stage, label, anonymousRecipient, ...tally });
    },
  });

  const verified = new Promise<Verification>((resolve, reject) => {
    stream.once('end', () => resolve(verification!));
    stream.once('close', () => {
      const error = stream.errored;
      if (error instanceof OpenPgpRefusal) return reject(error);
      const why = error ? ` (${error.message})` : '';
      reject(new Error(`${label}: stream closed before the end of the message${why}; nothing was verified`, { cause: error }));
    });
  });
  // A caller that only awaits the pipeline sees the same error there; this is not an unhandled rejection.
  verified.catch(() => {});
  return Object.assign(stream, { verified });
}

/** Refuses before any decryption when the file is not for us; true if only an anonymous recipient may be. */
function assertEncryptedToUs(message: Message<unknown>, decryptionKeys: PrivateKey[], label: string): boolean {
  const recipients = message.getEncryptionKeyIDs();
  if (recipients.length === 0) {
    // readMessage skips unknown packet types, so garbage can "parse" into an empty message.
    const tags = message.packets.map((packet) => (packet.constructor as { tag?: number }).tag);
    const pgpContent = [2, 3, 4, 8, 11, 18].some((tag) => tags.includes(tag));
    throw pgpContent
      ? new OpenPgpRefusal('not-encrypted', `${label}: an OpenPGP message, but not encrypted to a public key`)
      : new OpenPgpRefusal('not-openpgp', `${label}: not an OpenPGP message (no recognisable packets)`);
  }
  const ours = decryptionKeys.flatMap((key) => key.getKeys().map((k) => k.getKeyID()));
  if (recipients.some((id) => ours.some((own) => own.equals(id)))) return false;
  // All-zero key IDs are anonymous recipients (gpg --throw-keyids): only trying can tell.
  if (recipients.some((id) => /^0+$/.test(id.toHex()))) return true;
  const to = recipients.map((id) => id.toHex().toUpperCase()).join(', ');
  throw new OpenPgpRefusal('wrong-key', `${label}: encrypted to key ID ${to}, not to ${describeKeys(decryptionKeys)}`);
}

/** Passes chunks through, noting the first byte and the count for refusal messages. */
async function* tallyChunks(
  input: AsyncIterable<Uint8Array | string>,
  tally: { firstByte: number | undefined; bytesRead: number },
): AsyncGenerator<Uint8Array | string> {
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    tally.firstByte ??= bytes[0];
    tally.bytesRead += bytes.length;
    yield bytes;
  }
}

async function checkSignatures(signatures: VerificationResult[], expected: PublicKey[], label: string): Promise<Verification> {
  const problems: string[] = [];
  const strangers: string[] = [];
  for (const signature of signatures) {
    const signer = expected.find((key) => key.getKeys(signature.keyID).length > 0);
    try {
      await signature.verified;
      if (signer) return { signerFingerprint: fingerprintOf(signer) };
    } catch (error) {
      if (signer) problems.push(`by ${fingerprintOf(signer)}: ${error instanceof Error ? error.message : String(error)}`);
      else strangers.push(await describeIssuer(signature));
    }
  }
  if (problems.length > 0) throw new OpenPgpRefusal('bad-signature', `${label}: bad signature ${problems.join('; ')}`);
  throw new OpenPgpRefusal(
    'unexpected-signer',
    `${label}: signed by ${strangers.join(', ')}, not by the expected ${describeKeys(expected)}`,
  );
}

/** The signer's fingerprint when the signature names it (GnuPG 2.2 and openpgp.js do), else its key ID. */
async function describeIssuer(signature: VerificationResult): Promise<string> {
  const packet = (await signature.signature.catch(() => undefined))?.packets[0];
  if (packet?.issuerFingerprint) return `key ${Buffer.from(packet.issuerFingerprint).toString('hex').toUpperCase()}`;
  return `key ID ${signature.keyID.toHex().toUpperCase()}`;
}

function describeKeys(keys: PublicKey[]): string {
  return keys.map((key) => `key ${fingerprintOf(key)}`).join(' or ');
}
