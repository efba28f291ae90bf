// A cycle's data feed from the warehouse: per collection one gzip file (NDJSON, or CSV) and a
// manifest.json with each file's rows, size and sha256 and the GEOs included. Documents are read in _id
// order, encoded with sorted keys and gzip writes no time stamp, so the same warehouse content always
// gives the same bytes. Built in a staging directory renamed into place once complete.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Db, Document } from 'mongodb';
import { changesCollection } from '../warehouse/progress.js';
import { csvLine, feedRecord, plain } from './encode.js';
import { createProgress } from '../progress.js';

export interface FeedFile {
  name: string;
  collection: string;
  rows: number;
  bytes: number;
  sha256: string;
}

export interface FeedManifest {
  format: 'ganymede-feed';
  version: 1;
  cycle: string;
  encoding: 'ndjson' | 'csv';
  mode: 'full' | 'changes';
  geos: string[];
  missingGeos: string[];
  files: FeedFile[];
}

export interface BuildFeedOptions {
  db: Db;
  cycleStart: Date;
  geos: string[];
  missingGeos: string[];
  encoding: 'ndjson' | 'csv';
  mode: 'full' | 'changes';
  /** The cycle's feed directory; replaced as a whole. */
  dir: string;
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
  const { db, cycleStart, geos } = options;
  const staging = `${options.dir}.building`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true, mode: 0o700 });
  const records = (collection: string) =>
    options.mode === 'full' ? fullRecords(db, collection, geos) : changeRecords(db, collection, cycleStart, geos);
  const collections = options.mode === 'full'
    ? await stateCollections(db)
    : ((await db.collection(changesCollection).distinct('collection', pendingChanges(cycleStart, geos))) as string[]).sort();
  const files: FeedFile[] = [];
  const bar = createProgress({ label: `building the feed of ${cycleStart.toISOString().slice(0, 13)}`, total: collections.length, unit: 'collections' });
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
    const written = await writeGzip(join(staging, name), asLines(records(collection), counter, columns), options.signal);
    files.push({ name, collection, rows: counter.rows, ...written });
  }
  bar.finish();
  const manifest: FeedManifest = {
    format: 'ganymede-feed',
    version: 1,
    cycle: cycleStart.toISOString().slice(0, 13),
    encoding: options.encoding,
    mode: options.mode,
    geos,
    missingGeos: options.missingGeos,
    files,
  };
  await writeFile(join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  await rm(options.dir, { recursive: true, force: true });
  await rename(staging, options.dir);
  if (options.mode === 'changes') {
    await db.collection(changesCollection).updateMany(pendingChanges(cycleStart, geos), { $set: { fedIn: cycleStart } });
  }
  return manifest;
}
