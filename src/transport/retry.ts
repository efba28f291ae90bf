// Retrying as a wrapper around any transport (restic's backend_retry.go), so no store retries on its own.
// Only a lost or unreachable store is worth another try; a wrong key, a refused path or a bad name fails
// the same way every time and is reported at once.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { GanymedeError, messageOf } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { PutOptions, PutResult, PutSource, Transport, TransportEntry, TransportStat } from './transport.js';

export interface RetryOptions {
  /** Tries in all, the first included. */
  maxAttempts?: number;
  /** The wait before the second try; it doubles each time, up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** One line per retry, for the log. */
  onRetry?: (line: string, event: RetryEvent) => void;
  /** [0, 1): the jitter; injectable so tests are deterministic. */
  random?: () => number;
  /** Injectable so tests need not wait. */
  wait?: (delayMs: number) => Promise<void>;
}

export interface RetryEvent {
  operation: string;
  /** The attempt that failed, from 1. */
  attempt: number;
  maxAttempts: number;
  delayMs: number;
  error: GanymedeError;
}

export const defaultRetry = {
  maxAttempts: 6,
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
} as const;

/** Whether another attempt may succeed: the store was unreachable or the connection dropped. */
export function isTransient(error: unknown): error is GanymedeError {
  return error instanceof GanymedeError && error.exitCode === ExitCode.unreachable;
}

/**
 * The wait after failed attempt `attempt` (from 1): exponential, capped, with "equal jitter" (half fixed,
 * half random) so that GEOs cut off together do not all come back in the same second.
 */
export function backoffDelayMs(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exponential / 2 + (exponential / 2) * random());
}

export function withRetry(transport: Transport, options: RetryOptions = {}): Transport {
  const maxAttempts = Math.max(1, options.maxAttempts ?? defaultRetry.maxAttempts);
  const baseDelayMs = options.baseDelayMs ?? defaultRetry.baseDelayMs;
  const maxDelayMs = options.maxDelayMs ?? defaultRetry.maxDelayMs;
  const random = options.random ?? Math.random;
  const wait = options.wait ?? ((delayMs: number) => sleep(delayMs));

  async function attempt<T>(operation: string, call: () => Promise<T>): Promise<T> {
    for (let attemptNumber = 1; ; attemptNumber++) {
      try {
        return await call();
      } catch (error) {
        if (!isTransient(error)) throw error;
        if (attemptNumber >= maxAttempts) throw gaveUp(error, attemptNumber);
        const delayMs = backoffDelayMs(attemptNumber, baseDelayMs, maxDelayMs, random);
        const line = `${transport.describe()}: ${operation} failed (attempt ${attemptNumber} of ${maxAttempts}), retrying in ${formatDelay(delayMs)}: ${messageOf(error)}`;
        options.onRetry?.(line, { operation, attempt: attemptNumber, maxAttempts, delayMs, error });
        await wait(delayMs);
      }
    }
  }

  return {
    // The source is a factory, so each attempt starts again from the first byte.
    put: (name: string, source: PutSource, putOptions?: PutOptions): Promise<PutResult> =>
      attempt(`put ${name}`, () => transport.put(name, source, putOptions)),
    stat: (name: string): Promise<TransportStat | undefined> => attempt(`stat ${name}`, () => transport.stat(name)),
    list: (prefix?: string): Promise<TransportEntry[]> => attempt(prefix ? `list ${prefix}` : 'list', () => transport.list(prefix)),
    // Only opening is retried: a stream that breaks half way has already given bytes to its reader.
    get: (name: string): Promise<Readable> => attempt(`get ${name}`, () => transport.get(name)),
    remove: (name: string): Promise<void> => attempt(`remove ${name}`, () => transport.remove(name)),
    close: () => transport.close(),
    describe: () => transport.describe(),
  };
}

function gaveUp(error: GanymedeError, attempts: number): GanymedeError {
  if (attempts === 1) return error;
  return new GanymedeError(error.exitCode, `${error.message} (gave up after ${attempts} attempts)`, {
    hint: error.hint,
    details: error.details,
    cause: error,
  });
}

function formatDelay(delayMs: number): string {
  return delayMs < 1_000 ? `${delayMs}ms` : `${(delayMs / 1_000).toFixed(1)}s`;
}
