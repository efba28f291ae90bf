// Why the centre refuses a file, as a code for the caller and a one-line message for the operator.
// openpgp.js reports everything as plain Errors; the stage at which one happened says more than its text
// (the same "Unexpected end of packet" is garbage before any packet was recognised, and truncation after).

export type RefusalReason =
  | 'not-openpgp' // not an OpenPGP message at all, or one too damaged to start decrypting
  | 'not-encrypted' // OpenPGP, but not encrypted to a public key (signed only, or password-encrypted)
  | 'truncated' // ends inside a packet: an interrupted transfer
  | 'tampered' // integrity check (MDC) or packet structure failed after decryption started
  | 'wrong-key' // encrypted to someone else's key
  | 'unsigned' // encrypted, but no signature at all
  | 'unexpected-signer' // validly signed, but not by a key we expect for this GEO
  | 'bad-signature'; // claims an expected signer, but the signature does not verify

export class OpenPgpRefusal extends Error {
  override name = 'OpenPgpRefusal';

  constructor(
    readonly reason: RefusalReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Where opening was when openpgp.js failed: parsing the header, decrypting the session key, or streaming. */
export type OpenStage = 'read' | 'decrypt' | 'data';

export interface FailureContext {
  stage: OpenStage;
  label: string;
  /** The first byte of the input, if any came: tells a cut-off OpenPGP header from something else. */
  firstByte: number | undefined;
  bytesRead: number;
  /** True when only an anonymous (all-zero key ID) recipient could have been us. */
  anonymousRecipient: boolean;
}

export function classifyFailure(error: unknown, context: FailureContext): OpenPgpRefusal {
  const { stage, label, bytesRead } = context;
  const detail = (error instanceof Error ? error.message : String(error)).replace(/^Error decrypting message: /, '');
  const refuse = (reason: RefusalReason, message: string) => new OpenPgpRefusal(reason, `${label}: ${message}`, { cause: error });
  const endedEarly = /Unexpected end of packet/i.test(detail);

  if (stage === 'read') {
    if (context.firstByte === undefined) return refuse('not-openpgp', 'not an OpenPGP message (empty)');
    if (endedEarly && startsLikeEncryptedMessage(context.firstByte)) {
      return refuse('truncated', `truncated: ends inside the OpenPGP header after ${bytesRead} bytes`);
    }
    return refuse('not-openpgp', `not an OpenPGP message (${detail})`);
  }
  if (stage === 'decrypt') {
    if (endedEarly || /No encrypted data found/i.test(detail)) {
      return refuse('truncated', `truncated: ends before the encrypted data after ${bytesRead} bytes`);
    }
    if (/Session key decryption failed|Key Data Integrity failed/i.test(detail)) {
      return context.anonymousRecipient
        ? refuse('wrong-key', `not encrypted to our key (anonymous recipient; ${detail})`)
        : refuse('tampered', `the session key for our key does not decrypt: corrupt header (${detail})`);
    }
    if (/Modification detected/i.test(detail)) return refuse('tampered', `integrity check failed: ${detail}`);
    return refuse('not-openpgp', `cannot decrypt this OpenPGP message: ${detail}`);
  }
  if (endedEarly) {
    return refuse('truncated', `truncated after ${bytesRead} bytes: ends inside an OpenPGP packet; discard what came out`);
  }
  if (/Missing trailing signature/i.test(detail)) {
    return refuse('bad-signature', `the signature announced at the start is missing at the end; discard what came out`);
  }
  // After the session key decrypted, any damage shows as a failed MDC or as nonsense packets.
  return refuse('tampered', `integrity check failed (${detail}); the file was modified or damaged, discard what came out`);
}

/**
 * A first packet that is a public-key or symmetric-key encrypted session key, in the new (0xC1, 0xC3) or
 * old (tag in bits 5–2) header format: what every encrypted message, ours or GnuPG's, starts with.
 */
function startsLikeEncryptedMessage(firstByte: number): boolean {
  if (firstByte === 0xc1 || firstByte === 0xc3) return true;
  const oldFormatTag = (firstByte & 0xc0) === 0x80 ? (firstByte >> 2) & 0x0f : -1;
  return oldFormatTag === 1 || oldFormatTag === 3;
}
