// The agent's one stream: dump tar → zstd or gzip → OpenPGP (encrypted to the centre, signed by the GEO) →
// a 0600 file, hashing and counting on the way. Plaintext exists only in memory, a chunk at a time.
//
// Everything after the tar runs in a worker thread (seal-worker.ts), on the other core: the calling thread
// only produces the tar. The tar crosses in batches of batchBytes, moved (transferred), not copied, and
// sent back empty for reuse once the compressor has taken them, so memory stays flat. SealWriter lets a
// producer write straight into those batches (see tar-batches.ts); sealToFile copies any byte stream in.
import type { PrivateKey, PublicKey } from 'openpgp';
import { startSealWorker, type FromSealWorker, type ToSealWorker } from './seal-worker.js';
import { deserializeError } from './worker-thread.js';

export interface SealOptions {
  path: string;
  /** As keys, or as their binary packets (key.write()): those spare a thread loading openpgp.js. */
  encryptionKeys: PublicKey | PublicKey[] | Uint8Array[];
  /** Unlocked (an unlocked key's packets stay unlocked). */
  signingKey: PrivateKey | Uint8Array;
  /** gzip (zlib, level 1 by default) or zstd -1 (the zstd tool, much faster). */
  compression?: 'gzip' | 'zstd';
  /** 1 (fastest, the default) to 9. */
  gzipLevel?: number;
  signal?: AbortSignal;
}

export interface SealToFileOptions extends SealOptions {
  source: AsyncIterable<Buffer>;
}

export interface SealedFile {
  size: number;
  sha256: string;
}

/** Bytes per message to the worker: few messages, and little memory in flight (batchesInFlight of them). */
export const batchBytes = 1024 * 1024;
const batchesInFlight = 6;

export async function sealToFile(options: SealToFileOptions): Promise<SealedFile> {
  const writer = SealWriter.start(options);
  try {
    let batch: Buffer | undefined;
    let filled = 0;
    for await (const chunk of options.source) {
      for (let at = 0; at < chunk.length; ) {
        writer.throwIfFailed();
        batch ??= writer.take();
        const n = chunk.copy(batch, filled, at);
        filled += n;
        at += n;
        if (filled === batch.length) {
          writer.send(batch, filled);
          batch = undefined;
          filled = 0;
          await writer.drained();
        }
      }
    }
    if (batch) writer.send(batch, filled);
    return await writer.end();
  } catch (error) {
    throw writer.fail(error);
  } finally {
    await writer.close();
  }
}

const binaryKey = (key: PublicKey | PrivateKey | Uint8Array): Uint8Array => (key instanceof Uint8Array ? key : key.write());

/**
 * The producing thread's end of the seal worker. The producer takes a batch, fills it, sends it; while
 * `congested` it should stop producing until `onDrain` fires (or `drained()` resolves). Send never
 * blocks, so a producer that cannot stop at once (rows already read from the socket) is never stuck.
 */
export class SealWriter {
  private failure: Error | undefined;
  private finished = false;
  private readonly free: ArrayBuffer[] = [];
  private inFlight = 0;
  private readonly drainListeners = new Set<() => void>();
  private readonly failed = new AbortController();
  private readonly result: Promise<SealedFile>;
  private readonly stopped: Promise<void>;

  /** Starts the worker and opens the file at once. */
  static start(options: SealOptions): SealWriter {
    const writer = SealWriter.prepare(options);
    writer.open(options);
    return writer;
  }

