// A central host cut off from the Ganymede MySQL mid-step (its link goes silent: no error, no answer) must
// stop its worker by itself once its lease can no longer be renewed, before another host may take the step,
// and write nothing more; the step is then taken over and done once, and the warehouse holds the hour.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { ganymedeBin } from '../support/cli.js';
import { mysqlUrlFor } from '../support/mysql.js';
import { startFaultyMysql, type FaultyMysql } from '../support/net.js';
import { cliEnvironment, shown } from '../cycle/support.js';
import { ExitCode } from '../../src/exit-codes.js';
import { assertWarehouseHoldsSource, attemptsOf, bigTableStatements, schemaExists, sourceStatements, txnRow, waitFor } from './support.js';

const cycle = '2026-06-04T02';
/**
 * Not a timing assertion on the work: a worker whose link hangs would otherwise wait on TCP for many minutes;
 * this one stops after its lease (3 s) and a 3 s stop grace, so a minute is far beyond any busy machine's delay.
 */
const exitBoundMs = 60_000;
let centre: Centre;
let proxy: FaultyMysql;
let txnId: number;

before(async () => {
  centre = await startCentre({
    glassbeam: true,
    // The big table makes the load long enough to cut it mid-way; the warehouse stand-in would take minutes over it.
    settings: { 'centre.lease_ms': 3000, 'centre.lease_grace_ms': 1000, 'centre.retry_base_ms': 1000, 'warehouse.mappings': [{ table: 'big', skip: true }] },
  });
  const geo = await centre.addGeo('emea', await centre.addSource('fencing', [...sourceStatements(3), ...bigTableStatements(17)]));
  txnId = (await geo.deliver(cycle)).transactionId;
  assert.equal((await centre.cli(['worker', 'decrypt', '--txn', String(txnId)])).code, 0);
  proxy = await startFaultyMysql({});
});
after(async () => {
  proxy?.close();
  await centre?.dispose();
});

test('a load whose host loses its link to the Ganymede MySQL stops itself and records nothing', async () => {
  const database = new URL(centre.loaded.config.mysql.url!).pathname.slice(1);
  const throughProxy = new URL(mysqlUrlFor(database));
  throughProxy.port = String(proxy.port);
  // The Ganymede database through the link that will be cut; the scratch server (elsewhere) stays reachable.
  const worker = execa(process.execPath, [ganymedeBin, '--config', centre.configPath, 'worker', 'load', '--txn', String(txnId)], {
    reject: false,
    extendEnv: false,
    env: { ...cliEnvironment(), GANYMEDE_MYSQL_URL: throughProxy.toString() },
  });
  await waitFor('the load to be under way', () => schemaExists(centre, centre.paths.scratchSchema(txnId)), 60_000);
  proxy.hang();
  const ended = await Promise.race([worker, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), exitBoundMs))]);
  if (!ended) worker.kill('SIGKILL');
  assert.ok(ended, `the worker still ran ${exitBoundMs} ms after its link was cut`);
  const run = { code: ended.exitCode ?? -1, stdout: String(ended.stdout), stderr: String(ended.stderr) };
  assert.equal(run.code, ExitCode.unreachable, shown(run));
  assert.match(run.stderr, /load of transaction \d+: stopped, as its lease could not be renewed for \d+ ms \(the Ganymede MySQL is unreachable from centre-test\)/);
  const [load] = (await attemptsOf(centre, txnId)).filter((attempt) => attempt.step === 'load');
  assert.equal(load?.outcome, 'running', 'the fenced worker recorded nothing: the attempt is the next tick\'s to expire');
});

test('the step is taken over after its lease expired, done once, and the hour lands in the warehouse', async () => {
  const drained = await centre.cli(['jupiter', 'drain', '--timeout', '120']);
  assert.equal(drained.code, 0, shown(drained));
  assert.equal((await txnRow(centre, txnId)).state, 'done');
  const load = (await attemptsOf(centre, txnId)).filter((attempt) => attempt.step === 'load');
  assert.deepEqual(load.map((attempt) => attempt.outcome), ['crashed', 'succeeded']);
  const geo = centre.geos.get('emea')!;
  await assertWarehouseHoldsSource(await centre.warehouse(), geo.name, geo.sourceDatabase);
});
