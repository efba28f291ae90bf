// Retrying a call that may meet an unreachable server: exponential backoff with jitter, and only for
// failures another try may cure (exit code "unreachable"); a wrong key or a refused request fails at once.
import { setTimeout as sleep } from 'node:timers/promises';
import { GanymedeError, messageOf } from './errors.js';
import { ExitCode } from './exit-codes.js';

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

/** Calls `call` until it succeeds, fails for good, or has used its attempts; `label` names it in log lines. */
export async function retryTransient<T>(label: string, call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const maxAttempts = Math.max(1, options.maxAttempts ?? defaultRetry.maxAttempts);
  const baseDelayMs = options.baseDelayMs ?? defaultRetry.baseDelayMs;
  const maxDelayMs = options.maxDelayMs ?? defaultRetry.maxDelayMs;
  const random = options.random ?? Math.random;
  const wait = options.wait ?? ((delayMs: number) => sleep(delayMs));
  for (let attemptNumber = 1; ; attemptNumber++) {
    try {
      return await call();
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (attemptNumber >= maxAttempts) throw gaveUp(error, attemptNumber, label);
      const delayMs = backoffDelayMs(attemptNumber, baseDelayMs, maxDelayMs, random);
      const line = `${label} failed (attempt ${attemptNumber} of ${maxAttempts}), retrying in ${formatDelay(delayMs)}: ${messageOf(error)}`;
      options.onRetry?.(line, { operation: label, attempt: attemptNumber, maxAttempts, delayMs, error });
      await wait(delayMs);
    }
  }
}

function gaveUp(error: GanymedeError, attempts: number, label: string): GanymedeError {
  if (attempts === 1) return error;
  return new GanymedeError(error.exitCode, `${label}: ${error.message} (gave up after ${attempts} attempts)`, {
    hint: error.hint,
    details: error.details,
    cause: error,
  });
}

function formatDelay(delayMs: number): string {
  return delayMs < 1_000 ? `${delayMs}ms` : `${(delayMs / 1_000).toFixed(1)}s`;
}
