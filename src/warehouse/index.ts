// The etl step: one GEO's transaction schema → the MongoDB warehouse, done in 3 steps: (1) list the
// schema's tables and keys and plan the collections; (2) for each collection, claim the cycle, stream
// the rows in batches and write what changed; (3) remove what the source no longer has and mark the cycle
// applied. Shapes, rules and the type table: docs/warehouse.md.
import type { Connection } from 'mysql2';
import type { Db } from 'mongodb';
import { cycleOf, formatCycle } from '../cycle.js';
import { GanymedeError } from '../errors.js';
import { describeMysqlError } from '../state/mysql-errors.js';
import type { ConversionNote } from './convert.js';
import { DocumentBuilder } from './documents.js';
import { parseMappings, planCollections, type CollectionPlan, type Mapping, type SourceTable } from './mappings.js';
import { describeMongoError } from './mongo-errors.js';
import { changeIndexes, changesCollection, claimCycle, ensureIndexes, stateIndexes } from './progress.js';
import { gridfsBucketName } from './oversize.js';
import { listTables, prepareSession, selectSql, streamBatches } from './source.js';
import { abandonUnplanned, dropUnappliedChanges } from './unfinished.js';
import { CollectionWriter, type CheckpointPhase, type CollectionCounts } from './write.js';
import { RowOccurrences, SeenKeys } from './seen-keys.js';

export type { Mapping, NestMapping } from './mappings.js';
export { mappingsSchema } from './mappings.js';
export type { ChangeDocument, StateDocument } from './write.js';
export { changesCollection, progressCollection } from './progress.js';

export const defaultBatchSize = 1000;
export const defaultBatchBytes = 8 * 1024 * 1024;

export interface EtlOptions {
  /** Opens a connection to the server holding `schema`. runEtl closes every connection it opens (a second one when a mapping nests). */
  mysql: () => Promise<Connection>;
  /** The transaction's temporary schema, e.g. gmd_txn_42_d1. */
  schema: string;
  db: Db;
  geo: string;
  /** The cycle (UTC hour) the schema is a snapshot of. */
  cycleStart: Date;
  /** The config's `warehouse.mappings`; tables no mapping names get one collection each. */
  mappings?: Mapping[];
  /** One line per collection, plus one per column whose values needed a fallback (zero dates …). */
  log?: (line: string) => void;
  /** Source rows per MongoDB round of lookups and writes. */
  batchSize?: number;
  /** A round ends earlier once its rows hold this many bytes of cell data (default 8 MiB). */
  batchBytes?: number;
  /**
   * Called wherever a crash must be survivable (after each change-log and state write); a worker renews
   * its lease here. What it throws aborts the run as it is.
   */
  checkpoint?: (point: EtlCheckpoint) => void | Promise<void>;
}

export interface EtlCheckpoint {
  collection: string;
  phase: CheckpointPhase;
  read: number;
  writeOps: number;
}

export interface EtlCollectionResult extends CollectionCounts {
  name: string;
  /** `table accounts` or `mapping <collection>`. */
  source: string;
  /** How `_id` was made: `primary key (id)`, `row hash and occurrence (no key)`, … */
  key: string;
  /** Why nothing was done, e.g. a newer cycle is already applied. */
  skipped?: string;
}

export interface EtlResult {
  geo: string;
  /** `YYYY-MM-DDTHH`. */
  cycle: string;
  collections: EtlCollectionResult[];
  /** Source rows (top-level documents) read. */
  read: number;
  /** State documents inserted, replaced or deleted. */
  documentsWritten: number;
  /** Every write operation sent: state documents, change-log entries, progress records, index creations. */
  writeOps: number;
  /** Tables named by a mapping that this schema does not have. */
  absentTables: string[];
}

