// Steps 3 and 4 of `agent run` on a worker thread: connect to the Cloud Control database, take the
// snapshot, and stream it through tar into a SealWriter (whose own worker compresses, encrypts, signs
// and writes). The calling thread keeps the lock, the API, the events and the progress bar.
//
// Why a thread: reading MySQL is the one stage that allocates per row, hundreds of MB an hour. On the
// main thread V8 lets its nursery grow to 48 MB and fills it; a worker's nursery can be sized
// (resourceLimits), and a small one keeps the agent's peak RSS flat and well under the 200 MB budget.
//
// prepareDump() starts the worker as soon as the run holds its lock: it loads its modules, connects,
// opens the snapshot and starts the seal worker while the main thread reads the keys and opens the
// hour's transaction. Nothing is written before run(), which gives the spool's name; an error of the
// source waits for run() too, so an hour with nothing to do never reports one.
import { parentPort } from 'node:worker_threads';
import type { DumpManifest } from '../dump/dump-manifest.js';
import type { TableCounts } from '../dump/dump-archive.js';
import type { SealedFile } from '../extract/seal-file.js';
import { deserializeError, serializeError, startModuleWorker, workerDataFor, type SerializedError } from '../extract/worker-thread.js';
import type { StreamConnectionOptions } from '../state/stream-connection.js';

const entry = 'ganymede-agent-dump';

export interface DumpSource {
  source: StreamConnectionOptions;
  include?: string[] | undefined;
  exclude?: string[] | undefined;
  compression: 'gzip' | 'zstd';
}

export interface DumpTarget {
  /** The spool file, created 0600; it must not exist yet. */
  path: string;
  /** Binary OpenPGP key packets (key.write()): the centre's public key and the GEO's unlocked private key. */
  encryptionKey: Uint8Array;
  signingKey: Uint8Array;
}

export interface DumpSnapshotInfo {
  tables: number;
  snapshotAt: string;
  unmatchedIncludes: string[];
  /** information_schema's guess of the rows, for a progress bar. */
  estimatedRows: number;
}

export interface DumpProgress {
  table: string;
  /** Rows read so far, all tables. */
  rows: number;
  /** Bytes of the current table's data so far. */
  bytes: number;
}

export interface DumpToFileHooks {
  onSnapshot?: (info: DumpSnapshotInfo) => void;
  onProgress?: (progress: DumpProgress) => void;
  /** Stops the dump; the spool file is left for the caller to remove. */
  signal?: AbortSignal | undefined;
}

export interface DumpResult {
  manifest: DumpManifest;
  sealed: SealedFile;
}

type FromDumpWorker =
  | ({ type: 'snapshot' } & DumpSnapshotInfo)
  | ({ type: 'progress' } & DumpProgress)
  | ({ type: 'done' } & DumpResult)
  | { type: 'error'; error: SerializedError };

type ToDumpWorker = { type: 'run'; target: DumpTarget } | { type: 'abort' };

interface DumpWorkerData extends DumpSource {
  entry: typeof entry;
}

// Measured at scale 1 (3.16M rows): 12 MB costs no CPU against Node's default 48; 6 MB cost ~0.4 s.
const maxYoungGenerationMb = 12;
const progressEveryMs = 250;

export interface PreparedDump {
  /** Writes the dump to `target`; settles once the worker has stopped, so the spool can be removed. */
  run(target: DumpTarget, hooks?: DumpToFileHooks): Promise<DumpResult>;
  /** Stops the worker unless run() was called (then it stops by itself); safe to call in any case. */
  cancel(): Promise<void>;
}

/** How long a stopped dump may take to wind down (close its files and connection) before it is terminated. */
const abortGraceMs = 2_000;

