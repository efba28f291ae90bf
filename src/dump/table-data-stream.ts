// One table's rows as a byte stream in the dump format, straight off a mysql2 connection, with
// backpressure: when the consumer is full the connection stops reading its socket, so TCP holds the
// rest on the server and memory stays flat whatever the table's size.
import { Readable } from 'node:stream';
import type { Connection, QueryError } from 'mysql2';
import { RowEncoder, type ChunkSink } from './dump-format.js';

export interface TableDataStats {
  rows: number;
  bytes: number;
  /** `crc32-sum64`, 16 hex digits. */
  checksum: string;
}

const defaultHighWaterMarkBytes = 1024 * 1024;

export class TableDataStream extends Readable {
  private readonly encoder: RowEncoder;
  private started = false;
  private sourcePaused = false;
  private failed = false;
  private draining = false;
  private queryEnded = false;
  private finished: TableDataStats | undefined;
  /** Rows encoded straight from their packets (tests check the fast route is taken); -1 if unavailable. */
  packetRows = 0;

  constructor(
    private readonly conn: Connection,
    private readonly sql: string,
    /** How errors name the table. */
    readonly label: string,
    highWaterMarkBytes = defaultHighWaterMarkBytes,
  ) {
    super({ highWaterMark: highWaterMarkBytes });
    this.encoder = new RowEncoder((chunk) => {
      // Not once the result has ended: nothing would resume the connection for the next query.
      if (!this.draining && !this.push(chunk) && !this.queryEnded) this.pauseSource();
    });
  }

  /** Rows encoded so far (progress). */
  get rows(): number {
    return this.encoder.rows;
  }

  /** Bytes emitted so far (progress). */
  get bytes(): number {
    return this.encoder.bytes;
  }

  /** Final counts and checksum; only once the stream has ended. */
  stats(): TableDataStats {
    if (this.finished === undefined) throw new Error(`table ${this.label}: its data has not been read to the end`);
    return this.finished;
  }