export async function runEtl(options: EtlOptions): Promise<EtlResult> {
  const { schema, db, geo, cycleStart } = options;
  const batchSize = options.batchSize ?? defaultBatchSize;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`runEtl: batchSize must be a positive integer, not ${batchSize}`);
  if (cycleOf(cycleStart).getTime() !== cycleStart.getTime()) throw new Error(`runEtl: cycleStart ${cycleStart.toISOString()} is not the start of an hour`);
  if (!/^[^:%]+$/.test(geo)) throw new Error(`runEtl: unusable GEO name ${JSON.stringify(geo)}`);
  const mappings = parseMappings(options.mappings ?? []);
  const log = options.log ?? (() => {});
  const connections: Connection[] = [];
  const open = async () => {
    const conn = await mysqlCall(() => options.mysql(), schema);
    connections.push(conn);
    await mysqlCall(() => prepareSession(conn, schema), schema);
    return conn;
  };
  let succeeded = false;
  try {
    // step 1
    const main = await open();
    const tables = await mysqlCall(() => listTables(main, schema), schema);
    const { plans, absent } = planCollections(tables, mappings);
    for (const table of absent) log(`table ${table} of a warehouse mapping is not in this delivery: its collection is left as it is`);
    let writeOps = await mongoCall(() => ensureIndexes(db.collection(changesCollection), changeIndexes), 'preparing the change log');
    writeOps += await mongoCall(() => abandonUnplanned(db, geo, cycleStart, new Set(plans.map((plan) => plan.collection)), batchSize, log),
      'closing the runs that never finished');
    let child: Promise<Connection> | undefined;
    const context: CollectionContext = { options, batchSize, main, childConnection: () => (child ??= open()), tables: new Map(tables.map((t) => [t.name, t])), log };
    const collections: EtlCollectionResult[] = [];
    for (const plan of plans) collections.push(await etlCollection(plan, context));
    succeeded = true;
    writeOps += collections.reduce((sum, c) => sum + c.writeOps, 0);
    return {
      geo,
      cycle: formatCycle(cycleStart),
      collections,
      read: collections.reduce((sum, c) => sum + c.read, 0),
      documentsWritten: collections.reduce((sum, c) => sum + c.inserted + c.updated + c.removed, 0),
      writeOps,
      absentTables: absent,
    };
  } finally {
    // A failed run may have left a result half-streamed: such a connection cannot be reused, only dropped.
    for (const conn of connections) {
      if (succeeded) await new Promise<void>((resolve) => conn.end(() => resolve()));
      else conn.destroy();
    }
  }
}

interface CollectionContext {
  options: EtlOptions;
  batchSize: number;
  main: Connection;
  childConnection: () => Promise<Connection>;
  tables: Map<string, SourceTable>;
  log: (line: string) => void;
}

