// `npm run bench -- etl`: what the warehouse writes for a first load and for an hour in which 1% of the
// rows changed (done in 5 steps): a MongoDB (MONGODB_URI, else the stand-in) behind a relay that counts
// the write commands on the wire; a centre with one GEO whose source is a small generated database; the
// first hour through the real pipeline (`agent run`, then the built CLI's `worker decrypt`, `load`, `etl`,
// `clean`); the change on the source (UPDATE, DELETE, INSERT); the second hour the same way. Each etl's
// writes are taken from what the warehouse reports and from the wire, side by side.
import type mysql from 'mysql2/promise';
import mysqlPromise from 'mysql2/promise';
import { startCentre, type Centre, type CentreGeo } from '../test/support/centre-fixture.js';
import { startMongo, type TestMongo } from '../test/support/mongo.js';
import { mysqlOptions } from '../test/support/mysql.js';
import { listEvents } from '../src/state/events.js';
import { changeSource, sourceStatements, tableRows, type SourceChange } from './support/etl-source.js';
import { startMongoWire, type MongoWire, type ReadCount, type WireCount } from './support/mongo-wire.js';
import { loadAverage } from './support/shell.js';

const cycles = ['2020-01-01T00', '2020-01-01T01'] as const;
const tables = ['accounts', 'instances', 'events'] as const;

export interface EtlBenchOptions {
  /** Source rows in all, over three tables. */
  rows: number;
  /** The share of rows the second hour changes (0.01 = 1%). */
  change: number;
}

interface EtlRun {
  wallMs: number;
  /** From the etl step's status event: what the warehouse says it wrote. */
  documentsWritten: number;
  writeOps: number;
  /** The worker's log line per collection: read, created, updated, unchanged, removed. */
  collections: string[];
  wire: WireCount[] | undefined;
  reads: ReadCount[] | undefined;
}

const log = (line: string) => process.stderr.write(`bench etl: ${line}\n`);

export async function runEtlBench(options: EtlBenchOptions): Promise<void> {
  const load = await loadAverage();
  // step 1: MongoDB, and the relay that watches what is sent to it
  const mongo: TestMongo = await startMongo();
  let wire: MongoWire | undefined;
  let centre: Centre | undefined;
  try {
    wire = await startMongoWire(mongo.uri);
    if (!wire) log(`MONGODB_URI is not one plain mongodb:// host; the writes are counted from the warehouse's report only`);
    // step 2: a centre, a GEO and its source
    log(`starting a centre (${mongo.standIn ? 'the MongoDB stand-in' : 'MONGODB_URI'})`);
    centre = await startCentre({ mongoUri: wire?.uri ?? mongo.uri });
    const source = await centre.addSource('etlsource', sourceStatements(options.rows));
    const geo = await centre.addGeo('bench', source);
    const rows = tableRows(options.rows);
    console.log(
      `data: 3 tables, ${options.rows} rows (${tables.map((table) => `${table} ${rows[table]}`).join(', ')}), MongoDB ${mongo.standIn ? 'stand-in (mockupdb + mongomock)' : 'from MONGODB_URI'}`,
    );

    // step 3: the first hour, all new
    const first = await deliverAndEtl(centre, geo, cycles[0], wire);
    // step 4: an hour of use on the source
    const conn = await mysqlPromise.createConnection(mysqlOptions(source));
    let change: SourceChange;
    try {
      change = await changeSource(conn, options.rows, options.change);
    } finally {
      await conn.end();
    }
    const changed = change.updated + change.inserted + change.deleted;
    // step 5: the second hour
    const second = await deliverAndEtl(centre, geo, cycles[1], wire);

    console.log(
      `etl: first load ${first.writeOps} writes, ${first.documentsWritten} documents; ${(options.change * 100).toFixed(0)}% cycle ${second.writeOps} writes, ` +
        `${second.documentsWritten} documents; ratio ${percent(second.writeOps / first.writeOps)} of the first load's writes`,
    );
    console.log(
      `  the change: ${changed} rows (${percent(changed / options.rows)} of ${options.rows}): ${change.updated} updated, ${change.inserted} inserted, ${change.deleted} deleted, by SQL on the source between the two agent runs`,
    );
    for (const [label, run] of [['first load', first], ['second hour', second]] as const) {
      console.log(`  ${label.padEnd(11)} etl step ${(run.wallMs / 1000).toFixed(1)} s (the worker process); the warehouse says ${run.documentsWritten} documents in ${run.writeOps} write ops`);
      for (const line of run.collections) console.log(`    ${line}`);
      if (run.wire) console.log(`    wire: ${describeWire(run.wire)}`);
      if (run.reads) console.log(`    reads: ${describeReads(run.reads)}`);
    }
    if (first.wire && second.wire) {
      const statements = (counts: WireCount[]) => counts.reduce((sum, entry) => sum + entry.statements, 0);
      console.log(`  wire ratio: ${percent(statements(second.wire) / statements(first.wire))} of the first load's write statements`);
    }
    if (first.reads && second.reads) {
      const documents = (reads: ReadCount[]) => reads.reduce((sum, entry) => sum + entry.documents, 0);
      const bytes = (reads: ReadCount[]) => reads.reduce((sum, entry) => sum + entry.bytes, 0);
      console.log(
        `  reads per cycle: first load ${documents(first.reads)} documents (${bytes(first.reads)} bytes), second hour ${documents(second.reads)} documents (${bytes(second.reads)} bytes); ` +
          `the second hour reads ${percent(documents(second.reads) / Math.max(1, options.rows))} of the source's row count in documents (stored hashes per row, whole documents only for the changed ones)`,
      );
    }
    await checkWarehouse(centre, geo, source);
    console.log(`  load average ${load.toFixed(2)} when the run started (it moves the times only, not the counts)`);
  } finally {
    await centre?.dispose();
    await wire?.stop();
    await mongo.stop();
  }
}

