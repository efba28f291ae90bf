// Retrying as a wrapper around any transport (restic's backend_retry.go), so no store retries on its own.
// Only a lost or unreachable store is worth another try; a wrong key, a refused path or a bad name fails
// the same way every time and is reported at once.
import type { Readable } from 'node:stream';
import { retryTransient, type RetryOptions } from '../retry.js';
import type { PutOptions, PutResult, PutSource, Transport, TransportEntry, TransportStat } from './transport.js';

export { backoffDelayMs, defaultRetry, isTransient, type RetryEvent, type RetryOptions } from '../retry.js';

export function withRetry(transport: Transport, options: RetryOptions = {}): Transport {
  const attempt = <T>(operation: string, call: () => Promise<T>) => retryTransient(`${transport.describe()}: ${operation}`, call, options);
  const wrapped: Transport = {
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
    unwrap: () => transport.unwrap?.() ?? transport,
  };
  // Only where the store can: a wrapper that always had copyFrom would hide that it cannot.
  const { copyFrom } = transport;
  if (copyFrom) {
    // A copy is one PUT (or parts and a manifest made again from the start): another try does no harm.
    wrapped.copyFrom = (source, sourceName, name) => attempt(`copy ${sourceName} to ${name}`, () => copyFrom.call(transport, source, sourceName, name));
  }
  return wrapped;
}
