// The agent's one stream: dump tar → zstd or gzip → OpenPGP (encrypted to the centre, signed by the GEO) →
// a 0600 file, hashing and counting on the way. Plaintext exists only in memory, a chunk at a time.
//
// Everything after the tar runs in a worker thread (seal-worker.ts): the calling thread only produces the
// tar (for the agent: reading MySQL and encoding rows, the longest stage), and the worker compresses,
// encrypts, signs, hashes and writes at the same time on the other core. The tar crosses in batches of
// batchBytes, moved (transferred), not copied, and sent back empty for reuse once the compressor has
// taken them, so the stream allocates nothing per chunk and memory stays flat.
import type { Worker } from 'node:worker_threads';
import type { PrivateKey, PublicKey } from 'openpgp';
import { startSealWorker, type FromSealWorker, type ToSealWorker } from './seal-worker.js';
import { deserializeError } from './worker-thread.js';

export interface SealToFileOptions {
  source: AsyncIterable<Buffer>;
  path: string;
  encryptionKeys: PublicKey | PublicKey[];
  signingKey: PrivateKey;
  /** gzip (zlib, level 1 by default) or zstd -1 (the zstd tool, much faster). */
  compression?: 'gzip' | 'zstd';
  /** 1 (fastest, the default) to 9. */
  gzipLevel?: number;
  signal?: AbortSignal;
  /**
   * The file's size each time more of it has been written, for a reader that follows it as it grows
   * (the first upload attempt streams it to the inbox while the dump is still being read).
   */
  onWritten?: (bytes: number) => void;
}

export interface SealedFile {
  size: number;
  sha256: string;
}

/** Bytes per message to the worker: few messages, and little memory in flight (batchesInFlight of them). */
const batchBytes = 1024 * 1024;
const batchesInFlight = Number(process.env.EXP_BATCHES ?? 8);

export async function sealToFile(options: SealToFileOptions): Promise<SealedFile> {
  options.signal?.throwIfAborted();
  const keys = Array.isArray(options.encryptionKeys) ? options.encryptionKeys : [options.encryptionKeys];
  const worker = startSealWorker({
    path: options.path,
    compression: options.compression ?? 'gzip',
    gzipLevel: options.gzipLevel ?? 1,
    // Binary key packets: the worker reads them back as keys (an unlocked private key stays unlocked).
    encryptionKeys: keys.map((key) => key.write()),
    signingKey: options.signingKey.write(),
    reportWritten: options.onWritten !== undefined,
  });
  const feeder = new BatchFeeder(worker, options.onWritten);
  const onAbort = () => feeder.fail(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of options.source) await feeder.write(chunk);
    return await feeder.end();
  } catch (error) {
    feeder.fail(error);
    throw feeder.failure ?? error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    // The worker has finished or been told to stop; terminate() also covers one stuck in a write.
    await feeder.stopped;
    await worker.terminate();
  }
}

/** The calling thread's end: copies the tar into batches, at most batchesInFlight of them unacknowledged. */
class BatchFeeder {
  failure: Error | undefined;
  private finished = false;
  /** Resolves once the worker has exited or answered its last message. */
  readonly stopped: Promise<void>;
  private readonly free: ArrayBuffer[] = [];
  private batch: Buffer | undefined;
  private filled = 0;
  private inFlight = 0;
  private waiting: (() => void) | undefined;
  private result: Promise<{ size: number; sha256: string }>;

  constructor(
    private readonly worker: Worker,
    onWritten: ((bytes: number) => void) | undefined,
  ) {
    let settle!: { resolve: (value: { size: number; sha256: string }) => void; reject: (error: Error) => void };
    this.result = new Promise((resolve, reject) => (settle = { resolve, reject }));
    this.result.catch(() => {});
    let exited!: () => void;
    this.stopped = new Promise((resolve) => (exited = resolve));
    worker.on('message', (message: FromSealWorker) => {
      switch (message.type) {
        case 'ack':
          this.inFlight--;
          if (this.free.length < batchesInFlight) this.free.push(message.buffer);
          this.wake();
          break;
        case 'written':
          onWritten?.(message.bytes);
          break;
        case 'done':
          this.finished = true;
          settle.resolve({ size: message.size, sha256: message.sha256 });
          exited();
          break;
        case 'error':
          this.failure ??= deserializeError(message.error);
          settle.reject(this.failure);
          this.wake();
          exited();
          break;
      }
    });
    worker.on('error', (error) => {
      this.failure ??= error;
      settle.reject(this.failure);
      this.wake();
    });
    worker.on('exit', (code) => {
      if (!this.finished) {
        this.failure ??= new Error(`the sealing worker stopped (exit code ${code}) before the file was complete`);
        settle.reject(this.failure);
      }
      this.wake();
      exited();
    });
  }

  async write(chunk: Buffer): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      if (this.failure) throw this.failure;
      this.batch ??= this.take();
      const n = chunk.copy(this.batch, this.filled, at);
      this.filled += n;
      at += n;
      if (this.filled === this.batch.length) await this.send();
    }
  }

  async end(): Promise<{ size: number; sha256: string }> {
    if (this.filled > 0) await this.send();
    if (this.failure) throw this.failure;
    this.post({ type: 'end' });
    return this.result;
  }

  /** Tells the worker to stop and remove nothing itself (the caller owns the file); safe to call twice. */
  fail(error: unknown): void {
    if (!this.failure) {
      this.failure = error instanceof Error ? error : new Error(String(error));
      this.post({ type: 'abort' });
    }
    this.wake();
  }

  private take(): Buffer {
    const reused = this.free.pop();
    return reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(batchBytes);
  }

  private async send(): Promise<void> {
    while (this.inFlight >= batchesInFlight && !this.failure) await new Promise<void>((resolve) => (this.waiting = resolve));
    if (this.failure) throw this.failure;
    const batch = this.batch!;
    // allocUnsafeSlow: each batch owns its whole ArrayBuffer, so moving it takes nothing else along.
    this.post({ type: 'data', buffer: batch.buffer as ArrayBuffer, length: this.filled }, [batch.buffer as ArrayBuffer]);
    this.inFlight++;
    this.batch = undefined;
    this.filled = 0;
  }

  private post(message: ToSealWorker, transfer: ArrayBuffer[] = []): void {
    try {
      this.worker.postMessage(message, transfer);
    } catch {
      // The worker is gone; its 'exit' says why.
    }
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}
