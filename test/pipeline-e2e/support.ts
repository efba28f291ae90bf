// Shared by the pipeline end-to-end tests: a small Cloud Control-like source, what the Ganymede database
// says about transactions and attempts, and the warehouse read back per GEO to compare with the source
// or with another GEO's run of the same data.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import mysqlPromise from 'mysql2/promise';
import type mysql from 'mysql2/promise';
import { Decimal128, type Db as MongoDb } from 'mongodb';
import { mysqlOptions } from '../support/mysql.js';
import type { Centre, CentreGeo } from '../support/centre-fixture.js';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { ApiClient } from '../../src/api/client.js';
import { readPrivateKey, readPublicKey } from '../../src/openpgp/keys.js';
import { sealStream } from '../../src/openpgp/seal.js';

/** Three tables (a key of each kind, a JSON column, a keyless table with duplicate rows), `scale` × 100-odd rows. */
export function sourceStatements(seed: number, scale = 1): string[] {
  const accounts = Array.from({ length: 60 * scale }, (_, i) =>
    `(${i + 1}, 'account ${seed}-${i + 1}', ${((i * 7 + seed) * 1.25).toFixed(2)}, '2025-0${(i % 9) + 1}-1${i % 10} 0${i % 10}:30:00', ${i % 3 === 0 ? 'NULL' : `'note ${i}'`})`);
  const instances = Array.from({ length: 90 * scale }, (_, i) =>
    `(${10_000 + i}, ${(i % (60 * scale)) + 1}, 'host-${seed}-${i}', ${(i % 8) + 1}, '{"cpu": ${(i % 4) + 1}, "tags": ["t${i % 5}"]}')`);
  const audit = Array.from({ length: 30 * scale }, (_, i) => `('2025-01-0${(i % 5) + 1} 00:00:00', 'event ${i % 7}')`);
  return [
    'CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(60) NOT NULL, balance DECIMAL(12,2), created_at DATETIME, note VARCHAR(40) NULL)',
    `INSERT INTO accounts VALUES ${accounts.join(', ')}`,
    'CREATE TABLE instances (id BIGINT PRIMARY KEY, account_id INT NOT NULL, hostname VARCHAR(100), cores TINYINT, spec JSON)',
    `INSERT INTO instances VALUES ${instances.join(', ')}`,
    'CREATE TABLE audit (at DATETIME, message VARCHAR(100))',
    `INSERT INTO audit VALUES ${audit.join(', ')}`,
  ];
}

export const sourceTables = ['accounts', 'audit', 'instances'];

/** JSON with keys sorted at every level. */
function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sort) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sort(value));
}

/** A warehouse value as plain comparable data: Decimal128 as its text, dates as ISO, objects as canonical JSON. */
function fromDocument(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Decimal128) return value.toString();
  if (typeof value === 'object') return canonicalJson(value);
  return value;
}

/** A source value the same way: DECIMAL comes as text from mysql2, JSON as text (MariaDB) or parsed (MySQL). */
function fromSource(value: unknown, json: boolean): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (json) return canonicalJson(typeof value === 'string' ? JSON.parse(value) : value);
  return value;
}

export async function sourceRows(database: string, table: string): Promise<Array<Record<string, unknown>>> {
  const conn = await mysqlPromise.createConnection({ ...mysqlOptions(database), timezone: 'Z', dateStrings: false, supportBigNumbers: true });
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(`SELECT * FROM \`${table}\``);
    return rows as Array<Record<string, unknown>>;
  } finally {
    await conn.end();
  }
}

/** The documents of one GEO in a collection, without what names the GEO (`_id` prefix, `geo`). */
export async function geoDocuments(warehouse: MongoDb, collection: string, geo: string): Promise<Array<Record<string, unknown>>> {
  const docs = await warehouse.collection(collection).find({ geo }).toArray();
  return docs
    .map(({ _id, geo: _geo, ...rest }) => ({ _id: String(_id).slice(geo.length + 1), ...rest }))
    .sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
}

/**
 * The GEO's documents of each table are the source rows: one per row, every column's value equal (keyless
 * tables compared as multisets, so rows are matched by content rather than by _id).
 */
