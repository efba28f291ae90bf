// Where a cycle's feed lives between `worker feed` and `worker send`: feed.store, a location every central
// host reads (swift://, s3://, or a shared sftp://), so any host sends what any other built. Unset, it is
// the local directory feed.dir (default <data_dir>/feed): a single host keeps its layout <dir>/<cycle>/<file>.
// The manifest is the feed's table of contents: a reader trusts only the files it names, at its sizes and sha256.
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { addAbortSignal } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { failedError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { openConfiguredStore } from '../transport/location.js';
import { checkName, type Transport } from '../transport/transport.js';

export interface FeedFile {
  name: string;
  collection: string;
  rows: number;
  bytes: number;
  sha256: string;
}

/** A table of a GEO's delivery at this hour, and the collection it becomes (null: skipped, or only nested). */
export interface FeedTableSchema {
  table: string;
  collection: string | null;
  columns: Array<{ name: string; type: string }>;
}

/** What a GEO's Cloud Control schema was at this hour, as its delivery defined it. */
export interface FeedGeoSchema {
  geo: string;
  /** The GEO's hour before with a recorded schema, the one `schemaChanges` compares with; null: none. */
  previousCycle: string | null;
  tables: FeedTableSchema[];
}

/** One difference from the GEO's hour before: table added or removed; column added, removed, retyped. */
export interface FeedSchemaChange {
  geo: string;
  previousCycle: string;
  change: 'table added' | 'table removed' | 'column added' | 'column removed' | 'column retyped';
  table: string;
  column?: string;
  oldType?: string;
  newType?: string;
}

export interface FeedManifest {
  format: 'ganymede-feed';
  /** Still 1: `schemas` and `schemaChanges` were added beside the fields a version-1 reader knows. */
  version: 1;
  cycle: string;
  encoding: 'ndjson' | 'csv';
  mode: 'full' | 'changes';
  geos: string[];
  missingGeos: string[];
  files: FeedFile[];
  /** Per fed GEO (those whose hour was loaded with schema recording), its tables with columns and MySQL types. */
  schemas?: FeedGeoSchema[];
  /** Every schema change of a fed GEO since its hour before; [] when none. */
  schemaChanges?: FeedSchemaChange[];
}

export const feedManifestName = 'manifest.json';

/** A file of the cycle's feed as the store names it. */
export const feedObjectName = (cycle: string, name: string): string => `${cycle}/${name}`;

export function feedStoreUrl(config: Config): string {
  // Through pathToFileURL: a directory with a space, `#` or `%` in its name, or a relative one, stays that directory.
  return config.feed.store ?? pathToFileURL(resolve(config.feed.dir ?? join(config.site.data_dir, 'feed'))).href;
}

export async function openFeedStore(loaded: LoadedConfig, log: Logger): Promise<Transport> {
  const { feed } = loaded.config;
  return openConfiguredStore(
    feedStoreUrl(loaded.config),
    { keyFile: feed.store_key_file, hostKey: feed.store_host_key, secret: loaded.secret('feed.store_secret'), accessKeyId: feed.store_access_key_id },
    (line) => log.warn(line),
  );
}

export interface StoredFeed {
  manifest: FeedManifest;
  /** The manifest file as stored, sent to Glassbeam as it is. */
  bytes: Buffer;
  sha256: string;
}

/** The cycle's manifest, or undefined when the store has none (not built yet, or being rebuilt). */
export async function readFeedManifest(store: Transport, cycle: string): Promise<StoredFeed | undefined> {
  const name = feedObjectName(cycle, feedManifestName);
  if (!(await store.stat(name))) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get(name)) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  const where = `${store.describe()}: ${name}`;
  let manifest: FeedManifest;
  try {
    manifest = checkManifest(JSON.parse(bytes.toString('utf8')), cycle);
  } catch (error) {
    const reason = error instanceof SyntaxError ? `not JSON (${error.message})` : messageOf(error);
    throw failedError(`${where} is not a feed manifest of cycle ${cycle}: ${reason}`, `build the feed again: \`ganymede worker feed --cycle ${cycle} --force\``);
  }
  return { manifest, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function checkManifest(value: unknown, cycle: string): FeedManifest {
  const manifest = value as Partial<FeedManifest> | null;
  if (manifest?.format !== 'ganymede-feed' || manifest.version !== 1) throw new Error('its format is not ganymede-feed version 1');
  if (manifest.cycle !== cycle) throw new Error(`it is the manifest of cycle ${String(manifest.cycle)}`);
  if (!Array.isArray(manifest.files)) throw new Error('it lists no files');
  for (const file of manifest.files as unknown[]) {
    const { name, bytes, sha256 } = (file ?? {}) as Partial<FeedFile>;
    // A name becomes a path at Glassbeam: one plain file name of this cycle, nothing else.
    if (typeof name !== 'string' || name.includes('/') || name === feedManifestName) throw new Error(`it names a file ${JSON.stringify(name)}`);
    checkName(name);
    if (!Number.isSafeInteger(bytes) || bytes! < 0) throw new Error(`${name} has no size`);
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`${name} has no sha256`);
  }
  return manifest as FeedManifest;
}

/**
 * One feed file as the manifest describes it, streamed from the store. Its size and sha256 are checked as
 * the last byte goes by: on a mismatch the stream fails before it ends, so a put() it feeds never gives the
 * upload its final name, and Glassbeam never sees a file the manifest does not vouch for.
 */
export async function* readFeedFile(store: Transport, cycle: string, file: FeedFile, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const name = feedObjectName(cycle, file.name);
  const stream: Readable = await store.get(name);
  if (signal) addAbortSignal(signal, stream);
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    bytes += buffer.length;
    if (bytes > file.bytes) break;
    hash.update(buffer);
    yield buffer;
  }
  stream.destroy();
  const sha256 = bytes === file.bytes ? hash.digest('hex') : undefined;
  if (sha256 !== file.sha256) {
    const found = sha256 === undefined ? `${bytes > file.bytes ? 'at least ' : ''}${bytes} bytes, not ${file.bytes}` : `sha256 ${sha256}, not ${file.sha256}`;
    throw failedError(
      `${store.describe()}: ${name} is not the file its manifest names (${found}); it was not sent`,
      `the feed is being rebuilt or was changed in the store: build it again (\`ganymede worker feed --cycle ${cycle} --force\`), then send`,
    );
  }
}
