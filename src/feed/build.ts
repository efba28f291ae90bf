// A cycle's data feed from the warehouse: per collection one gzip file (NDJSON, or CSV) and a
// manifest.json with each file's rows, size and sha256 and the GEOs included. Documents are read in _id
// order, encoded with sorted keys and gzip writes no time stamp, so the same warehouse content always
// gives the same bytes. Each file is written to a local spool file, then put into the feed store under
// <cycle>/ (a put is atomic, and a retried put reads the spool again from its first byte); the manifest last.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Db, Document } from 'mongodb';
import { changesCollection } from '../warehouse/progress.js';
import type { Transport } from '../transport/transport.js';
import { csvLine, feedRecord, plain } from './encode.js';
import { feedManifestName, feedObjectName, type FeedFile, type FeedManifest } from './store.js';
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
}

const lookupBatch = 500;

async function writeGzip(path: string, lines: AsyncIterable<string>, signal?: AbortSignal): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const gzip = createGzip({ level: 6 });
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
  for await (const doc of db.collection(collection).find({ geo: { $in: geos } }).sort({ _id: 1 })) yield feedRecord(doc);
}

/**
 * Changes: every change-log entry not yet fed (or fed by this very cycle, so a re-run gives the same
 * feed) up to this cycle — which includes a GEO that was late for an earlier, partial feed.
 */
function pendingChanges(cycleStart: Date, geos: string[]): Document {
  return { cycle: { $lte: cycleStart }, geo: { $in: geos }, $or: [{ fedIn: { $exists: false } }, { fedIn: cycleStart }] };
}

async function* changeRecords(db: Db, collection: string, cycleStart: Date, geos: string[]): AsyncGenerator<Record<string, unknown>> {
  const cursor = db.collection(changesCollection).find({ ...pendingChanges(cycleStart, geos), collection }).sort({ _id: 1 });
  let batch: Document[] = [];
  const flush = async function* (): AsyncGenerator<Record<string, unknown>> {
    const ids = batch.filter((change) => change.op !== 'removed').map((change) => change.docId as string);
    const current = new Map<string, Document>();
    for await (const doc of db.collection<{ _id: string }>(collection).find({ _id: { $in: ids } })) current.set(doc._id, doc);
    for (const change of batch) {
      const doc = current.get(change.docId as string);
      yield plain({ op: change.op, id: change.docId, geo: change.geo, cycle: change.cycle, doc: change.op === 'removed' || !doc ? null : feedRecord(doc) }) as Record<string, unknown>;
    }
    batch = [];
  };
  for await (const change of cursor) {
    batch.push(change);
    if (batch.length >= lookupBatch) yield* flush();
  }
  if (batch.length > 0) yield* flush();
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
      let columns: string[] | undefined;
      if (options.encoding === 'csv') {
        // CSV needs its columns before the first row: one pass to collect them.
        const keys = new Set<string>();
        for await (const record of records(collection)) for (const key of Object.keys(record)) keys.add(key);
        columns = [...keys].sort();
      }
      const name = `${collection}.${options.encoding}.gz`;
      const counter = { rows: 0 };
      const spool = join(spoolDir, name);
      const written = await writeGzip(spool, asLines(records(collection), counter, columns), signal);
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
    };
    const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    // A worker that lost its lease stops here rather than publish over the feed of the one that took over.
    signal?.throwIfAborted();
    await store.put(manifestName, () => Readable.from([manifestBytes]), { expectedSize: manifestBytes.length });
    // Files of an earlier run that this manifest does not name (another format, a collection gone) go only
    // now: `send` uploads only what the manifest names, so until then they are never sent, and a crash
    // before this point leaves them for the next run to remove.
    const kept = new Set([feedManifestName, ...files.map((file) => file.name)].map((name) => feedObjectName(cycle, name)));
    for (const stale of await store.list(`${cycle}/`)) if (!kept.has(stale.name)) await store.remove(stale.name);
    if (options.mode === 'changes') {
      await db.collection(changesCollection).updateMany(pendingChanges(cycleStart, geos), { $set: { fedIn: cycleStart } });
    }
    return manifest;
  } finally {
    await rm(spoolDir, { recursive: true, force: true });
  }
}
