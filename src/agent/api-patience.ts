// Riding out a short outage of the status API (a deploy, a restart): a call that meets an API that is
// down is tried again with exponential backoff and full jitter, so GEOs cut off together do not all come
// back in the same second, until agent.api_patience_minutes have passed. Never past the top of the next
// clock hour: the agent holds its host lock while it waits, and the next hour's run must find it free.
// Only ApiUnavailable is waited out; an answer (401, 409, 500 …) is returned at once.
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiUnavailable } from '../api/client.js';
import { hourMs } from '../cycle.js';

export interface ApiPatience {
  /** When to stop asking, ms since the epoch, and what set it, for the message (patienceUntil). */
  deadlineMs: number;
  limit: string;
  /** The first wait's upper bound; it doubles after each failure, up to maxDelayMs. */
  baseDelayMs?: number | undefined;
  maxDelayMs?: number | undefined;
  /** One line per retry, for the log. */
  onRetry: (line: string) => void;
  /** Once, at the first failure: the caller may free what it holds while it waits. */
  onFirstFailure?: (() => Promise<void> | void) | undefined;
  signal?: AbortSignal | undefined;
  random?: () => number;
  /** The clock the deadline is read from (ms since the epoch); tests pass their own. */
  now?: () => number;
}

export const defaultApiRetryBaseDelayMs = 1_000;
/** A restarted API is usually back within seconds; half a minute between tries finds it soon enough. */
export const defaultApiRetryMaxDelayMs = 30_000;

/** The patience from `fromMs`, cut at the top of the next clock hour, when the next hourly run may start. */
export function patienceUntil(fromMs: number, patienceMinutes: number): { deadlineMs: number; limit: string } {
  const nextHourMs = (Math.floor(fromMs / hourMs) + 1) * hourMs;
  const patienceEndMs = fromMs + Math.round(patienceMinutes * 60_000);
  return patienceEndMs <= nextHourMs
    ? { deadlineMs: patienceEndMs, limit: `agent.api_patience_minutes ${patienceMinutes}` }
    : { deadlineMs: nextHourMs, limit: 'the top of the hour, when the next run may start' };
}

/** "Full jitter": anywhere from 0 to the capped exponential, so retries spread out instead of bunching. */
export function fullJitterDelayMs(failure: number, baseDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  return Math.round(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(failure - 1, 30)));
}

/** Ran out of patience: the last failure, when the API was first found down, and how many tries were made. */
export class PatienceExhausted extends Error {
  constructor(
    readonly last: ApiUnavailable,
    readonly since: Date,
    readonly attempts: number,
    readonly limit: string,
  ) {
    super(last.message);
    this.name = 'PatienceExhausted';
  }
}

/** Calls `call` until it succeeds, fails with an answer, or the patience runs out (PatienceExhausted). */
export async function withApiPatience<T>(what: string, call: () => Promise<T>, patience: ApiPatience): Promise<T> {
  const baseDelayMs = patience.baseDelayMs ?? defaultApiRetryBaseDelayMs;
  const maxDelayMs = patience.maxDelayMs ?? defaultApiRetryMaxDelayMs;
  const now = patience.now ?? Date.now;
  let since: Date | undefined;
  for (let failure = 1; ; failure++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof ApiUnavailable)) throw error;
      const failedAtMs = now();
      since ??= new Date(failedAtMs);
      const leftMs = patience.deadlineMs - failedAtMs;
      if (leftMs <= 0) throw new PatienceExhausted(error, since, failure, patience.limit);
      if (failure === 1) await patience.onFirstFailure?.();
      // The last wait ends at the deadline, for one more try then: "giving up at" is when it really does.
      const delayMs = Math.min(leftMs, fullJitterDelayMs(failure, baseDelayMs, maxDelayMs, patience.random));
      patience.onRetry(`${what}: the status API at ${error.host} is unreachable (${error.reason}); retrying in ${formatSeconds(delayMs)}, giving up at ${clockTime(patience.deadlineMs)} UTC`);
      await sleep(delayMs, undefined, { signal: patience.signal });
    }
  }
}

/** 10:25:07, in UTC as the log's own timestamps. */
export function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** "the status API at h:8080 was unreachable (ECONNREFUSED) from 10:05:00 to 10:25:00 UTC, 23 tries (agent.api_patience_minutes 20)" */
export function describeOutage(exhausted: PatienceExhausted): string {
  const { last, since, attempts, limit } = exhausted;
  return `the status API at ${last.host} was unreachable (${last.reason}) from ${clockTime(since.getTime())} to ${clockTime(Date.now())} UTC, ${attempts} ${attempts === 1 ? 'try' : 'tries'} (${limit})`;
}

function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1_000).toFixed(1)} s` : `${Math.round(ms / 1_000)} s`;
}