  /**
   * Starts the worker, which loads what it needs while the caller gets ready; batches may be sent at
   * once, but nothing is written before open().
   */
  static prepare(options: Pick<SealOptions, 'compression' | 'gzipLevel' | 'signal'>): SealWriter {
    options.signal?.throwIfAborted();
    const writer = new SealWriter(startSealWorker({ compression: options.compression ?? 'gzip', gzipLevel: options.gzipLevel ?? 1 }));
    const { signal } = options;
    if (signal) {
      const onAbort = () => writer.fail(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      void writer.stopped.then(() => signal.removeEventListener('abort', onAbort));
    }
    return writer;
  }

  /** The file to create (0600, it must not exist) and the keys to seal with. */
  open(target: Pick<SealOptions, 'path' | 'encryptionKeys' | 'signingKey'>): void {
    const keys = Array.isArray(target.encryptionKeys) ? target.encryptionKeys : [target.encryptionKeys];
    // The worker reads the keys back from their packets.
    this.post({ type: 'open', path: target.path, encryptionKeys: keys.map(binaryKey), signingKey: binaryKey(target.signingKey) });
  }

  private constructor(private readonly worker: ReturnType<typeof startSealWorker>) {
    let settle!: { resolve: (value: SealedFile) => void; reject: (error: Error) => void };
    this.result = new Promise((resolve, reject) => (settle = { resolve, reject }));
    this.result.catch(() => {});
    let exited!: () => void;
    this.stopped = new Promise((resolve) => (exited = resolve));
    const failWith = (error: Error) => {
      this.failure ??= error;
      settle.reject(this.failure);
      this.failed.abort(this.failure);
      this.wake();
    };
    worker.on('message', (message: FromSealWorker) => {
      switch (message.type) {
        case 'ack':
          this.inFlight--;
          if (this.free.length < batchesInFlight) this.free.push(message.buffer);
          this.wake();
          break;
        case 'done':
          this.finished = true;
          settle.resolve({ size: message.size, sha256: message.sha256 });
          exited();
          break;
        case 'error':
          failWith(deserializeError(message.error));
          exited();
          break;
      }
    });
    worker.on('error', failWith);
    worker.on('exit', (code) => {
      if (!this.finished) failWith(new Error(`the sealing worker stopped (exit code ${code}) before the file was complete`));
      exited();
    });
  }

  /** More batches are in the worker than wanted: the producer should pause. */
  get congested(): boolean {
    return this.inFlight >= batchesInFlight;
  }

  /** Aborted with the error when sealing fails (the worker's or the producer's). */
  get signal(): AbortSignal {
    return this.failed.signal;
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** An empty batch of batchBytes, the caller's until sent. */
  take(): Buffer {
    const reused = this.free.pop();
    // allocUnsafeSlow: each batch owns its whole ArrayBuffer, so moving it takes nothing else along.
    return reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(batchBytes);
  }

  /** Hands the first `length` bytes of a batch (from take()) to the worker; the batch is gone after. */
  send(batch: Buffer, length: number): void {
    if (this.failure) return;
    const buffer = batch.buffer as ArrayBuffer;
    this.post({ type: 'data', buffer, length }, [buffer]);
    this.inFlight++;
  }

  /** Calls `listener` each time the worker has taken a batch, or sealing failed. */
  onDrain(listener: () => void): () => void {
    this.drainListeners.add(listener);
    return () => this.drainListeners.delete(listener);
  }

  /** Resolves when no longer congested; rejects once sealing has failed. */
  async drained(): Promise<void> {
    while (this.congested && !this.failure) {
      await new Promise<void>((resolve) => {
        const off = this.onDrain(() => {
          off();
          resolve();
        });
      });
    }
    this.throwIfFailed();
  }

  /** The tar is complete: waits for the file. */
  async end(): Promise<SealedFile> {
    this.throwIfFailed();
    this.post({ type: 'end' });
    return this.result;
  }

  /** Stops the worker (the caller removes the file); returns the error to report, the first one. */
  fail(error: unknown): Error {
    if (!this.failure) {
      this.failure = error instanceof Error ? error : new Error(String(error));
      this.post({ type: 'abort' });
      this.failed.abort(this.failure);
      this.wake();
    }
    return this.failure;
  }

  /** Waits for the worker to answer its last message, then ends it. */
  async close(): Promise<void> {
    await this.stopped;
    await this.worker.terminate();
  }

  private post(message: ToSealWorker, transfer: ArrayBuffer[] = []): void {
    try {
      this.worker.postMessage(message, transfer);
    } catch {
      // The worker is gone; its 'exit' says why.
    }
  }

  private wake(): void {
    for (const listener of [...this.drainListeners]) listener();
  }
}
