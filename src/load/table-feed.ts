// Two small pieces of the streamed load (load-delivery.ts): a table's data as a Readable the tar reader
// pushes into with backpressure (LOAD DATA reads it as the parts arrive; nothing is held beyond one
// stream buffer), and the load's connections handed out one table at a time, so the tar waits while
// every connection is busy.
import { Readable } from 'node:stream';
import type { Connection } from 'mysql2';

/** What LOAD DATA may have buffered ahead of the server: the rest waits in the decompressor and the file. */
const feedBufferBytes = 1024 * 1024;

export class TableFeed {
  readonly stream: Readable;
  private wake: (() => void) | undefined;

  constructor() {
    this.stream = new Readable({ highWaterMark: feedBufferBytes, read: () => this.resume() });
    this.stream.once('close', () => this.resume());
  }

  /** Passes a chunk on once the reader wants more; false if the stream is gone (the load failed or was stopped). */
  async write(chunk: Buffer): Promise<boolean> {
    if (this.stream.destroyed) return false;
    if (!this.stream.push(chunk)) await new Promise<void>((resolve) => (this.wake = resolve));
    return !this.stream.destroyed;
  }

  end(): void {
    if (!this.stream.destroyed) this.stream.push(null);
  }

  /** Ends the read with `error`: mysql2 ends the LOAD DATA, which then fails. */
  stop(error: Error): void {
    this.stream.destroy(error);
  }

  private resume(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

export class ConnectionPool {
  private readonly idle: Connection[];
  private readonly waiting: Array<(conn: Connection) => void> = [];

  constructor(connections: readonly Connection[]) {
    this.idle = [...connections];
  }

  /** The next free connection; waits for one, or rejects once `signal` aborts. */
  take(signal?: AbortSignal): Promise<Connection> {
    const free = this.idle.shift();
    if (free) return Promise.resolve(free);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(give), 1);
        reject(signal!.reason);
      };
      const give = (conn: Connection) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(conn);
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(give);
    });
  }

  give(conn: Connection): void {
    const next = this.waiting.shift();
    if (next) next(conn);
    else this.idle.push(conn);
  }
}
