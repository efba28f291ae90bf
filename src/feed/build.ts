// A cycle's data feed from the warehouse: per collection one gzip file (NDJSON, or CSV) and a
// manifest.json with each file's rows, size and sha256 and the GEOs included. Documents are read in _id
// order, encoded with sorted keys and gzip writes no time stamp, so the same warehouse content always
// gives the same bytes. Each file is written to a local spool file, then put into the feed store under
// <cycle>/ (a put is atomic, and a retried put reads the spool again from its first byte); the manifest last.
// A field the warehouse keeps in GridFS (a row too large for one document) is read back into its line, one row at a time.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInterface } from 'node:readline';
import { createGunzip, createGzip } from 'node:zlib';
import type { Db, Document } from 'mongodb';
import { rehydrate } from '../warehouse/oversize.js';
import { inBatches } from '../warehouse/batches.js';
import { changesCollection } from '../warehouse/progress.js';
import type { Transport } from '../transport/transport.js';
import { csvLine, feedRecord, plain } from './encode.js';
import { feedManifestName, feedObjectName, type FeedFile, type FeedGeoSchema, type FeedManifest, type FeedSchemaChange } from './store.js';
import { createProgress } from '../progress.js';

export interface BuildFeedOptions {
  db: Db;
  cycleStart: Date;
  geos: string[];
  missingGeos: string[];
  encoding: 'ndjson' | 'csv';
  mode: 'full' | 'changes';
  /** The feed store; the cycle's feed there, everything under `<cycle>/`, is replaced as a whole. */
  store: Transport;
  /** A local directory of this run's own, for the file being written; removed when done. */
  spoolDir: string;
  signal?: AbortSignal;
  /** The fed GEOs' schemas at this hour and their changes (worker feed reads them from the Ganymede database). */
  schemas?: { geos: FeedGeoSchema[]; changes: FeedSchemaChange[] };
  /** Called once every file is in the store, before the manifest is published; what it throws stops the feed. */
  beforePublishing?: () => Promise<void>;
}

const lookupBatch = 500;

async function writeGzip(path: string, lines: AsyncIterable<string>, signal?: AbortSignal, level = 6): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const gzip = createGzip({ level });
  gzip.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  await pipeline(Readable.from(lines), gzip, createWriteStream(path, { mode: 0o600 }), { signal });
  return { bytes, sha256: hash.digest('hex') };
}

async function stateCollections(db: Db): Promise<string[]> {
  const collections = await db.listCollections({}, { nameOnly: true }).toArray();
  return collections.map((item) => item.name).filter((name) => !name.startsWith('_ganymede') && !name.startsWith('system.')).sort();
}

/** Full state: every document of the included GEOs. */
async function* fullRecords(db: Db, collection: string, geos: string[]): AsyncGenerator<Record<string, unknown>> {
  for await (const doc of db.collection(collection).find({ geo: { $in: geos } }).sort({ _id: 1 })) yield feedRecord(await rehydrate(db, doc));
}

/**
 * Changes: every change-log entry not yet fed (or fed by this very cycle, so a re-run gives the same
 * feed) up to this cycle — which includes a GEO that was late for an earlier, partial feed. `fedIn: null`
 * matches the entries etl writes with `fedIn: null` and the older ones written without the field; the
 * change log's `{ fedIn, geo, collection, _id }` index serves the query and its `_id` order.
 */
function pendingChanges(cycleStart: Date, geos: string[]): Document {
  return { fedIn: { $in: [null, cycleStart] }, geo: { $in: geos }, cycle: { $lte: cycleStart } };
}

/**
 * Each batch of entries is marked fed by this cycle as it is read, before its lines are written: exactly
 * the entries this feed carries, never one logged after the read. A run cut short leaves them marked with
 * this cycle, which its re-run reads again.
 */
async function* changeRecords(db: Db, collection: string, cycleStart: Date, geos: string[]): AsyncGenerator<Record<string, unknown>> {
  const changes = db.collection(changesCollection);
  const cursor = changes.find({ ...pendingChanges(cycleStart, geos), collection }).sort({ _id: 1 });
  // Marking moves an entry within the index the cursor reads; read in `_id` order, one seen again is skipped.
  let last: Buffer | undefined;
  for await (const read of inBatches(cursor, lookupBatch)) {
    // MongoDB orders strings by their UTF-8 bytes, which JavaScript's `>` does not.
    const batch = read.filter((change) => last === undefined || Buffer.compare(Buffer.from(String(change._id)), last) > 0);
    if (batch.length === 0) continue;
    last = Buffer.from(String(batch.at(-1)!._id));
    const unmarked = batch.filter((change) => change.fedIn === null || change.fedIn === undefined);
    // With `geo` and `collection`, the shard key's first fields: only the GEOs' shards are asked.
    if (unmarked.length > 0) {
      await changes.updateMany({ geo: { $in: geos }, collection, _id: { $in: unmarked.map((change) => change._id) } }, { $set: { fedIn: cycleStart } });
    }
    const ids = batch.filter((change) => change.op !== 'removed').map((change) => change.docId as string);
    const current = new Map<string, Document>();
    for await (const doc of db.collection<{ _id: string }>(collection).find({ geo: { $in: geos }, _id: { $in: ids } })) current.set(doc._id, doc);
    for (const change of batch) {
      const doc = current.get(change.docId as string);
      const record = change.op === 'removed' || !doc ? null : feedRecord(await rehydrate(db, doc));
      yield plain({ op: change.op, id: change.docId, geo: change.geo, cycle: change.cycle, doc: record }) as Record<string, unknown>;
    }
  }
}

