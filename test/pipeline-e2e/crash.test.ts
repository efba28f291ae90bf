// kill -9 of a worker in the middle of decrypt, of load and of etl, while `jupiter drain` runs: the
// expired lease is noticed, the attempt recorded as crashed, the step run again, and the transaction
// ends done with a warehouse identical to an uninterrupted run of the same data by another GEO.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Db as MongoDb } from 'mongodb';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { assertSameWarehouse, assertWarehouseHoldsSource, attemptsOf, bigTableStatements, killWorkerMidStep, schemaExists, sourceStatements, txnRow } from './support.js';

const cycle = '2026-03-01T10';
let centre: Centre;
let source: string;
let warehouse: MongoDb;

before(async () => {
  centre = await startCentre({
    settings: {
      // A few seconds, so a kill is noticed soon; 1.5 s leases expired on a busy machine before workers had started.
      'centre.lease_ms': 4000,
      'centre.lease_grace_ms': 1000,
      'centre.retry_base_ms': 200,
      // `big` only makes decrypt and load long enough to be hit; the stand-in is kept to hundreds of rows.
      'warehouse.mappings': [{ table: 'big', skip: true }],
    },
  });
  source = await centre.addSource('crash', [...sourceStatements(7, 3), ...bigTableStatements(17)]);
  // A GEO that never delivers keeps the hour from being fed: these tests are about the transactions.
  await centre.addGeo('late', source);
  const reference = await centre.addGeo('reference', source);
  await reference.deliver(cycle);
  const drained = await centre.cli(['jupiter', 'drain', '--timeout', '120']);
  assert.equal(drained.code, 0, drained.stderr);
  warehouse = await centre.warehouse();
  await assertWarehouseHoldsSource(warehouse, 'reference', source);
});
after(async () => {
  await centre?.dispose();
});

const logOf = (txnId: number) => join(centre.dataDir, 'log', cycle, `txn-${txnId}.log`);
const logSays = (txnId: number, pattern: RegExp) => existsSync(logOf(txnId)) && pattern.test(readFileSync(logOf(txnId), 'utf8'));

interface Crash {
  /** When the worker is in the middle of its step. */
  reached(txnId: number): boolean | Promise<boolean>;
  /** What the killed worker left behind, checked before the retry can clean it up. */
  leftBehind(txnId: number): Promise<void>;
}

const crashes: Record<'decrypt' | 'load' | 'etl', Crash> = {
  decrypt: {
    // Reading the delivery to verify it, nothing judged yet.
    reached: (txnId) => logSays(txnId, /worker decrypt: verifying /),
    async leftBehind(txnId) {
      assert.equal(existsSync(centre.paths.work(txnId)), false, 'nothing written to a local disk');
      assert.equal(await schemaExists(centre, centre.paths.scratchSchema(txnId)), false, 'nothing loaded');
    },
  },
  load: {
    reached: (txnId) => logSays(txnId, /worker load: loading big:/),
    async leftBehind(txnId) {
      assert.equal(await schemaExists(centre, centre.paths.scratchSchema(txnId)), true, 'a half-loaded scratch schema');
    },
  },
  etl: {
    // The first collection is written, the others are not yet.
    reached: (txnId) => logSays(txnId, /worker etl: accounts \(table accounts/),
    async leftBehind(txnId) {
      // Killed before the step was done (checked when it was frozen); usually with audit or instances still to write.
      const geo = (await txnRow(centre, txnId)).file_name.split('_')[0]!;
      const progress = await warehouse.collection('_ganymede_etl').find({ geo }).toArray();
      assert.ok(progress.some((record) => record.collection === 'accounts' && record.state === 'done'), 'accounts was written');
      assert.ok(await warehouse.collection('accounts').countDocuments({ geo }) > 0);
    },
  },
};

interface ShownAttempt {
  attempt: number;
  outcome: string;
  pid: number | null;
  error: string | null;
}

for (const step of ['decrypt', 'load', 'etl'] as const) {
  test(`kill -9 of the ${step} worker mid-step: crashed, run again, done, and the warehouse is as if nothing happened`, async () => {
    const geo = await centre.addGeo(`crash-${step}`, source);
    const run = await geo.deliver(cycle);
    const draining = centre.startCli(['jupiter', 'drain', '--json', '--timeout', '120']);
    let killed: number;
    try {
      killed = await killWorkerMidStep(centre, run.transactionId, step, () => crashes[step].reached(run.transactionId));
      await crashes[step].leftBehind(run.transactionId);
    } catch (error) {
      draining.kill();
      throw error;
    }

    const drained = await draining.done;
    assert.equal(drained.code, 0, drained.stderr);
    assert.match(drained.stderr, new RegExp(`worker ${step} on centre-test pid ${killed} stopped renewing its lease`), 'the tick says what happened');
    const txn = await txnRow(centre, run.transactionId);
    assert.deepEqual([txn.state, txn.error], ['done', null]);

    const shown = await centre.cli(['txn', 'show', String(run.transactionId), '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    const steps = (JSON.parse(shown.stdout) as { steps: Array<{ name: string; state: string; attemptLog: ShownAttempt[] }> }).steps;
    const attempts = steps.find((item) => item.name === step)!.attemptLog;
    const crashed = attempts.find((attempt) => attempt.pid === killed);
    assert.equal(crashed?.outcome, 'crashed', JSON.stringify(attempts));
    assert.match(crashed.error ?? '', new RegExp(`worker ${step} .*pid ${killed} stopped renewing its lease \\(killed`));
    assert.equal(attempts.at(-1)!.outcome, 'succeeded', 'the last attempt succeeded');
    assert.ok(attempts.indexOf(crashed) < attempts.length - 1, 'the crashed attempt came first');
    assert.ok(steps.every((item) => item.state === 'done'), JSON.stringify(steps.map((item) => [item.name, item.state])));
    assert.deepEqual((await attemptsOf(centre, run.transactionId)).filter((attempt) => attempt.outcome === 'running'), []);

    await assertSameWarehouse(warehouse, geo.name, 'reference');
    assert.deepEqual(await changeLog(geo.name), await changeLog('reference'), 'the change log is the same too: each document created once');
    assert.equal(await schemaExists(centre, centre.paths.scratchSchema(run.transactionId)), false, 'the scratch schema is dropped');
    assert.equal(existsSync(centre.paths.work(run.transactionId)), false, 'the work dir is removed');
  });
}

/** The GEO's change-log entries with the GEO taken out of their ids. */
async function changeLog(geo: string): Promise<string[]> {
  const entries = await warehouse.collection('_ganymede_changes').find({ geo }).toArray();
  return entries
    .map(({ _id, docId, geo: _geo, ...rest }) => JSON.stringify({ id: String(_id).replace(`:${geo}:`, ':'), docId: String(docId).slice(geo.length + 1), ...rest }))
    .sort();
}