export async function assertWarehouseHoldsSource(warehouse: MongoDb, geo: string, database: string, tables = sourceTables, jsonColumns = ['spec']): Promise<void> {
  for (const table of tables) {
    const rows = await sourceRows(database, table);
    const docs = await geoDocuments(warehouse, table, geo);
    assert.equal(await warehouse.collection(table).countDocuments({ geo }), rows.length, `${table} of ${geo}: one document per source row`);
    const columns = Object.keys(rows[0] ?? {}).sort();
    const expected = rows.map((row) => JSON.stringify(columns.map((column) => [column, fromSource(row[column], jsonColumns.includes(column))]))).sort();
    const actual = docs.map((doc) => {
      assert.match(String((doc._meta as { hash?: unknown } | undefined)?.hash), /^[A-Za-z0-9_-]{43}$/, `${table} ${doc._id} has _meta.hash`);
      assert.deepEqual(Object.keys(doc).filter((key) => key !== '_id' && key !== '_meta').sort(), columns, `${table} ${doc._id}: the source's columns`);
      return JSON.stringify(columns.map((column) => [column, fromDocument(doc[column])]));
    }).sort();
    assert.deepEqual(actual, expected, `${table} of ${geo}: every field equals the source`);
  }
}

/** Two GEOs' documents (same source, same cycle) are identical: same _ids, fields and `_meta.hash`. */
export async function assertSameWarehouse(warehouse: MongoDb, geo: string, reference: string, tables = sourceTables): Promise<void> {
  for (const table of tables) {
    const docs = await geoDocuments(warehouse, table, geo);
    assert.ok(docs.length > 0, `${table} of ${geo} has documents`);
    assert.deepEqual(docs, await geoDocuments(warehouse, table, reference), `${table}: ${geo} equals the uninterrupted ${reference}`);
  }
}

export interface AttemptRow {
  step: string;
  stepState: string;
  attempt: number;
  outcome: string;
  pid: number | null;
  error: string | null;
}

export async function attemptsOf(centre: Centre, txnId: number): Promise<AttemptRow[]> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>(
    `SELECT s.name, s.state, a.attempt, a.outcome, a.pid, a.error FROM step_attempts a JOIN steps s ON s.id = a.step_id
      WHERE s.txn_id = ? ORDER BY s.id, a.attempt`,
    [txnId],
  );
  return rows.map((row) => ({ step: row.name, stepState: row.state, attempt: Number(row.attempt), outcome: row.outcome, pid: row.pid === null ? null : Number(row.pid), error: row.error }));
}

export async function txnRow(centre: Centre, txnId: number): Promise<{ state: string; step: string | null; error: string | null; file_size: number; file_sha256: string; file_name: string }> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>('SELECT state, step, error, file_name, file_size, file_sha256 FROM transactions WHERE id = ?', [txnId]);
  assert.ok(rows[0], `transaction ${txnId} exists`);
  return { ...(rows[0] as { state: string; step: string | null; error: string | null; file_name: string; file_sha256: string }), file_size: Number(rows[0].file_size) };
}

export async function schemaExists(centre: Centre, schema: string): Promise<boolean> {
  const admin = await centre.admin();
  const [rows] = await admin.query<mysql.RowDataPacket[]>('SELECT 1 FROM information_schema.schemata WHERE schema_name = ?', [schema]);
  return rows.length > 0;
}

import { waitFor } from '../support/wait.js';

export { waitFor };

/** A table `big` of 2^doublings rows (INSERT … SELECT doubling): makes decrypt and load last long enough to be hit. */
export function bigTableStatements(doublings: number): string[] {
  return [
    'CREATE TABLE big (id INT PRIMARY KEY, n DOUBLE, note VARCHAR(80))',
    "INSERT INTO big VALUES (1, 0.5, MD5(1))",
    ...Array.from({ length: doublings }, () => 'INSERT INTO big SELECT id + (SELECT MAX(id) FROM big), RAND(), CONCAT(MD5(RAND()), MD5(RAND())) FROM big'),
  ];
}

