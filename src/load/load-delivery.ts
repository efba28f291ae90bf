// The centre's load without a work dir: the delivered file is streamed again from the inbox (decrypt,
// decompress, strict tar: delivery-reader.ts) and each table's parts go straight into LOAD DATA as they
// arrive in the tar, then each table is read back and compared with the manifest (load-tables.ts).
// openpgp.js hands out plaintext before its integrity check, so nothing loaded is trusted until the whole
// stream ended with a good signature: when loadDelivery rejects, the schema holds whatever was loaded
// until then, and the caller drops it, as after any failed load.
import { isDeepStrictEqual } from 'node:util';
import type { Connection } from 'mysql2';
import { dataDir, manifestEntry } from '../dump/dump-archive.js';
import { parseDumpManifest, parseDumpPlan, type DumpManifest, type DumpPlan, type DumpTablePlan, type DumpTableResult } from '../dump/dump-manifest.js';
import { DeliveryRefusal, readDelivery, type DeliverySource } from './delivery-reader.js';
import { loadTable, TableMismatchError, verifyTable, type LoadTableOptions, type LoadTableResult, type VerifyTableResult } from './load-tables.js';
import { ConnectionPool, TableFeed } from './table-feed.js';
import type { TarEntryHeader, TarEntrySink } from './tar-reader.js';
import { manifestProblem } from './verify-delivery.js';

export interface LoadDeliveryOptions extends LoadTableOptions {
  /**
   * The manifest a verifying pass read from this same file (verifyDelivery): each table is compared with it
   * as soon as it loaded, and the stream's own manifest must equal it. Without it, the tables are compared
   * once the stream's manifest arrived, at its end.
   */
  manifest?: DumpManifest;
  /** Only these tables (by name) are loaded; the others' bytes are read and dropped. Default: every table. */
  tables?: ReadonlySet<string>;
  onTable?: (table: DumpTablePlan, index: number) => void;
}

export interface LoadedDelivery {
  signerFingerprint: string;
  manifest: DumpManifest;
  /** The tables this pass loaded, each verified, with what of its definition the centre's server could not create. */
  tables: Array<VerifyTableResult & Pick<LoadTableResult, 'warnings' | 'translations'>>;
  rows: number;
  bytes: number;
}

/** The file a data part belongs to: `data/0001.tsv.000002` → `0001.tsv`. */
const fileOfPart = (path: string) => path.slice(dataDir.length + 1, path.lastIndexOf('.'));

const discard: TarEntrySink = { write: async () => undefined, end: async () => undefined };

/**
 * Loads a delivery into the schema the connections use, straight from the file. Tables load in the tar's
 * order, each on the next free connection; with a manifest given, a table is read back on its connection
 * while the next one loads on another. Several passes over one file, each with its own `tables` and
 * connections (splitTablesByBytes), load in parallel at the cost of decrypting the file once per pass.
 */
