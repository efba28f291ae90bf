// Failed authentications, per source address and in total. Only failures count, and a valid token is
// always served, so a client that typed a token wrong cannot lock out the good tokens of its own host.
// Past its allowance (maxFailures within one window, counted from the first failure) an address's wrong
// tokens get 429 instead of 401; past the global budget every wrong token does. Each check of a token
// still answers "right or wrong", so checks are bounded too: an address that keeps failing (blockAfter,
// five times its allowance) has no token looked at until its window ends, and while the global budget is
// spent neither has any address that already failed in its window. An attacker thus gets at most
// blockAfter guesses per address and window, and one per address once the world's budget is gone —
// against 256-bit tokens. IPv6 addresses count by their /64, which one host usually holds whole.
// Memory is bounded: at most maxAddresses windows are kept, expired ones are dropped first, and past
// the bound the oldest window is forgotten.
import type { IncomingMessage } from 'node:http';

export interface AuthFailureLimitOptions {
  /** Failed authentications allowed per address and window; later wrong tokens get 429. Infinity: no per-address limit. */
  maxFailures: number;
  windowMs: number;
  /** Failed authentications allowed from all addresses together per window; no global limit when absent. */
  maxGlobalFailures?: number | undefined;
  /** Failures of one address after which none of its tokens is looked at for the rest of the window (default 5 × maxFailures). */
  blockAfterFailures?: number | undefined;
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
  private global: Window | undefined;
  private globalNoticeDue = false;
  private readonly maxAddresses: number;
  private readonly blockAfter: number;
  private readonly now: () => number;

  constructor(private readonly options: AuthFailureLimitOptions) {
    if (!(options.maxFailures > 0) || !(options.windowMs > 0)) throw new Error('AuthFailureLimiter: maxFailures and windowMs must be positive');
    if (options.maxGlobalFailures !== undefined && !(options.maxGlobalFailures > 0)) throw new Error('AuthFailureLimiter: maxGlobalFailures must be positive');
    this.maxAddresses = Math.max(1, options.maxAddresses ?? defaultMaxAddresses);
    this.blockAfter = Math.max(options.maxFailures, options.blockAfterFailures ?? 5 * options.maxFailures);
    this.now = options.now ?? Date.now;
  }

  get maxFailures(): number {
    return this.options.maxFailures;
  }

  get maxGlobalFailures(): number | undefined {
    return this.options.maxGlobalFailures;
  }

  get windowMs(): number {
    return this.options.windowMs;
  }

  /** How long the address's wrong tokens still get 429, in ms; 0 when they get 401. */
  blockedForMs(address: string): number {
    const window = this.current(addressKeyOf(address));
    if (!window || window.failures < this.options.maxFailures) return 0;
    return window.startedAt + this.options.windowMs - this.now();
  }

  /** How long every wrong token still gets 429 because the global budget is spent, in ms; 0 when it is not. */
  globalBlockedForMs(): number {
    const window = this.currentGlobal();
    if (!window || this.options.maxGlobalFailures === undefined || window.failures < this.options.maxGlobalFailures) return 0;
    return window.startedAt + this.options.windowMs - this.now();
  }

  /** Whether a token from this address may be looked at now (see the top of this file for when not). */
  mayCheck(address: string): boolean {
    const failures = this.current(addressKeyOf(address))?.failures ?? 0;
    if (failures >= this.blockAfter) return false;
    return failures === 0 || this.globalBlockedForMs() === 0;
  }

  /** Counts one failure; returns true when this one used up the address's allowance. */
  recordFailure(address: string): boolean {
    const key = addressKeyOf(address);
    let window = this.current(key);
    if (!window) {
      this.makeRoom();
      window = { startedAt: this.now(), failures: 0 };
      this.windows.set(key, window);
    }
    window.failures++;
    const global = (this.global = this.currentGlobal() ?? { startedAt: this.now(), failures: 0 });
    global.failures++;
    if (global.failures === this.options.maxGlobalFailures) this.globalNoticeDue = true;
    return window.failures === this.options.maxFailures;
  }

  /** True once per window, after the failure that spent the global budget: the moment to say so in the log. */
  takeGlobalNotice(): boolean {
    const due = this.globalNoticeDue;
    this.globalNoticeDue = false;
    return due;
  }

  /** Addresses tracked now (for tests and metrics). */
  get size(): number {
    return this.windows.size;
  }

  private current(key: string): Window | undefined {
    const window = this.windows.get(key);
    if (window && this.now() - window.startedAt >= this.options.windowMs) {
      this.windows.delete(key);
      return undefined;
    }
    return window;
  }

  private currentGlobal(): Window | undefined {
    if (this.global && this.now() - this.global.startedAt >= this.options.windowMs) this.global = undefined;
    return this.global;
  }

  private makeRoom(): void {
    const now = this.now();
    for (const [key, window] of this.windows) {
      if (now - window.startedAt < this.options.windowMs) break;
      this.windows.delete(key);
    }
    while (this.windows.size >= this.maxAddresses) this.windows.delete(this.windows.keys().next().value!);
  }
}

/** The peer's address as one string per host: an IPv4 peer on a dual-stack socket is written as IPv4. */
export function sourceAddressOf(request: IncomingMessage): string {
  const address = request.socket.remoteAddress ?? 'unknown';
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

/** What the limiter counts by: an IPv4 address as it is, an IPv6 address by its /64 (`2001:db8:0:1::/64`). */
export function addressKeyOf(address: string): string {
  if (!address.includes(':')) return address;
  const groups = ipv6Groups(address.replace(/%.*$/, ''));
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : address;
}

/** The eight 16-bit groups of an IPv6 address, without leading zeros; undefined when it is not one. */
function ipv6Groups(text: string): string[] | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const split = (part: string | undefined) => (part ? part.split(':') : []);
  const widen = (groups: string[]) => groups.flatMap((group) => (group.includes('.') ? ['0', '0'] : [group])); // an embedded IPv4 tail is two groups; /64 never reaches it
  const head = widen(split(halves[0]));
  const tail = widen(split(halves[1]));
  const groups = halves.length === 2 ? [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail] : head;
  if (groups.length !== 8 || !groups.every((group) => /^[0-9a-f]{1,4}$/i.test(group))) return undefined;
  return groups.map((group) => Number.parseInt(group, 16).toString(16));
}
