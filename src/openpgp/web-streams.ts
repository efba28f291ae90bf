// Bridges between Node streams and the web streams openpgp.js 6 speaks (it no longer takes Node streams).
// Both directions are pull-based so memory stays flat: Node 20's Readable.toWeb() keeps reading a fast
// source without waiting for openpgp.js (~1 GB RSS for a 1.5 GB file, see MEASUREMENTS.md).
import { Readable } from 'node:stream';

/**
 * Bytes from a Node stream (or any async iterable), one chunk per pull, as openpgp.js wants them.
 * `onSourceError` sees the source's own failure, which openpgp.js may report later in other words.
 */
export function toPullStream(
  source: AsyncIterable<Uint8Array | string>,
  onSourceError?: (error: unknown) => void,
): ReadableStream<Uint8Array> {
  let iterator: AsyncIterator<Uint8Array | string> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        iterator ??= source[Symbol.asyncIterator]();
        let next: IteratorResult<Uint8Array | string>;
        try {
          next = await iterator.next();
        } catch (error) {
          onSourceError?.(error);
          throw error;
        }
        if (next.done) controller.close();
        else controller.enqueue(toPlainBytes(next.value));
      },
      async cancel(reason) {
        // Destroys a Node source, so a refused or abandoned message does not keep its file open.
        await (iterator ?? source[Symbol.asyncIterator]()).return?.(reason);
      },
    },
    // Zero: nothing is read ahead of what openpgp.js asks for.
    { highWaterMark: 0 },
  );
}

export interface PullReadableOptions {
  /** Runs before the first read; the stream is destroyed with whatever it throws. */
  open: () => Promise<ReadableStream<Uint8Array>>;
  /** Runs once the web stream is exhausted, before the Node stream ends; a throw becomes the stream's error. */
  beforeEnd?: () => Promise<void>;
  /** Maps any error (from open, the web stream or beforeEnd) to the one the Node stream is destroyed with. */
  mapError?: (error: unknown) => Error;
  /**
   * The source to close when the stream dies before its end. Cancelling the web stream does not reach it
   * when open() failed (a refused message) or when openpgp.js does not pass the cancel on.
   */
  source?: AsyncIterable<unknown>;
}

/** A Node Readable that reads the web stream only when its own consumer asks (backpressure). */
export function fromPullStream({ open, beforeEnd, mapError = asError, source }: PullReadableOptions): Readable {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let ended = false;
  return new Readable({
    // Node never calls read() again before push(), so there is one reader.read() in flight at most.
    construct(callback) {
      open().then(
        (web) => {
          reader = web.getReader();
          callback();
        },
        (error: unknown) => callback(mapError(error)),
      );
    },
    read() {
      const pump = async (): Promise<void> => {
        const { value, done } = await reader!.read();
        if (done) {
          await beforeEnd?.();
          ended = true;
          this.push(null);
        } else if (value.byteLength === 0) {
          // Node takes a zero-length push as "nothing yet" and would not call read() again: stalled.
          await pump();
        } else {
          this.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
        }
      };
      pump().catch((error: unknown) => this.destroy(mapError(error)));
    },
    destroy(error, callback) {
      // Cancelling propagates back through openpgp.js to toPullStream's cancel(), closing the source.
      reader?.cancel(error ?? undefined).catch(() => {});
      if (!ended && source) closeSource(source);
      callback(error);
    },
  });
}

function closeSource(source: AsyncIterable<unknown>): void {
  const destroyable = source as { destroy?: () => void };
  if (typeof destroyable.destroy === 'function') destroyable.destroy();
  else source[Symbol.asyncIterator]().return?.().catch(() => {});
}

function toPlainBytes(chunk: Uint8Array | string): Uint8Array {
  if (typeof chunk === 'string') return new TextEncoder().encode(chunk);
  // A Buffer is a Uint8Array, but openpgp.js's stream helpers concatenate and slice as plain views.
  return Buffer.isBuffer(chunk) ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) : chunk;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
