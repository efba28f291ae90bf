// Three GEOs deliver an hour each; `ganymede jupiter drain` takes every delivery through decrypt, load,
// etl and clean, and then the hour through feed and send to a local "Glassbeam" (sshd). What an operator
// checks afterwards: every transaction done, the warehouse holds what the sources hold, nothing left in
// MySQL or the work dir, the encrypted files still in the inbox, the hour's feed at Glassbeam.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import type { AgentRunResult } from '../../src/commands/agent/run.js';
import { assertWarehouseHoldsSource, attemptsOf, schemaExists, sourceStatements, sourceTables, txnRow } from './support.js';

const cycle = '2026-03-01T10';
const geoNames = ['emea', 'apac', 'latam'];
let centre: Centre;
const delivered = new Map<string, AgentRunResult>();
let drained: { code: number; stdout: string; stderr: string };

before(async () => {
  centre = await startCentre({ glassbeam: true });
  for (const [i, name] of geoNames.entries()) {
    const source = await centre.addSource(`src${name}`, sourceStatements(i + 1));
    const geo = await centre.addGeo(name, source);
    delivered.set(name, await geo.deliver(cycle));
  }
  drained = await centre.cli(['jupiter', 'drain', '--json', '--timeout', '150']);
});
after(async () => {
  await centre?.dispose();
});

test('jupiter drain exits 0 and reports every transaction done', () => {
  assert.equal(drained.code, 0, drained.stderr);
  const result = JSON.parse(drained.stdout) as { ok: boolean; transactions: Array<{ id: number; geo: string; cycle: string; state: string }>; launched: Array<{ step: string }> };
  assert.equal(result.ok, true);
  assert.deepEqual(result.transactions.map((txn) => [txn.geo, txn.cycle, txn.state]).sort(), geoNames.map((geo) => [geo, cycle, 'done']).sort());
  assert.deepEqual(
    result.launched.map((item) => item.step).sort(),
    [...geoNames.flatMap(() => ['decrypt', 'load', 'etl', 'clean']), 'feed', 'send'].sort(),
    'decrypt, load, etl and clean once per transaction, then feed and send once for the hour',
  );
});

test('every transaction is done, each step with one succeeded attempt', async () => {
  for (const [geo, run] of delivered) {
    const txn = await txnRow(centre, run.transactionId);
    assert.deepEqual([txn.state, txn.step, txn.error], ['done', null, null], `transaction of ${geo}`);
    const attempts = await attemptsOf(centre, run.transactionId);
    assert.deepEqual(attempts.map((a) => [a.step, a.stepState, a.outcome]), ['decrypt', 'load', 'etl', 'clean'].map((step) => [step, 'done', 'succeeded']), `steps of ${geo}`);
  }
});

test('the warehouse holds what each source holds: one document per row, every field equal', async () => {
  const warehouse = await centre.warehouse();
  for (const [geo, run] of delivered) {
    assert.equal(run.rows, (60 + 90 + 30), `the agent of ${geo} extracted every row`);
    await assertWarehouseHoldsSource(warehouse, geo, centre.geos.get(geo)!.sourceDatabase);
  }
  const total = await Promise.all(sourceTables.map((table) => warehouse.collection(table).countDocuments({})));
  assert.equal(total.reduce((sum, n) => sum + n, 0), 3 * (60 + 90 + 30), 'nothing else in the state collections');
  const changes = await warehouse.collection('_ganymede_changes').countDocuments({ op: 'created' });
  assert.equal(changes, 3 * (60 + 90 + 30), 'a first load logs every document as created');
});

test('txn show tells the same story an operator reads', async () => {
  const id = delivered.get('apac')!.transactionId;
  const shown = await centre.cli(['txn', 'show', String(id)]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`transaction ${id}: GEO apac, cycle ${cycle}, done`));
  for (const step of ['decrypt', 'load', 'etl', 'clean']) assert.match(shown.stdout, new RegExp(`^${step} .* done`, 'm'));
  assert.match(shown.stdout, /log: .*txn-\d+\.log/);
});

test('the scratch schemas are dropped and the work dirs removed', async () => {
  for (const run of delivered.values()) {
    assert.equal(await schemaExists(centre, centre.paths.scratchSchema(run.transactionId)), false, `${centre.paths.scratchSchema(run.transactionId)} is dropped`);
    assert.equal(existsSync(centre.paths.work(run.transactionId)), false, `${centre.paths.work(run.transactionId)} is removed`);
  }
  const workDir = join(centre.dataDir, 'work');
  assert.deepEqual(existsSync(workDir) ? readdirSync(workDir) : [], [], 'nothing left in the work dir');
});

test('the encrypted files are still in the inbox, as delivered; nothing in quarantine', () => {
  for (const [geo, run] of delivered) {
    const path = join(centre.paths.inbox(geo), run.file.name);
    assert.ok(existsSync(path), `${path} is kept until it is archived`);
    assert.equal(createHash('sha256').update(readFileSync(path)).digest('hex'), run.file.sha256);
    assert.ok(!readFileSync(path).includes('account 1-1'), 'the file is not plaintext');
  }
  assert.equal(existsSync(join(centre.dataDir, 'quarantine')), false);
});

test('each worker wrote its log, one per transaction', () => {
  for (const run of delivered.values()) {
    const log = readFileSync(join(centre.dataDir, 'log', cycle, `txn-${run.transactionId}.log`), 'utf8');
    for (const step of ['decrypt', 'load', 'etl', 'clean']) assert.match(log, new RegExp(`worker ${step}.* done`), `${step} logged its end`);
  }
});

test('the hour was fed and sent to Glassbeam: a manifest naming the three GEOs and one file per collection', async () => {
  const shown = await centre.cli(['cycle', 'show', cycle, '--json']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal((JSON.parse(shown.stdout) as { cycle: { state: string } }).cycle.state, 'sent', shown.stdout);
  const manifest = JSON.parse(readFileSync(centre.glassbeam!.localPath(`${cycle}/manifest.json`), 'utf8')) as { geos: string[]; files: Array<{ collection: string; rows: number; name: string }> };
  assert.deepEqual(manifest.geos, [...geoNames].sort());
  const rows = Object.fromEntries(manifest.files.map((file) => [file.collection, file.rows]));
  assert.deepEqual(rows, { accounts: 3 * 60, audit: 3 * 30, instances: 3 * 90 });
  for (const file of manifest.files) assert.ok(existsSync(centre.glassbeam!.localPath(`${cycle}/${file.name}`)), `${file.name} is at Glassbeam`);
});

test('a second drain has nothing to do', async () => {
  const again = await centre.cli(['jupiter', 'drain']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /nothing to do: no step was due/);
});
