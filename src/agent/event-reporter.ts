// Status events on their way to the API. Every event is appended to a small on-disk buffer first, then
// sent in batches (every few seconds, or sooner when many are waiting). When the API cannot be reached
// the agent carries on and the buffer keeps the events, for this run's later flushes or the next run's.
// Each event has a key (run id + sequence), so a batch sent twice — the answer was lost, or the process
// died before trimming the buffer — is stored once by the API.
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { ApiEvent } from '../api/client.js';
import type { Logger } from '../log.js';
import { GanymedeError, messageOf } from '../errors.js';
import { ExitCode } from '../exit-codes.js';

export interface BufferedEvent extends ApiEvent {
  txnId: number;
}

export interface EventReporterOptions {
  bufferFile: string;
  send: (txnId: number, events: ApiEvent[]) => Promise<unknown>;
  log: Logger;
  flushEveryMs?: number;
  flushAtCount?: number;
  maxBatch?: number;
  /** Past this many unsent events the oldest are dropped (and said so), so the buffer stays small. */
  maxBuffered?: number;
  maxBackoffMs?: number;
}

export type NewEvent = Omit<ApiEvent, 'key' | 'at'> & { at?: Date };

export class EventReporter {
  private pending: BufferedEvent[] = [];
  private readonly runId = randomBytes(6).toString('hex');
  private sequence = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<boolean> | undefined;
  private failures = 0;
  private nextAttemptAt = 0;
  private dropped = 0;
  private bufferWriteFailed = false;
  private readonly settings: Required<Omit<EventReporterOptions, 'send' | 'log' | 'bufferFile'>>;

  constructor(private readonly options: EventReporterOptions) {
    this.settings = {
      flushEveryMs: options.flushEveryMs ?? 3_000,
      flushAtCount: options.flushAtCount ?? 200,
      maxBatch: options.maxBatch ?? 500,
      maxBuffered: options.maxBuffered ?? 20_000,
      maxBackoffMs: options.maxBackoffMs ?? 60_000,
    };
    this.pending = this.readBuffer();
  }

  /** Events not yet accepted by the API (this run's and earlier runs'). */
  get unsent(): number {
    return this.pending.length;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.settings.flushEveryMs);
    this.timer.unref();
  }

  report(txnId: number, event: NewEvent): void {
    const { at, ...rest } = event;
    const buffered: BufferedEvent = { txnId, key: `${this.runId}.${++this.sequence}`, at: (at ?? new Date()).toISOString(), ...rest };
    this.pending.push(buffered);
    try {
      appendFileSync(this.options.bufferFile, `${JSON.stringify(buffered)}\n`, { mode: 0o600 });
    } catch (error) {
      if (!this.bufferWriteFailed) this.options.log.warn(`cannot write the event buffer ${this.options.bufferFile}: ${messageOf(error)}; events are kept in memory only`);
      this.bufferWriteFailed = true;
    }
    if (this.pending.length > this.settings.maxBuffered) this.dropOldest();
    if (this.pending.length >= this.settings.flushAtCount) void this.flush();
  }

  /** Sends what is pending; true when nothing is left. Never throws: a failure only delays the next try. */
  flush(force = false): Promise<boolean> {
    if (this.flushing) return this.flushing;
    if (!force && Date.now() < this.nextAttemptAt) return Promise.resolve(this.pending.length === 0);
    this.flushing = this.sendPending().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** Stops the timer and makes a last attempt; what cannot be sent stays in the buffer file. */
  async close(): Promise<boolean> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flushing;
    const done = await this.flush(true);
    if (!done) this.options.log.warn(`${this.pending.length} status events could not be sent; they are kept in ${this.options.bufferFile} for the next run`);
    return done;
  }

  private async sendPending(): Promise<boolean> {
    while (this.pending.length > 0) {
      const txnId = this.pending[0]!.txnId;
      const batch: BufferedEvent[] = [];
      for (const event of this.pending) {
        if (event.txnId !== txnId || batch.length >= this.settings.maxBatch) break;
        batch.push(event);
      }
      try {
        await this.options.send(txnId, batch.map(({ txnId: _txn, ...event }) => event));
      } catch (error) {
        // Refused as invalid (a 4xx other than 401/403/429) it would be refused for ever, and hold up
        // every event behind it: dropped, said once. A limit (429) or an outage is waited out.
        if (error instanceof GanymedeError && error.exitCode === ExitCode.refused) {
          this.options.log.warn(`${batch.length} status events of transaction ${txnId} were refused and are dropped: ${messageOf(error)}`);
          this.forget(batch);
          continue;
        }
        this.failures++;
        this.nextAttemptAt = Date.now() + Math.min(this.settings.maxBackoffMs, 1_000 * 2 ** Math.min(this.failures, 16));
        if (this.failures === 1 || this.failures % 10 === 0) {
          this.options.log.warn(`status events not sent (${this.pending.length} waiting, kept on disk): ${messageOf(error)}`);
        }
        return false;
      }
      if (this.failures > 0) this.options.log.info(`the status API answers again; sending ${this.pending.length} buffered events`);
      this.failures = 0;
      this.nextAttemptAt = 0;
      this.forget(batch);
    }
    return true;
  }

  private forget(batch: BufferedEvent[]): void {
    const done = new Set(batch.map((event) => event.key));
    this.pending = this.pending.filter((event) => !done.has(event.key));
    this.rewriteBuffer();
  }

  private dropOldest(): void {
    const excess = this.pending.length - this.settings.maxBuffered;
    this.pending.splice(0, excess);
    this.dropped += excess;
    if (this.dropped === excess) this.options.log.warn(`the event buffer is full (${this.settings.maxBuffered}); dropping the oldest events`);
    this.rewriteBuffer();
  }

  private readBuffer(): BufferedEvent[] {
    if (!existsSync(this.options.bufferFile)) return [];
    const events: BufferedEvent[] = [];
    for (const line of readFileSync(this.options.bufferFile, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const event = JSON.parse(line) as BufferedEvent;
        if (typeof event.txnId === 'number' && typeof event.key === 'string') events.push(event);
      } catch {
        // A line cut short by a crash mid-append: the rest of the buffer is still good.
      }
    }
    return events.slice(-this.settings.maxBuffered);
  }

  private rewriteBuffer(): void {
    const temp = `${this.options.bufferFile}.tmp`;
    try {
      writeFileSync(temp, this.pending.map((event) => `${JSON.stringify(event)}\n`).join(''), { mode: 0o600 });
      renameSync(temp, this.options.bufferFile);
    } catch (error) {
      this.options.log.warn(`cannot rewrite the event buffer ${this.options.bufferFile}: ${messageOf(error)}`);
    }
  }
}