export function prepareDump(job: DumpSource): PreparedDump {
  const worker = startModuleWorker(import.meta.url, { entry, ...job } satisfies DumpWorkerData, { maxYoungGenerationMb });
  let hooks: DumpToFileHooks = {};
  let running = false;
  let outcome: { result: DumpResult } | { error: Error } | undefined;
  // The last word, once the worker has stopped (it may stop before run(), after an error).
  const finished = new Promise<{ result: DumpResult } | { error: Error }>((resolve) =>
    worker.once('exit', (code) => resolve((outcome ??= { error: new Error(`the dump worker stopped (exit code ${code}) before the dump was complete`) }))),
  );
  worker.on('message', (message: FromDumpWorker) => {
    switch (message.type) {
      case 'snapshot': {
        const { type: _type, ...info } = message;
        hooks.onSnapshot?.(info);
        break;
      }
      case 'progress': {
        const { type: _type, ...progress } = message;
        hooks.onProgress?.(progress);
        break;
      }
      case 'done':
        outcome ??= { result: { manifest: message.manifest, sealed: message.sealed } };
        break;
      case 'error':
        outcome ??= { error: deserializeError(message.error) };
        break;
    }
  });
  worker.on('error', (error) => (outcome ??= { error }));
  return {
    async run(target, runHooks = {}) {
      if (running) throw new Error('the dump has already run');
      runHooks.signal?.throwIfAborted();
      running = true;
      hooks = runHooks;
      let backstop: NodeJS.Timeout | undefined;
      const onAbort = () => {
        worker.postMessage({ type: 'abort' } satisfies ToDumpWorker);
        // A worker stuck in a query that never answers (opening the snapshot on a hung server) would
        // hold the run, and the host lock, past SIGTERM: stopped from outside after a grace period.
        outcome ??= { error: runHooks.signal?.reason instanceof Error ? runHooks.signal.reason : new Error('stopped') };
        backstop = setTimeout(() => void worker.terminate(), abortGraceMs);
        backstop.unref();
      };
      runHooks.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        worker.postMessage({ type: 'run', target } satisfies ToDumpWorker);
        const final = await finished;
        if ('error' in final) throw final.error;
        return final.result;
      } finally {
        clearTimeout(backstop);
        runHooks.signal?.removeEventListener('abort', onAbort);
      }
    },
    async cancel() {
      // Before run() the worker has written nothing: stopping it closes its connection and its seal worker.
      if (!running) await worker.terminate();
      await finished;
    },
  };
}

