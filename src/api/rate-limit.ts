// Failed authentications per source address: after maxFailures within one window (counted from the
// first failure), every further request from that address is refused (429) until the window ends.
// Successes are not counted. Memory is bounded: at most maxAddresses windows are kept, expired ones
// are dropped first, and past the bound the oldest window is forgotten.
import type { IncomingMessage } from 'node:http';

export interface AuthFailureLimitOptions {
  /** Failed authentications allowed per address and window; the next request is a 429. */
  maxFailures: number;
  windowMs: number;
  /** Addresses tracked at once (default 10 000, about 1 MB). */
  maxAddresses?: number | undefined;
  /** For tests: the clock. */
  now?: (() => number) | undefined;
}

interface Window {
  startedAt: number;
  failures: number;
}

const defaultMaxAddresses = 10_000;

export class AuthFailureLimiter {
  // Kept in order of startedAt (a new window is re-inserted), so expired windows are at the front.
  private readonly windows = new Map<string, Window>();
  private readonly maxAddresses: number;
  private readonly now: () => number;

  constructor(private readonly options: AuthFailureLimitOptions) {
    if (!(options.maxFailures > 0) || !(options.windowMs > 0)) throw new Error('AuthFailureLimiter: maxFailures and windowMs must be positive');
    this.maxAddresses = Math.max(1, options.maxAddresses ?? defaultMaxAddresses);
    this.now = options.now ?? Date.now;
  }

  get maxFailures(): number {
    return this.options.maxFailures;
  }

  get windowMs(): number {
    return this.options.windowMs;
  }

  /** How long the address is still refused, in ms; 0 when it may try. */
  blockedForMs(address: string): number {
    const window = this.current(address);
    if (!window || window.failures < this.options.maxFailures) return 0;
    return window.startedAt + this.options.windowMs - this.now();
  }

  /** Counts one failure; returns true when this one used up the address's allowance. */
  recordFailure(address: string): boolean {
    let window = this.current(address);
    if (!window) {
      this.makeRoom();
      window = { startedAt: this.now(), failures: 0 };
      this.windows.set(address, window);
    }
    window.failures++;
    return window.failures === this.options.maxFailures;
  }

  /** Addresses tracked now (for tests and metrics). */
  get size(): number {
    return this.windows.size;
  }

  private current(address: string): Window | undefined {
    const window = this.windows.get(address);
    if (window && this.now() - window.startedAt >= this.options.windowMs) {
      this.windows.delete(address);
      return undefined;
    }
    return window;
  }

  private makeRoom(): void {
    const now = this.now();
    for (const [address, window] of this.windows) {
      if (now - window.startedAt < this.options.windowMs) break;
      this.windows.delete(address);
    }
    while (this.windows.size >= this.maxAddresses) this.windows.delete(this.windows.keys().next().value!);
  }
}

/** The peer's address as one string per host: an IPv4 peer on a dual-stack socket is written as IPv4. */
export function sourceAddressOf(request: IncomingMessage): string {
  const address = request.socket.remoteAddress ?? 'unknown';
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}