export async function loadDelivery(target: Connection | Connection[], delivery: DeliverySource, options: LoadDeliveryOptions = {}): Promise<LoadedDelivery> {
  const pool = new ConnectionPool(Array.isArray(target) ? target : [target]);
  const signal = delivery.signal;
  const jobs: Promise<void>[] = [];
  const loads = new Map<string, LoadTableResult>();
  const verified: LoadedDelivery['tables'] = [];
  const started = new Set<string>();
  let plan: DumpPlan | undefined;
  let feeding: { feed: TableFeed; sink: TarEntrySink } | undefined;
  // A failure on the centre's side (the server, a connection) stops the stream at its next entry; a table
  // that differs from the manifest only stops loading, and the stream is read on for the OpenPGP verdict.
  let fault: unknown;
  let mismatch: TableMismatchError | undefined;
  let stopping = false;
  const wanted = (table: DumpTablePlan) => !options.tables || options.tables.has(table.name);
  const expected = (name: string) => options.manifest?.tables.find((table) => table.name === name);

  const verify = async (conn: Connection, table: DumpTableResult, sourceServerVersion: string) => {
    const loaded = loads.get(table.name)!;
    const result = await verifyTable(conn, table, { sourceServerVersion, loadWarnings: loaded.warningSamples, translated: loaded.translations.length > 0 });
    verified.push({ ...result, warnings: loaded.warnings, translations: loaded.translations });
  };

  /** Starts loading `table` on a free connection (waiting for one); its data is what the sink returned is given. */
  const startTable = async (table: DumpTablePlan): Promise<TarEntrySink> => {
    const conn = await pool.take(signal);
    // The table before may have failed while this one waited for its connection.
    if (fault || mismatch) {
      pool.give(conn);
      if (fault) throw fault;
      return discard;
    }
    options.onTable?.(table, started.size);
    started.add(table.name);
    const feed = new TableFeed();
    const job = (async () => {
      try {
        loads.set(table.name, await loadTable(conn, table, feed.stream, { definition: options.definition }));
        const known = expected(table.name);
        if (known) await verify(conn, known, options.manifest!.source.serverVersion);
      } catch (error) {
        if (stopping) return;
        if (error instanceof TableMismatchError) mismatch ??= error;
        else fault ??= error;
      } finally {
        pool.give(conn);
      }
    })();
    jobs.push(job);
    feeding = {
      feed,
      sink: {
        async write(chunk) {
          if (await feed.write(chunk)) return;
          // The load failed (and ended its stream) or was stopped: say why.
          await job;
          throw fault ?? new Error(`the load of table ${JSON.stringify(table.name)} stopped before its data ended`);
        },
        end: async () => undefined,
      },
    };
    return feeding.sink;
  };

  const endFeeding = () => {
    feeding?.feed.end();
    feeding = undefined;
  };

  const entry = async (header: TarEntryHeader): Promise<TarEntrySink> => {
    if (fault) throw fault;
    if (header.path === manifestEntry) {
      endFeeding();
      // A table with no rows has no parts: created here, empty.
      for (const table of plan!.tables) {
        if (wanted(table) && !started.has(table.name)) {
          await startTable(table);
          endFeeding();
        }
      }
      return discard;
    }
    if (!header.path.startsWith(`${dataDir}/`)) return discard;
    const file = fileOfPart(header.path);
    const table = plan!.tables.find((candidate) => candidate.file === file)!;
    // The layout lets a file's parts come only together and in order: a later part continues the table being fed.
    if (started.has(table.name)) return feeding?.sink ?? discard;
    endFeeding();
    return wanted(table) ? startTable(table) : discard;
  };

  const readPlan = (text: string) => {
    plan = parseDumpPlan(text);
    const names = new Set(plan.tables.map((table) => table.name));
    const unknown = [...(options.tables ?? [])].filter((name) => !names.has(name));
    if (unknown.length > 0) throw new Error(`this delivery has no table ${unknown.map((name) => JSON.stringify(name)).join(', ')} to load`);
    if (options.manifest && manifestProblem(plan, options.manifest)) throw changedSinceVerified();
  };

  // Stopped or failed: the LOAD DATA under way ends at once (a read-back runs to its end unless the
  // caller destroys the connections, as worker load does when it is stopped).
  const stop = (error: Error) => {
    stopping = true;
    feeding?.feed.stop(error);
  };
  const onAbort = () => stop(signal!.reason as Error);
  signal?.addEventListener('abort', onAbort, { once: true });
  let read;
  try {
    read = await readDelivery(delivery, { entry, plan: readPlan, abort: stop });
  } catch (error) {
    stop(error as Error);
    await Promise.allSettled(jobs);
    throw signal?.aborted ? signal.reason : error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  await Promise.allSettled(jobs);
  if (fault) throw fault;
  if (mismatch) throw mismatch;

  // Verified by now: whatever is wrong with the manifest is what the GEO signed.
  const manifest = parseDumpManifest(read.manifestText);
  const problem = manifestProblem(plan!, manifest);
  if (problem) throw new DeliveryRefusal(problem);
  if (options.manifest && !isDeepStrictEqual(manifest, options.manifest)) throw changedSinceVerified();
  if (!options.manifest) {
    // The tables loaded, compared now that the manifest is known, spread over the connections.
    await Promise.all(
      manifest.tables.filter((table) => loads.has(table.name)).map(async (table) => {
        const conn = await pool.take(signal);
        try {
          await verify(conn, table, manifest.source.serverVersion);
        } finally {
          pool.give(conn);
        }
      }),
    );
  }
  const mine = manifest.tables.filter(wanted);
  return {
    signerFingerprint: read.signerFingerprint,
    manifest,
    tables: verified,
    rows: mine.reduce((sum, table) => sum + table.rows, 0),
    bytes: mine.reduce((sum, table) => sum + table.bytes, 0),
  };
}

const changedSinceVerified = () => new Error('the delivered file is not the one that was verified (its plan or manifest differs): verify it again');

/**
 * The tables in `passes` groups of about equal bytes (biggest first, each to the lightest group), one
 * group per pass of loadDelivery.
 */
export function splitTablesByBytes(manifest: DumpManifest, passes: number): Array<Set<string>> {
  const groups = Array.from({ length: passes }, () => ({ names: new Set<string>(), bytes: 0 }));
  for (const table of [...manifest.tables].sort((a, b) => b.bytes - a.bytes)) {
    const lightest = groups.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    lightest.names.add(table.name);
    lightest.bytes += table.bytes;
  }
  return groups.map((group) => group.names);
}