async function* collectingKeys(records: AsyncIterable<Record<string, unknown>>, keys: Set<string>): AsyncGenerator<string> {
  for await (const record of records) {
    for (const key of Object.keys(record)) keys.add(key);
    yield `${JSON.stringify(record)}\n`;
  }
}

async function* readSpool(path: string): AsyncGenerator<Record<string, unknown>> {
  const lines = createInterface({ input: createReadStream(path).pipe(createGunzip()), crlfDelay: Infinity });
  for await (const line of lines) if (line) yield JSON.parse(line) as Record<string, unknown>;
}

async function* asLines(records: AsyncIterable<Record<string, unknown>>, counter: { rows: number }, columns?: string[]): AsyncGenerator<string> {
  if (columns) yield csvLine(columns, Object.fromEntries(columns.map((column) => [column, column])));
  for await (const record of records) {
    counter.rows++;
    yield columns ? csvLine(columns, record) : `${JSON.stringify(record)}\n`;
  }
}

export async function buildFeed(options: BuildFeedOptions): Promise<FeedManifest> {
  const { db, cycleStart, geos, store, spoolDir, signal } = options;
  const cycle = cycleStart.toISOString().slice(0, 13);
  const manifestName = feedObjectName(cycle, feedManifestName);
  await rm(spoolDir, { recursive: true, force: true });
  await mkdir(spoolDir, { recursive: true, mode: 0o700 });
  try {
    // The old manifest goes first: while files are replaced one by one, the cycle has no manifest, so no
    // reader (`send` on any host) takes a half-rebuilt feed for a whole one; a send that read the old
    // manifest before still checks every file's sha256 against it and fails rather than mix the two.
    await store.remove(manifestName);
    const records = (collection: string) =>
      options.mode === 'full' ? fullRecords(db, collection, geos) : changeRecords(db, collection, cycleStart, geos);
    const collections = options.mode === 'full'
      ? await stateCollections(db)
      : ((await db.collection(changesCollection).distinct('collection', pendingChanges(cycleStart, geos))) as string[]).sort();
    const files: FeedFile[] = [];
    const bar = createProgress({ label: `building the feed of ${cycle}`, total: collections.length, unit: 'collections' });
    for (const [index, collection] of collections.entries()) {
      bar.update(index, `(${collection})`);
      const name = `${collection}.${options.encoding}.gz`;
      const counter = { rows: 0 };
      const spool = join(spoolDir, name);
      let written: { bytes: number; sha256: string };
      if (options.encoding === 'csv') {
        // CSV needs its columns before the first row. The warehouse is read once: the records wait in a local
        // spool while their keys are collected, so the header and the rows come from the same read.
        const keys = new Set<string>();
        const read = join(spoolDir, `${collection}.read.ndjson.gz`);
        await writeGzip(read, collectingKeys(records(collection), keys), signal, 1);
        written = await writeGzip(spool, asLines(readSpool(read), counter, [...keys].sort()), signal);
        await rm(read, { force: true });
      } else {
        written = await writeGzip(spool, asLines(records(collection), counter), signal);
      }
      signal?.throwIfAborted();
      await store.put(feedObjectName(cycle, name), () => createReadStream(spool, { highWaterMark: 1024 * 1024 }), { expectedSize: written.bytes });
      await rm(spool, { force: true });
      files.push({ name, collection, rows: counter.rows, ...written });
    }
    bar.finish();
    const manifest: FeedManifest = {
      format: 'ganymede-feed',
      version: 1,
      cycle,
      encoding: options.encoding,
      mode: options.mode,
      geos,
      missingGeos: options.missingGeos,
      files,
      ...(options.schemas ? { schemas: options.schemas.geos, schemaChanges: options.schemas.changes } : {}),
    };
    const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    // A worker that lost its lease stops here rather than publish over the feed of the one that took over.
    signal?.throwIfAborted();
    await options.beforePublishing?.();
    await store.put(manifestName, () => Readable.from([manifestBytes]), { expectedSize: manifestBytes.length });
    // Files of an earlier run that this manifest does not name (another format, a collection gone) go only
    // now: `send` uploads only what the manifest names, so until then they are never sent, and a crash
    // before this point leaves them for the next run to remove.
    const kept = new Set([feedManifestName, ...files.map((file) => file.name)].map((name) => feedObjectName(cycle, name)));
    for (const stale of await store.list(`${cycle}/`)) if (!kept.has(stale.name)) await store.remove(stale.name);
    return manifest;
  } finally {
    await rm(spoolDir, { recursive: true, force: true });
  }
}