async function deliverAndEtl(centre: Centre, geo: CentreGeo, cycle: string, wire: MongoWire | undefined): Promise<EtlRun> {
  log(`${cycle}: agent run, worker decrypt, load`);
  const delivered = await geo.deliver(cycle);
  const txn = String(delivered.transactionId);
  for (const step of ['decrypt', 'load'] as const) await worker(centre, step, txn);
  log(`${cycle}: worker etl`);
  wire?.reset();
  const started = performance.now();
  const etl = await worker(centre, 'etl', txn);
  const wallMs = performance.now() - started;
  const counts = wire?.counts();
  const reads = wire?.reads();
  await worker(centre, 'clean', txn);
  const event = (await listEvents(centre.db, delivered.transactionId)).find((candidate) => candidate.phase === 'etl' && /documents written/.test(candidate.message ?? ''));
  const reported = /(\d+) documents written in (\d+) write operations/.exec(event?.message ?? '');
  if (!reported) throw new Error(`the etl step of transaction ${txn} recorded no "documents written" event`);
  const collections = etl.stderr
    .split('\n')
    .map((line) => /worker etl: (\S+ \(table .*write ops)/.exec(line)?.[1])
    .filter((line): line is string => line !== undefined);
  return { wallMs, documentsWritten: Number(reported[1]), writeOps: Number(reported[2]), collections, wire: counts, reads };
}

function describeReads(reads: ReadCount[]): string {
  return [...reads]
    .sort((a, b) => (a.collection < b.collection ? -1 : 1))
    .map((entry) => `${entry.collection} ${entry.documents} documents in ${entry.batches} batches (${entry.bytes} bytes)`)
    .join(', ') || 'nothing';
}

async function worker(centre: Centre, step: string, txn: string): Promise<{ stderr: string }> {
  const run = await centre.cli(['worker', step, '--txn', txn], 600_000);
  if (run.code !== 0) throw new Error(`worker ${step} --txn ${txn} failed (exit ${run.code}):\n${run.stderr.slice(-3000)}`);
  return run;
}

/** Each collection holds one document per source row of the GEO: the second hour arrived whole. */
async function checkWarehouse(centre: Centre, geo: CentreGeo, source: string): Promise<void> {
  const warehouse = await centre.warehouse();
  const conn: mysql.Connection = await mysqlPromise.createConnection(mysqlOptions(source));
  try {
    const found: string[] = [];
    for (const table of tables) {
      const [[row]] = (await conn.query(`SELECT COUNT(*) AS n FROM \`${table}\``)) as unknown as [{ n: number }[]];
      const documents = await warehouse.collection(table).countDocuments({ geo: geo.name });
      if (documents !== Number(row!.n)) throw new Error(`the warehouse holds ${documents} documents of ${table} for GEO ${geo.name}, the source ${row!.n} rows`);
      found.push(`${table} ${documents}`);
    }
    console.log(`  check: the warehouse holds one document per source row after the second hour (${found.join(', ')})`);
  } finally {
    await conn.end();
  }
}

function describeWire(counts: WireCount[]): string {
  const commands = counts.reduce((sum, entry) => sum + entry.commands, 0);
  const statements = counts.reduce((sum, entry) => sum + entry.statements, 0);
  const state = counts.filter((entry) => !entry.collection.startsWith('_ganymede') && entry.command !== 'createIndexes').reduce((sum, entry) => sum + entry.statements, 0);
  const detail = counts
    .sort((a, b) => b.statements - a.statements)
    .map((entry) => `${entry.command} ${entry.collection} ${entry.statements}/${entry.commands}`)
    .join(', ');
  return `${commands} write commands carrying ${statements} statements, ${state} of them to state documents (statements/commands: ${detail || 'none'})`;
}

const percent = (share: number) => `${(share * 100).toFixed(2)}%`;
