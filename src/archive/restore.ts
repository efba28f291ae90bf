// Fetches an archived object, decrypts it and checks who signed it, and loads it into a named schema
// where every table is verified against the dump's manifest. Used by `archive restore` and `archive verify`.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type mysql from 'mysql2';
import type { PublicKey } from 'openpgp';
import type { LoadedConfig } from '../config/load.js';
import { GanymedeError, refusedError, messageOf } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { ArchiveRecord } from '../state/archive.js';
import type { Transport } from '../transport/transport.js';
import { connectScratch, scratchQuery } from '../worker/scratch-db.js';
import type { CentreKeys } from './store.js';
import { createProgress } from '../progress.js';
import { checkFreeSpace, unpackLimit } from '../pipeline/unpack-limits.js';

export interface RestoredArchive {
  schema: string;
  tables: number;
  rows: number;
  signer: string;
}

/** Downloads into `dir`, refusing an object whose sha256 differs from the record's. */
async function fetchObject(store: Transport, record: ArchiveRecord, dir: string): Promise<string> {
  const path = join(dir, 'object.gpg');
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  let source;
  try {
    source = await store.get(record.objectKey);
  } catch (error) {
    if (record.storeUrl && record.storeUrl !== store.describe()) {
      throw new GanymedeError(ExitCode.failed, `${record.objectKey} was archived to ${record.storeUrl}, and the configured store ${store.describe()} does not have it: ${messageOf(error)}`, {
        hint: `point archive.url at ${record.storeUrl} for this restore`,
      });
    }
    throw error;
  }
  await pipeline(source, tap, createWriteStream(path, { mode: 0o600 }));
  const sha256 = hash.digest('hex');
  if (record.sha256 && sha256 !== record.sha256) {
    throw refusedError(`the archived object ${record.objectKey} is corrupt: its sha256 is ${sha256}, recorded ${record.sha256}`);
  }
  return path;
}

export async function restoreArchive(options: {
  loaded: LoadedConfig;
  store: Transport;
  record: ArchiveRecord;
  keys: CentreKeys;
  expectedSigner: PublicKey | PublicKey[];
  schema: string;
  replace: boolean;
}): Promise<RestoredArchive> {
  const { openDelivery } = await import('../pipeline/open-delivery.js');
  const { loadDump } = await import('../pipeline/load-dump.js');
  const work = await mkdtemp(join(options.loaded.config.site.data_dir, 'restore-'));
  const connections: mysql.Connection[] = [];
  try {
    const object = await fetchObject(options.store, options.record, work);
    let opened;
    try {
      // An archived agent dump is what a GEO sent: bounded like decrypt bounds it.
      const { centre } = options.loaded.config;
      const size = (await stat(object)).size;
      const limit = unpackLimit({ maxUnpackedBytes: centre.max_unpacked_bytes, maxUnpackRatio: centre.max_unpack_ratio }, size);
      // The one place the centre still unpacks to a local disk: the restore works from a local copy.
      await checkFreeSpace(work, size, limit, centre.min_free_bytes);
      opened = await openDelivery({ file: object, decryptionKeys: options.keys.allPrivateKeys, expectedSigningKeys: options.expectedSigner, dir: join(work, 'dump'), limit });
    } catch (error) {
      throw new GanymedeError(ExitCode.refused, `the archived object ${options.record.objectKey} cannot be opened: ${messageOf(error)}`);
    }
    const admin = await connectScratch(options.loaded);
    connections.push(admin);
    const [existing] = (await admin.promise().query('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [options.schema])) as unknown as [unknown[]];
    if (existing.length > 0 && !options.replace) {
      throw new GanymedeError(ExitCode.usage, `schema ${options.schema} exists already`, { hint: 'name another schema, or add --replace to drop it first' });
    }
    await scratchQuery(admin, `DROP DATABASE IF EXISTS \`${options.schema}\``);
    await scratchQuery(admin, `CREATE DATABASE \`${options.schema}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    for (let i = 0; i < 2; i++) connections.push(await connectScratch(options.loaded, options.schema));
    const bar = createProgress({ label: `restoring into ${options.schema}`, total: opened.manifest.tables.length, unit: 'tables' });
    let tablesStarted = 0;
    const loaded = await loadDump(connections.slice(1), opened.dir, opened.manifest, {
      onTable: (table) => bar.update(tablesStarted++, `(${table.name})`),
      // The Ganymede schema was dumped and signed by the centre itself (the signer was checked above): its own
      // CREATE TABLE text keeps what a working Ganymede database needs. A GEO's tables are always rebuilt.
      definition: options.record.kind === 'ganymede-db' ? 'as-dumped' : 'rebuilt',
    });
    bar.finish();
    return { schema: options.schema, tables: loaded.tables.length, rows: loaded.rows, signer: opened.signerFingerprint };
  } finally {
    for (const connection of connections) connection.destroy();
    await rm(work, { recursive: true, force: true });
  }
}