  override _read(): void {
    // The query starts on the first read, so a stream made but not yet consumed costs nothing.
    if (!this.started) {
      this.started = true;
      this.start();
    } else if (this.sourcePaused) {
      this.sourcePaused = false;
      this.conn.resume();
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // mysql2 cannot abandon a result set: let the rest arrive and drop it, so the connection stays usable.
    if (this.started && this.finished === undefined && !this.failed) {
      this.draining = true;
      if (this.sourcePaused) {
        this.sourcePaused = false;
        this.conn.resume();
      }
    }
    callback(error);
  }

  private pauseSource(): void {
    if (this.sourcePaused) return;
    this.sourcePaused = true;
    this.conn.pause();
  }

  private start(): void {
    // typeCast false: every value as the server's own bytes (a Buffer), nothing parsed into JS numbers
    // or dates that could round or shift.
    // A connection that is closed (destroyed by a stop, or lost) reports a new query's failure on itself, not
    // on the query: unheard, that 'error' kills the process; heard here, it fails this stream.
    const onConnectionError = (error: Error) => {
      this.failed = true;
      if (!this.destroyed) this.destroy(new Error(`reading table ${this.label}: ${error.message}`, { cause: error }));
    };
    const stopListening = () => this.conn.off('error', onConnectionError);
    this.conn.on('error', onConnectionError);
    this.once('close', stopListening);
    const query = this.conn.query({ sql: this.sql, typeCast: false, rowsAsArray: true });
    const direct = encodeRowPackets(query, (payload, start, end) => {
      if (this.draining) return;
      this.packetRows++;
      try {
        this.encoder.encodePacket(payload, start, end);
      } catch (error) {
        // Thrown inside mysql2's packet handler it would be lost or crash the process: the stream fails
        // instead (and drops the rest of the result, see _destroy).
        this.destroy(new Error(`reading a table: ${(error as Error).message}`, { cause: error }));
      }
    });
    // Rows that come the documented way: only if a mysql2 release no longer takes the direct route.
    query.on('result', (row: unknown) => {
      if (!this.draining) this.encoder.encode(row as (Buffer | null)[]);
    });
    if (!direct) this.packetRows = -1;
    query.on('error', (error: QueryError) => {
      this.failed = true;
      if (!this.destroyed) this.destroy(new Error(`reading table ${this.label}: ${error.message}`, { cause: error }));
    });
    query.on('end', () => {
      this.queryEnded = true;
      stopListening();
      if (this.failed || this.draining) return;
      this.encoder.end();
      this.finished = { rows: this.encoder.rows, bytes: this.encoder.bytes, checksum: this.encoder.checksum() };
      this.push(null);
    });
  }
}

type RowPacketHandler = (payload: Buffer, start: number, end: number) => void;

interface QueryInternals {
  row?: (this: QueryInternals, packet: RowPacket, connection: unknown) => unknown;
}

interface RowPacket {
  buffer: Buffer;
  offset: number;
  end: number;
  isEOF(): boolean;
}

/**
 * Hands each row of a text-protocol result to `onRow` as its packet bytes, before mysql2 parses it into a
 * Buffer per field and an array per row (a third of the extraction's CPU, measured). mysql2 runs a
 * query as a state machine whose states are its methods; after the column definitions it moves to
 * `this.row`, so an own `row` on the query object takes each row packet, and hands the end-of-result
 * packet back to mysql2. A mysql2 that no longer looks `row` up on the object leaves this one unused and
 * delivers rows through 'result' as documented; false when the query has no `row` state at all.
 * The packet object is reused by mysql2: its bytes are only valid during the call.
 */
function encodeRowPackets(query: unknown, onRow: RowPacketHandler): boolean {
  const internals = query as QueryInternals;
  const parseRow = internals.row;
  if (typeof parseRow !== 'function') return false;
  const row = function (this: QueryInternals, packet: RowPacket, connection: unknown): unknown {
    if (packet.isEOF()) return parseRow.call(this, packet, connection);
    onRow(packet.buffer, packet.offset, packet.end);
    return row;
  };
  internals.row = row;
  return true;
}

/** When a table read should stop reading the socket for a while, or stop for good. */
export interface ReadFlow {
  /** The consumer is full: pause the connection until a drain. */
  readonly congested: boolean;
  /** Calls the listener when the consumer has taken something; returns the way to unsubscribe. */
  onDrain(listener: () => void): () => void;
  /** Aborted when the consumer has failed: the read fails with the reason. */
  readonly signal: AbortSignal;
}

/** A table read straight into a sink, for consumers that take the encoded bytes where they are written. */
export interface TableRead {
  readonly rows: number;
  readonly bytes: number;
  /** Resolves once every row is encoded and emitted. */
  readonly done: Promise<TableDataStats>;
}

/**
 * Reads a table's rows into `sink` as the dump's bytes, pausing the connection while `flow` is
 * congested. The same bytes and checksum as TableDataStream, without a stream between. After a failure
 * the connection may be mid-result: close it rather than run another query on it.
 */
export function readTable(conn: Connection, sql: string, label: string, sink: ChunkSink, flow: ReadFlow): TableRead {
  const encoder = new RowEncoder(sink);
  const done = new Promise<TableDataStats>((resolve, reject) => {
    let paused = false;
    let failed = false;
    const offDrain = flow.onDrain(() => {
      if (paused && !flow.congested && !failed) {
        paused = false;
        conn.resume();
      }
    });
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      cleanUp();
      reject(error);
    };
    const onAbort = () => fail(flow.signal.reason instanceof Error ? flow.signal.reason : new Error(`reading table ${label}: stopped`));
    // A lost connection is reported on the connection, not on the query, which then never ends.
    const onConnectionError = (error: QueryError) => fail(new Error(`reading table ${label}: ${error.message}`, { cause: error }));
    const onConnectionEnd = () => {
      const lost = Object.assign(new Error('the server closed the connection'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });
      fail(new Error(`reading table ${label}: the connection closed before the table's end`, { cause: lost }));
    };
    conn.on('error', onConnectionError);
    conn.on('end', onConnectionEnd);
    const cleanUp = () => {
      offDrain();
      flow.signal.removeEventListener('abort', onAbort);
      conn.off('error', onConnectionError);
      conn.off('end', onConnectionEnd);
    };
    if (flow.signal.aborted) return onAbort();
    flow.signal.addEventListener('abort', onAbort, { once: true });
    const afterRow = () => {
      if (flow.congested && !paused) {
        paused = true;
        conn.pause();
      }
    };
    const query = conn.query({ sql, typeCast: false, rowsAsArray: true });
    encodeRowPackets(query, (payload, start, end) => {
      if (failed) return;
      try {
        encoder.encodePacket(payload, start, end);
        afterRow();
      } catch (error) {
        fail(new Error(`reading table ${label}: ${(error as Error).message}`, { cause: error }));
      }
    });
    // Rows that come the documented way: only if a mysql2 release no longer takes the direct route.
    query.on('result', (row: unknown) => {
      if (failed) return;
      encoder.encode(row as (Buffer | null)[]);
      afterRow();
    });
    query.on('error', (error: QueryError) => fail(new Error(`reading table ${label}: ${error.message}`, { cause: error })));
    query.on('end', () => {
      if (failed) return;
      try {
        encoder.end();
      } catch (error) {
        return fail(error as Error);
      }
      cleanUp();
      resolve({ rows: encoder.rows, bytes: encoder.bytes, checksum: encoder.checksum() });
    });
  });
  return {
    get rows() {
      return encoder.rows;
    },
    get bytes() {
      return encoder.bytes;
    },
    done,
  };
}

/** Reads a whole table stream, dropping the bytes, for its counts and checksum. */
export async function measureTableData(stream: TableDataStream): Promise<TableDataStats> {
  for await (const chunk of stream) void chunk;
  return stream.stats();
}

/** A plain query on a callback-style mysql2 connection. */
export function runQuery<T = unknown>(conn: Connection, sql: string, values?: unknown[]): Promise<T> {
  return new Promise((resolve, reject) => {
    conn.query(sql, values ?? [], (error: QueryError | null, result: unknown) => {
      if (error) reject(error);
      else resolve(result as T);
    });
  });
}

/** A query's rows as arrays of text; Buffers (the binary result charset) read as UTF-8. */
export async function queryTextRows(conn: Connection, sql: string, values?: unknown[]): Promise<(string | null)[][]> {
  const rows = await new Promise<unknown[][]>((resolve, reject) => {
    conn.query({ sql, values: values ?? [], rowsAsArray: true, typeCast: false }, (error: QueryError | null, result: unknown) => {
      if (error) reject(error);
      else resolve(result as unknown[][]);
    });
  });
  return rows.map((row) => row.map(textOf));
}

export function textOf(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}
