// Request bodies of the status API. Strict: unknown fields are refused by name, so a typo in an agent
// or a tool is caught at once instead of being silently ignored.
import { z } from 'zod';

export const geoName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, _ or - (1-32 characters)');
export const cycleText = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}$/, 'a UTC hour written YYYY-MM-DDTHH');
// A lone UTF-16 surrogate (a JSON escape such as \ud800) would be stored as U+FFFD without a word: refused.
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const unicodeText = () => z.string().refine((text) => !loneSurrogate.test(text), 'valid Unicode (no lone surrogate escapes)');
const boundedText = (max: number) => z.string().max(max, `at most ${max} characters`).refine((text) => !loneSurrogate.test(text), 'valid Unicode (no lone surrogate escapes)');

/** The events table's message column holds this many characters: a longer message is cut, and says so. */
export const maxEventMessageChars = 1000;

/** `text` cut to maxChars characters (code points, as the column counts them), ending in a note of what was cut. */
export function capText(text: string, maxChars: number): string {
  const chars = Array.from(text);
  if (chars.length <= maxChars) return text;
  const marker = (cut: number) => `… [${cut} more characters cut]`;
  const kept = maxChars - marker(chars.length).length;
  return chars.slice(0, kept).join('') + marker(chars.length - kept);
}

// Client times are stored in DATETIME columns after conversion to UTC. Nothing Ganymede records happened
// before 2000; an agent more than a day ahead has a broken clock. Outside that window a time is refused
// rather than stored wrong: 9999-12-31T23:59:59-12:00 is past DATETIME's range once in UTC.
const earliestClientTimeMs = Date.UTC(2000, 0, 1);
const clientTimeAheadMs = 24 * 3_600_000;
const clientTime = z.iso
  .datetime({ offset: true })
  .refine((text) => {
    const at = Date.parse(text);
    return at >= earliestClientTimeMs && at <= Date.now() + clientTimeAheadMs;
  }, 'a time from 2000-01-01 to at most a day from now');
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const armoredKey = z
  .string()
  // The column is a TEXT: 65,535 bytes, not characters.
  .refine((text) => Buffer.byteLength(text) <= 65_535, 'at most 64 KiB')
  .regex(/-----BEGIN PGP PUBLIC KEY BLOCK-----/, 'an armored OpenPGP public key');

export const openTransactionBody = z.strictObject({
  cycle: cycleText,
  force: z.boolean().optional(),
  // Stored exactly as sent, control characters included: whatever prints it escapes them.
  agentHost: boundedText(191).optional(),
});

export const statusEvent = z.strictObject({
  key: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, '1-64 characters of A-Z a-z 0-9 . _ : -').optional(),
  at: clientTime,
  level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  phase: z.string().regex(/^[a-z][a-z0-9_.-]{0,31}$/, 'a lower-case word of at most 32 characters'),
  table: boundedText(64).optional(),
  rows: count.optional(),
  bytes: count.optional(),
  message: unicodeText()
    .transform((text) => capText(text, maxEventMessageChars))
    .optional(),
});

export const eventsBody = (maxEvents: number) =>
  z.strictObject({
    events: z.array(statusEvent).min(1, 'at least one event').max(maxEvents, `at most ${maxEvents} events per request`),
  });

const deliveredFile = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,190}$/, 'a plain file name (letters, digits, . _ -), no path'),
  size: count,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits'),
});

export const closeTransactionBody = z.strictObject({ file: deliveredFile });

/** POST /v1/transactions/:id/upload and …/upload/complete: the file the agent will deliver, as it closes with it. */
export const uploadBody = z.strictObject({ file: deliveredFile });

export const failTransactionBody = z.strictObject({
  reason: unicodeText().min(1).max(2000, 'at most 2000 characters'),
});

export const addGeoBody = z.strictObject({
  name: geoName,
  publicKey: armoredKey,
});

export const patchGeoBody = z.strictObject({
  enabled: z.boolean(),
});

export const rotateKeyBody = z.strictObject({
  publicKey: armoredKey,
  /** The old key may be compromised: it stops verifying even the files delivered before the rotation. */
  revokeOldKey: z.boolean().optional(),
});

export const listTransactionsQuery = z.strictObject({
  geo: geoName.optional(),
  state: z.enum(['open', 'agent_failed', 'delivered', 'processing', 'done', 'failed', 'refused', 'cancelled']).optional(),
  from: cycleText.optional(),
  to: cycleText.optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

export const warehouseLookupQuery = z.strictObject({
  history: z.enum(['1', 'true', '0', 'false']).optional(),
  /** The id is then the key part alone, as with `ganymede lookup --geo`. */
  geo: geoName.optional(),
  limit: z.coerce.number().int().min(1).max(100_000).optional(),
});
