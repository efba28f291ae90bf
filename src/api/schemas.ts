// Request bodies of the status API. Strict: unknown fields are refused by name, so a typo in an agent
// or a tool is caught at once instead of being silently ignored.
import { z } from 'zod';

export const geoName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, _ or - (1-32 characters)');
export const cycleText = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}$/, 'a UTC hour written YYYY-MM-DDTHH');
const boundedText = (max: number) => z.string().max(max, `at most ${max} characters`);
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const armoredKey = z
  .string()
  .max(64 * 1024, 'at most 64 KiB')
  .regex(/-----BEGIN PGP PUBLIC KEY BLOCK-----/, 'an armored OpenPGP public key');

export const openTransactionBody = z.strictObject({
  cycle: cycleText,
  force: z.boolean().optional(),
  agentHost: boundedText(191).optional(),
});

export const statusEvent = z.strictObject({
  key: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, '1-64 characters of A-Z a-z 0-9 . _ : -').optional(),
  at: z.iso.datetime({ offset: true }),
  level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  phase: z.string().regex(/^[a-z][a-z0-9_.-]{0,31}$/, 'a lower-case word of at most 32 characters'),
  table: boundedText(64).optional(),
  rows: count.optional(),
  bytes: count.optional(),
  message: boundedText(1000).optional(),
});

export const eventsBody = (maxEvents: number) =>
  z.strictObject({
    events: z.array(statusEvent).min(1, 'at least one event').max(maxEvents, `at most ${maxEvents} events per request`),
  });

export const closeTransactionBody = z.strictObject({
  file: z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,190}$/, 'a plain file name (letters, digits, . _ -), no path'),
    size: count,
    sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits'),
  }),
});

export const failTransactionBody = z.strictObject({
  reason: z.string().min(1).max(2000, 'at most 2000 characters'),
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
