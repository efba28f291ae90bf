// What one GEO can write through the events route. Per transaction, stored events are capped: the rest
// are dropped (the reply says how many) and one note in the transaction says so; a 2xx, because a batch
// refused for good would hold up every later event in the agent's buffer. Per GEO, events stored in the
// last minute are limited: past it a 429 with Retry-After, which the agent's reporter waits out with the
// events kept. Both are counted in the events table, so they hold across restarts and API processes;
// within a process a GEO's batches are taken one at a time, so concurrent ones cannot each slip under.
import type { Db } from '../state/db.js';
import { countRecentEvents, countTxnEvents, recordEvents, type StatusEvent } from '../state/events.js';
import { HttpError } from './http.js';

export interface EventLimits {
  maxEventsPerTxn: number;
  maxEventsPerGeoPerMinute: number;
}

export const defaultEventLimits: EventLimits = { maxEventsPerTxn: 5_000, maxEventsPerGeoPerMinute: 1_200 };

const minuteMs = 60_000;
/** The key of the note left when a transaction's cap is reached: stored once, however often the cap is hit. */
export const eventCapNoteKey = 'ganymede.event-cap';

export interface EventBatch {
  txnId: number;
  geoId: number;
  geoName: string;
  /** agent (a GEO's token, limited per minute) or admin (not). */
  source: 'agent' | 'admin';
  events: StatusEvent[];
}

export class EventWriter {
  private readonly queues = new Map<number, Promise<unknown>>();

  constructor(
    private readonly db: Db,
    private readonly limits: EventLimits = defaultEventLimits,
  ) {}

  /** Stores what the limits allow; a 429 HttpError when the GEO is over its rate. */
  store(batch: EventBatch): Promise<{ stored: number; dropped: number }> {
    return this.oneAtATime(batch.geoId, () => this.storeNow(batch));
  }

  private async storeNow(batch: EventBatch): Promise<{ stored: number; dropped: number }> {
    const { db, limits } = this;
    if (batch.source === 'agent') {
      const recent = await countRecentEvents(db, batch.geoId, 'agent', minuteMs);
      // A batch larger than the whole allowance is let through alone, so no batch is refused for good.
      if (recent.count > 0 && recent.count + batch.events.length > limits.maxEventsPerGeoPerMinute) {
        const seconds = Math.max(1, Math.ceil(recent.oldestLeavesInMs / 1000));
        throw new HttpError(
          429,
          `GEO ${batch.geoName} stored ${recent.count} events in the last minute and the limit is ${limits.maxEventsPerGeoPerMinute} (api.max_events_per_geo_per_minute); try again in ${seconds} s`,
          undefined,
          { 'retry-after': String(seconds) },
        );
      }
    }
    const room = Math.max(0, limits.maxEventsPerTxn - (await countTxnEvents(db, batch.txnId)));
    const kept = batch.events.slice(0, room);
    const dropped = batch.events.length - kept.length;
    const stored = await recordEvents(db, { txnId: batch.txnId, geoId: batch.geoId, source: batch.source }, kept);
    if (dropped > 0) {
      const note: StatusEvent = {
        key: eventCapNoteKey,
        at: new Date(),
        level: 'warn',
        phase: 'events',
        message: `this transaction reached its cap of ${limits.maxEventsPerTxn} stored events (api.max_events_per_txn); later events are not stored`,
      };
      await recordEvents(db, { txnId: batch.txnId, geoId: batch.geoId, source: 'api' }, [note]);
    }
    return { stored, dropped };
  }

  private async oneAtATime<T>(geoId: number, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(geoId) ?? Promise.resolve();
    const run = previous.then(work, work);
    const settled = run.catch(() => undefined);
    this.queues.set(geoId, settled);
    try {
      return await run;
    } finally {
      if (this.queues.get(geoId) === settled) this.queues.delete(geoId);
    }
  }
}