async function runDumpWorker(job: DumpWorkerData, port: NonNullable<typeof parentPort>): Promise<void> {
  const post = (message: FromDumpWorker) => port.postMessage(message);
  const abort = new AbortController();
  let go!: (target: DumpTarget) => void;
  let stop!: (error: Error) => void;
  const started = new Promise<DumpTarget>((resolve, reject) => ((go = resolve), (stop = reject)));
  started.catch(() => {});
  port.on('message', (message: ToDumpWorker) => {
    if (message.type === 'run') go(message.target);
    else {
      abort.abort(new Error('stopped'));
      stop(new Error('stopped'));
    }
  });
  const [{ connectStreaming }, { estimateTables, openSnapshot }, { writeDumpArchive }, { SealWriter }, { TarBatchWriter }, { GanymedeError, failedError, messageOf }, { describeMysqlError }] =
    await Promise.all([
      import('../state/stream-connection.js'),
      import('../extract/extract.js'),
      import('../dump/dump-archive.js'),
      import('../extract/seal-file.js'),
      import('../extract/tar-batches.js'),
      import('../errors.js'),
      import('../state/mysql-errors.js'),
    ]);
  /**
   * What the operator reads: the source's MySQL errors as the one-line errors of the rest of Ganymede
   * (a lost connection is "unreachable"), the disk's errors with their code (the caller names the
   * disk), anything else a failed run, never an "internal error".
   */
  const describeFailure = (error: unknown): unknown => {
    if (error instanceof GanymedeError) return error;
    const cause = (error as { cause?: unknown }).cause;
    for (const candidate of [cause, error]) {
      const fields = candidate as { code?: unknown; errno?: unknown; sqlMessage?: unknown; fatal?: unknown } | null;
      if (fields && typeof fields === 'object' && (typeof fields.sqlMessage === 'string' || fields.fatal !== undefined || /^(PROTOCOL_|ER_)/.test(String(fields.code ?? '')))) {
        return describeMysqlError(candidate, `${source.what} ${source.target.database}`, source.target.address, source.settingKey);
      }
    }
    // A system error (ENOSPC, EACCES…) keeps its code: the caller names the disk it happened on.
    if (/^E[A-Z0-9]+$/.test(String((error as NodeJS.ErrnoException).code ?? ''))) return error;
    return failedError(`the dump of ${source.target.database} failed: ${messageOf(error)}`);
  };
  const { source } = job;
  const filter = { database: source.target.database, include: job.include, exclude: job.exclude };
  // The seal worker loads openpgp.js and the compressor while we connect and open the snapshot.
  const writer = SealWriter.prepare({ compression: job.compression, signal: abort.signal });
  let connection: Awaited<ReturnType<typeof connectStreaming>> | undefined;
  let progress: NodeJS.Timeout | undefined;
  let archiving = false;
  const ready = (async () => {
    connection = await connectStreaming(source);
    // Between queries (while the API is asked, say) a lost connection is only an event: noted, never thrown.
    connection.on('error', () => {});
    const snapshot = await openSnapshot(connection, filter).catch((error: unknown) => {
      throw failedError(`${source.what} ${source.target.database} at ${source.target.address}: ${messageOf(error)}`);
    });
    const estimated = await estimateTables(connection, filter).catch(() => []);
    return { snapshot, estimatedRows: estimated.reduce((sum, table) => sum + table.estimatedRows, 0) };
  })();
  ready.catch(() => {});
  try {
    const target = await started;
    const { snapshot, estimatedRows } = await ready;
    post({
      type: 'snapshot',
      tables: snapshot.plan.tables.length,
      snapshotAt: snapshot.plan.snapshotAt,
      unmatchedIncludes: [...snapshot.unmatchedIncludes],
      estimatedRows,
    });
    writer.open({ path: target.path, encryptionKeys: [target.encryptionKey], signingKey: target.signingKey });
    let current: { table: string; counts: TableCounts } | undefined;
    let doneRows = 0;
    let last = '';
    const report = () => {
      if (!current) return;
      const update = { table: current.table, rows: doneRows + current.counts.rows, bytes: current.counts.bytes };
      const key = `${update.table}\0${update.rows}\0${update.bytes}`;
      if (key !== last) post({ type: 'progress', ...update });
      last = key;
    };
    progress = setInterval(report, progressEveryMs);
    archiving = true;
    await writeDumpArchive(snapshot, new TarBatchWriter(writer, new Date(snapshot.plan.snapshotAt)), writer, {
      onTable: (table, counts) => {
        if (current) doneRows += current.counts.rows;
        current = { table: table.name, counts };
        report();
      },
    });
    const sealed = await writer.end();
    report();
    const manifest = snapshot.manifest();
    await snapshot.close();
    post({ type: 'done', manifest, sealed });
  } catch (error) {
    // Before the archive, the source's failure is the one to report; after, whichever came first
    // (a full disk stops the table read, and the read then fails with the disk's error).
    const first = writer.fail(error);
    throw describeFailure(archiving ? first : error);
  } finally {
    clearInterval(progress);
    // A connection still being made is closed once made.
    await ready.catch(() => {});
    connection?.destroy();
    await writer.close();
  }
}

const data = workerDataFor<DumpWorkerData>(entry);
if (data && parentPort) {
  const port = parentPort;
  runDumpWorker(data, port).then(
    () => port.close(),
    (error: unknown) => {
      port.postMessage({ type: 'error', error: serializeError(error) } satisfies FromDumpWorker);
      port.close();
    },
  );
}