/**
 * Waits until `reached()` says the worker of `step` is in the middle of its work, freezes it (SIGSTOP)
 * so it cannot finish meanwhile, checks that its attempt is still running, and kills it (SIGKILL).
 * Returns the pid killed.
 */
export async function killWorkerMidStep(centre: Centre, txnId: number, step: string, reached: () => boolean | Promise<boolean>): Promise<number> {
  await waitFor(`worker ${step} of transaction ${txnId} to reach the point to kill it at`, reached, 90_000, 2);
  const running = async () => {
    const [rows] = await centre.db.query<mysql.RowDataPacket[]>(
      `SELECT a.pid FROM step_attempts a JOIN steps s ON s.id = a.step_id WHERE s.txn_id = ? AND s.name = ? AND a.outcome = 'running'`,
      [txnId, step],
    );
    return rows[0]?.pid ? Number(rows[0].pid) : undefined;
  };
  const pid = await running();
  assert.ok(pid, `the ${step} attempt is running with a pid`);
  process.kill(pid, 'SIGSTOP');
  const still = await running();
  if (still !== pid) {
    process.kill(pid, 'SIGCONT');
    assert.fail(`worker ${step} (pid ${pid}) finished before it could be killed: make its work bigger`);
  }
  process.kill(pid, 'SIGKILL');
  return pid;
}

export interface StandInOnPort {
  uri: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/**
 * The MongoDB-wire stand-in (test/support/mongo-stand-in.py) on a chosen port, so that a test can stop
 * "MongoDB" and start a new one where the centre's config points. startMongo() picks a free port only.
 */
export async function startStandInOnPort(port = 0): Promise<StandInOnPort> {
  const script = fileURLToPath(new URL('../support/mongo-stand-in.py', import.meta.url));
  // --exit-on-stdin-eof: should this process die without stop(), the closed pipe ends the stand-in too.
  const child = spawn('/usr/bin/python3', [script, String(port), '--exit-on-stdin-eof'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let errors = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (errors = (errors + chunk).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`test rig: the MongoDB stand-in did not start on port ${port}: ${errors}`)), 15_000);
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`test rig: the MongoDB stand-in exited (${code}) on port ${port}: ${errors}`))));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const match = /^READY (\d+)$/m.exec(output);
      if (match) (clearTimeout(timer), resolve(Number(match[1])));
    });
  });
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as Socket).unref();
  return {
    uri: `mongodb://127.0.0.1:${ready}/?directConnection=true&serverSelectionTimeoutMS=3000`,
    port: ready,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.ref();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Where a hand-made delivery's bytes come from: the bytes themselves, or something `place` puts at the inbox path (a link, a FIFO) with what the "agent" reports of it. */
export type HandDelivery = Buffer | { place(path: string): void; size: number; sha256: string };

/**
 * Delivers a file of the GEO's own making for the hour, as its agent would through the API: open, put it in
 * the GEO's inbox under `name`, close with its size and sha256. For the refusal tests: a GEO's bytes are its to choose.
 */
export async function deliverByHand(centre: Centre, geo: CentreGeo, cycle: string, name: string, file: HandDelivery): Promise<number> {
  const api = new ApiClient({ baseUrl: centre.apiUrl, token: geo.token, as: `GEO ${geo.name}` });
  const { transaction } = await api.openTransaction(geo.name, cycle);
  const path = join(geo.inboxDir, name);
  const reported = Buffer.isBuffer(file) ? { size: file.length, sha256: createHash('sha256').update(file).digest('hex') } : { size: file.size, sha256: file.sha256 };
  if (Buffer.isBuffer(file)) writeFileSync(path, file, { mode: 0o600 });
  else file.place(path);
  await api.closeTransaction(transaction.id, { name, ...reported });
  return transaction.id;
}

/** `compressed` (a compressed tar) encrypted to the centre and signed with `signer`'s key (by default the GEO's own), as an agent seals. */
export async function sealedFor(centre: Centre, signer: CentreGeo, compressed: Buffer): Promise<Buffer> {
  return buffer(sealStream(Readable.from([compressed]), {
    encryptionKeys: await readPublicKey(centre.keys.publicArmored, 'centre'),
    signingKey: await readPrivateKey(signer.keys.privateArmored, signer.name),
  }));
}
