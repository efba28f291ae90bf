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
import { checkFreeSpace, unpackLimit } from '../load/unpack-limits.js';
import type { SchemaObjectKind, UnreadableObject } from '../dump/schema-objects.js';
import { createSchemaObject, missingDefiners, orderSchemaObjects, planObjects, type PlannedObject } from './restore-objects.js';

export interface RestoredArchive {
  schema: string;
  tables: number;
  rows: number;
  signer: string;
  /** The GEO's views, routines, triggers and events, in the order they were (or would be) created. */
  objects: PlannedObject[];
  /** Objects the agent could not read (its MySQL user lacked the privilege): not in the dump, not restored. */
  unreadable: UnreadableObject[];
  /** Definers the target does not know (a dry run reports them; a restore refuses before creating anything). */
  missingDefiners: string[];
  /** Objects the dump carries that this restore leaves out (`--into`, `archive verify`: the GEO's code is not run there). */
  objectsLeftOut: number;
  /** False for a dump of an agent older than format 3, which recorded none. */
  schemaObjectsRecorded: boolean;
  dryRun: boolean;
  /** Everything, in order: tables, then the objects. */
  created: Array<{ kind: 'table' | SchemaObjectKind; name: string }>;
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

/** Where a restore goes: the scratch server (`--into`) or a server an operator names (`--to mysql://…`). */
export interface RestoreTarget {
  /** A connection to the server, with `database` selected when given. */
  connect(database?: string): Promise<mysql.Connection>;
  /** For messages: "the scratch MySQL", "mysql://admin@db:3306". */
  describe: string;
}

export interface RestoreArchiveOptions {
  loaded: LoadedConfig;
  store: Transport;
  record: ArchiveRecord;
  keys: CentreKeys;
  expectedSigner: PublicKey | PublicKey[];
  schema: string;
  replace: boolean;
  /** Default: the scratch server. */
  target?: RestoreTarget;
  /** `user@host` for every view, routine, trigger and event, instead of the definers the GEO recorded. */
  definer?: string;
  /** Open and check everything, create nothing: the result lists what would be created, in order. */
  dryRun?: boolean;
  /**
   * A GEO's views, routines, triggers and events, and its tables' CREATE TABLE text as dumped (defaults,
   * AUTO_INCREMENT…): the GEO's own SQL, run only when an operator restores into a target (`--to`).
   * Otherwise (`--into` on the scratch server, `archive verify`) the tables are rebuilt by the centre and
   * no object is created.
   */
  geoDefinitions?: boolean;
}

/**
 * Done in 4 steps: fetch and open the object; check the target (schema, definers) before anything is
 * created; load the tables; create the GEO's views, routines, triggers and events (agent dumps only).
 */
export async function restoreArchive(options: RestoreArchiveOptions): Promise<RestoredArchive> {
  const { openDelivery } = await import('../load/open-delivery.js');
  const { loadDump } = await import('../load/load-dump.js');
  const target = options.target ?? scratchRestoreTarget(options.loaded);
  const work = await mkdtemp(join(options.loaded.config.site.data_dir, 'restore-'));
  const connections: mysql.Connection[] = [];
  try {
    // step 1: the object, checked against its record, decrypted, its signer verified
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
    const { manifest } = opened;
    // The Ganymede schema's own dump is the centre's: only a GEO's schema objects are restored.
    const geoDefinitions = options.record.kind === 'agent-dump' && (options.geoDefinitions ?? false);
    const objects = geoDefinitions ? (manifest.schemaObjects?.objects ?? []) : [];
    const planned = planObjects(objects, options.definer);
    // step 2: the target, before anything is created on it
    const admin = await target.connect();
    connections.push(admin);
    const [existing] = (await admin.promise().query('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [options.schema])) as unknown as [unknown[]];
    if (existing.length > 0 && !options.replace) {
      throw new GanymedeError(ExitCode.usage, `schema ${options.schema} exists already on ${target.describe}`, { hint: 'name another schema, or add --replace to drop it first' });
    }
    const missing = await missingDefiners(admin, planned.map((item) => item.definer));
    const result: RestoredArchive = {
      schema: options.schema,
      tables: manifest.tables.length,
      rows: manifest.tables.reduce((sum, table) => sum + table.rows, 0),
      signer: opened.signerFingerprint,
      objects: planned,
      unreadable: geoDefinitions ? (manifest.schemaObjects?.unreadable ?? []) : [],
      missingDefiners: missing,
      objectsLeftOut: geoDefinitions || options.record.kind !== 'agent-dump' ? 0 : (manifest.schemaObjects?.objects.length ?? 0),
      schemaObjectsRecorded: !geoDefinitions || manifest.schemaObjects !== undefined,
      dryRun: options.dryRun ?? false,
      created: [...manifest.tables.map((table) => ({ kind: 'table' as const, name: table.name })), ...planned.map(({ kind, name }) => ({ kind, name }))],
    };
    if (options.dryRun) return result;
    if (missing.length > 0) {
      throw new GanymedeError(ExitCode.usage, `${target.describe} has no user ${missing.join(', ')}, the definer of ${planned.filter((item) => missing.includes(item.definer)).length} of the GEO's views, routines, triggers or events; nothing was created`, {
        hint: 'create that user on the target, or give --definer user@host to create them all with an existing one',
      });
    }
    await scratchQuery(admin, `DROP DATABASE IF EXISTS \`${options.schema}\``);
    await scratchQuery(admin, `CREATE DATABASE \`${options.schema}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    // step 3: the tables, each verified against the manifest
    for (let i = 0; i < 2; i++) connections.push(await target.connect(options.schema));
    const bar = createProgress({ label: `restoring into ${options.schema}`, total: manifest.tables.length, unit: 'tables' });
    let tablesStarted = 0;
    const loaded = await loadDump(connections.slice(1), opened.dir, manifest, {
      onTable: (table) => bar.update(tablesStarted++, `(${table.name})`),
      // The Ganymede schema was dumped and signed by the centre itself (the signer was checked above): its own
      // CREATE TABLE text keeps what a working Ganymede database needs. A GEO's tables are rebuilt, except in a
      // target of the operator's (`--to`), where they are created as the GEO dumped them (see geoDefinitions).
      definition: options.record.kind === 'ganymede-db' || geoDefinitions ? 'as-dumped' : 'rebuilt',
    });
    bar.finish();
    // step 4: the GEO's own code, in an order that works, triggers after the data
    const ordered = orderSchemaObjects(objects);
    for (const item of ordered) await createSchemaObject(connections[1]!, options.schema, item, options.definer ?? item.definer);
    return { ...result, tables: loaded.tables.length, rows: loaded.rows };
  } finally {
    for (const connection of connections) connection.destroy();
    await rm(work, { recursive: true, force: true });
  }
}

export function scratchRestoreTarget(loaded: LoadedConfig): RestoreTarget {
  return { connect: (database) => connectScratch(loaded, database), describe: 'the scratch MySQL' };
}
