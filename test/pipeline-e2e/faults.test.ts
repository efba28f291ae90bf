// What an operator meets when things go wrong: MongoDB down when etl runs (the attempt fails naming
// MongoDB, the step waits for its retry; a new MongoDB on the same port and a later drain finish the
// work), and workers run by hand with a wrong or finished transaction.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { startCentre, type Centre, type CentreGeo } from '../support/centre-fixture.js';
import { ExitCode } from '../../src/exit-codes.js';
import { assertWarehouseHoldsSource, attemptsOf, sourceStatements, startStandInOnPort, txnRow, type StandInOnPort } from './support.js';

const cycle = '2026-03-01T10';
// Stopping "MongoDB" needs a server of our own: a MONGODB_URI server is left alone.
const skip = process.env.MONGODB_URI ? 'MONGODB_URI is set: the test cannot stop that server' : false;
let mongo: StandInOnPort;
let centre: Centre;
let geo: CentreGeo;
let txnId: number;

before(async () => {
  if (skip) return;
  mongo = await startStandInOnPort();
  centre = await startCentre({ mongoUri: mongo.uri, settings: { 'centre.retry_base_ms': 5000 } });
  const source = await centre.addSource('faults', sourceStatements(9));
  // A GEO that never delivers keeps the hour from being fed: these tests are about the transactions.
  await centre.addGeo('late', source);
  geo = await centre.addGeo('faulty', source);
  txnId = (await geo.deliver(cycle)).transactionId;
});
after(async () => {
  await centre?.dispose();
  await mongo?.stop();
});

async function etlStep(): Promise<{ state: string; attempts: number; due_in_future: number; last_error: string | null }> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>(
    "SELECT state, attempts, next_run_at > UTC_TIMESTAMP(3) AS due_in_future, last_error FROM steps WHERE txn_id = ? AND name = 'etl'",
    [txnId],
  );
  return rows[0] as { state: string; attempts: number; due_in_future: number; last_error: string | null };
}

test('MongoDB down when etl runs: the attempt fails with one line naming MongoDB, and the step waits for its retry', { skip }, async () => {
  for (const step of ['decrypt', 'load']) {
    const run = await centre.cli(['worker', step, '--txn', String(txnId)]);
    assert.equal(run.code, 0, `worker ${step} by hand: ${run.stderr}`);
  }
  await mongo.stop();

  const etl = await centre.cli(['worker', 'etl', '--txn', String(txnId)]);
  assert.equal(etl.code, ExitCode.unreachable, etl.stderr);
  const message = etl.stderr.split('\n').find((line) => line.startsWith('ganymede: '));
  assert.match(message ?? '', new RegExp(`^ganymede: cannot reach MongoDB at 127\\.0\\.0\\.1:${mongo.port}: .*ECONNREFUSED`), etl.stderr);

  const attempts = await attemptsOf(centre, txnId);
  const failed = attempts.filter((attempt) => attempt.step === 'etl');
  assert.deepEqual(failed.map((attempt) => attempt.outcome), ['failed']);
  assert.match(failed[0]!.error ?? '', /^cannot reach MongoDB at 127\.0\.0\.1:\d+: /);
  assert.doesNotMatch(failed[0]!.error ?? '', /\n/, 'one line');

  const step = await etlStep();
  assert.equal(step.state, 'pending', 'to be retried');
  assert.equal(Number(step.due_in_future), 1, 'after a backoff: next_run_at is in the future');
  const txn = await txnRow(centre, txnId);
  assert.deepEqual([txn.state, txn.step], ['processing', 'etl'], 'the transaction waits at etl, not failed');

  const shown = await centre.cli(['txn', 'show', String(txnId)]);
  assert.match(shown.stdout, /#1 +failed .*cannot reach MongoDB/);
});

test('a new MongoDB on the same port: a later drain completes the transaction', { skip }, async () => {
  mongo = await startStandInOnPort(mongo.port);
  const drained = await centre.cli(['jupiter', 'drain', '--json', '--timeout', '120']);
  assert.equal(drained.code, 0, drained.stderr);
  const txn = await txnRow(centre, txnId);
  assert.deepEqual([txn.state, txn.error], ['done', null]);
  const etl = (await attemptsOf(centre, txnId)).filter((attempt) => attempt.step === 'etl');
  assert.deepEqual(etl.map((attempt) => attempt.outcome), ['failed', 'succeeded']);
  await assertWarehouseHoldsSource(await centre.warehouse(), geo.name, geo.sourceDatabase);
});

test('worker decrypt --txn 999999 (no such transaction) exits "not found" saying so', { skip }, async () => {
  const run = await centre.cli(['worker', 'decrypt', '--txn', '999999']);
  assert.equal(run.code, ExitCode.notFound, run.stderr);
  assert.match(run.stderr, /^ganymede: no transaction 999999$/m);
  assert.match(run.stderr, /hint: see `ganymede txn list`/);
  const notANumber = await centre.cli(['worker', 'load', '--txn', 'seven']);
  assert.equal(notANumber.code, ExitCode.usage);
  assert.match(notANumber.stderr, /"seven" is not a transaction id/);
});

test('worker decrypt --txn N by hand on a done transaction has nothing to do (10) and changes nothing', { skip }, async () => {
  const before = await attemptsOf(centre, txnId);
  const run = await centre.cli(['worker', 'decrypt', '--txn', String(txnId)]);
  assert.equal(run.code, ExitCode.nothingToDo, run.stderr);
  assert.match(run.stderr, new RegExp(`decrypt of transaction ${txnId} is done; nothing to do`));
  assert.deepEqual(await attemptsOf(centre, txnId), before, 'no attempt was added');
  assert.equal((await txnRow(centre, txnId)).state, 'done');
});