// steps 2 and 3, for one collection
async function etlCollection(plan: CollectionPlan, context: CollectionContext): Promise<EtlCollectionResult> {
  const { options, batchSize, log } = context;
  const { db, geo, cycleStart: cycle, schema } = options;
  const name = plan.collection;
  const counts: CollectionCounts = { read: 0, inserted: 0, updated: 0, unchanged: 0, removed: 0, changesLogged: 0, newer: 0, writeOps: 0, oversize: 0, oversizeIds: [] };
  const result = (key: string, skipped?: string): EtlCollectionResult => ({ name, source: plan.label, key, ...counts, ...(skipped ? { skipped } : {}) });

  const claim = await mongoCall(() => claimCycle(db, geo, name, cycle), `recording the progress of collection ${name}`);
  if (claim.outcome === 'newer') {
    const skipped = `cycle ${formatCycle(claim.cycle)} is already applied, this older cycle changes nothing`;
    log(`${name}: skipped, ${skipped}`);
    return result('', skipped);
  }
  counts.writeOps += claim.writes;
  if (claim.unfinished) {
    const unfinished = claim.unfinished;
    const dropped = await mongoCall(() => dropUnappliedChanges(db, geo, name, unfinished, batchSize), `cleaning the change log of collection ${name}`);
    counts.writeOps += dropped;
    log(`${name}: cycle ${formatCycle(unfinished)} did not finish for this GEO; changes are logged against what it wrote`
      + (dropped > 0 ? `, and its ${dropped} change-log entr${dropped === 1 ? 'y' : 'ies'} never applied are removed` : ''));
  }
  counts.writeOps += await mongoCall(() => ensureIndexes(db.collection(name), stateIndexes), `creating the indexes of collection ${name}`);

  const notes = new Map<string, number>();
  let occurrences: Promise<RowOccurrences> | undefined;
  const builder = new DocumentBuilder({
    plan, geo, schema, tables: context.tables, childConnection: context.childConnection,
    occurrences: () => (occurrences ??= context.childConnection().then((conn) => RowOccurrences.create(conn))),
    note: (column: string, note: ConversionNote) => notes.set(`${column}: ${note}`, (notes.get(`${column}: ${note}`) ?? 0) + 1),
  });
  // The seen set lives on the second connection: the first is busy streaming the rows.
  const seen = await mysqlCall(async () => SeenKeys.create(await context.childConnection()), schema);
  const writer = new CollectionWriter({
    db, collection: name, label: plan.label, geo, cycle, counts, seen, claim: claim.claim, afterUnfinished: claim.afterUnfinished,
    checkpoint: async (phase) => { await options.checkpoint?.({ collection: name, phase, read: counts.read, writeOps: counts.writeOps }); },
  });
  await mysqlCall(async () => {
    for await (const batch of streamBatches(context.main, selectSql(plan, schema), batchSize, options.batchBytes ?? defaultBatchBytes)) {
      await writer.write(await builder.build(batch));
    }
    await writer.removeUnseen(batchSize);
    await writer.sweepFiles(batchSize);
    await seen.drop();
    await (await occurrences)?.drop();
  }, schema);
  counts.writeOps += await mongoCall(() => claim.claim.finish(), `recording the progress of collection ${name}`);

  for (const [what, rows] of notes) log(`${name}.${what} (${rows} value${rows === 1 ? '' : 's'})`);
  if (counts.oversize > 0) log(`${name}: ${describeOversize(counts)}`);
  log(`${name} (${plan.label}, _id from ${builder.keyRule}): read ${counts.read}, created ${counts.inserted}, updated ${counts.updated}, `
    + `unchanged ${counts.unchanged}, removed ${counts.removed}; ${counts.writeOps} write ops`);
  return result(builder.keyRule);
}

/** `2 rows too large for one document, their largest fields stored in GridFS (_ganymede_fs): g1:1, g1:2`. */
export function describeOversize({ oversize, oversizeIds }: Pick<CollectionCounts, 'oversize' | 'oversizeIds'>, maxIds = oversizeIds.length): string {
  const named = oversizeIds.slice(0, maxIds);
  const more = oversize > named.length ? ` and ${oversize - named.length} more` : '';
  return `${oversize} row${oversize === 1 ? '' : 's'} too large for one document, their largest fields stored in GridFS (${gridfsBucketName}): `
    + `${named.join(', ')}${more}`;
}

async function mongoCall<T>(call: () => Promise<T>, doing: string): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw describeMongoError(error, doing);
  }
}

/** mysql2's errors become one-line GanymedeErrors; ours and bugs pass through. */
async function mysqlCall<T>(call: () => Promise<T>, schema: string): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof GanymedeError || !isMysqlError(error)) throw error;
    throw describeMysqlError(error, 'the transaction schema', schema, 'centre.scratch_mysql_url');
  }
}

function isMysqlError(error: unknown): boolean {
  const fields = error as { code?: unknown; errno?: unknown; sqlMessage?: unknown; fatal?: unknown } | null;
  return typeof fields === 'object' && fields !== null && (typeof fields.code === 'string' || typeof fields.errno === 'number' || fields.fatal !== undefined);
}
