// The centre reading its inbox from object storage (the rig's real Swift): agents upload through the API's
// pre-signed URLs, decrypt streams each delivery from the store (no local copy), a file altered in the store
// is refused and quarantined in the store under _quarantine/, archive reads deliveries from the store, and
// nothing lands in a local inbox directory.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { startSwift, type SwiftServer } from '../support/swift.js';
import { swiftCentreSettings, swiftObjects } from '../agent/inbox-store-support.js';
import { openInboxStore } from '../../src/inbox/store.js';
import { assertWarehouseHoldsSource, attemptsOf, sourceStatements, txnRow } from './support.js';
import { shown } from '../cycle/support.js';

const cycle = '2026-07-01T05';
let server: SwiftServer;
let centre: Centre;
const txnIds = new Map<string, number>();
const fileNames = new Map<string, string>();

before(async () => {
  server = await startSwift();
  centre = await startCentre({
    glassbeam: true,
    settings: swiftCentreSettings(server, 'storeinbox'),
    agentSettings: { 'agent.inbox': 'api' },
  });
  const source = await centre.addSource('storeinbox', sourceStatements(11));
  for (const name of ['emea', 'apac', 'tamper']) {
    const run = await (await centre.addGeo(name, source)).deliver(cycle);
    txnIds.set(name, run.transactionId);
    fileNames.set(name, run.file.name);
  }
  // The delivery of `tamper` replaced in the store after its agent closed the hour (its sha256 no longer matches).
  const store = await openInboxStore(centre.loaded);
  try {
    await store.put(`tamper/${fileNames.get('tamper')}`, () => Readable.from([Buffer.from('not what the agent sealed')]));
  } finally {
    await store.close();
  }
});
after(async () => {
  await centre?.dispose();
  await server?.stop();
});

test('every honest hour is decrypted from the store and lands in the warehouse; nothing is in a local inbox', async () => {
  const drained = await centre.cli(['jupiter', 'drain', '--timeout', '150']);
  assert.equal(drained.code, 6, shown(drained)); // the tampered hour did not finish
  for (const name of ['emea', 'apac']) {
    assert.equal((await txnRow(centre, txnIds.get(name)!)).state, 'done', name);
    await assertWarehouseHoldsSource(await centre.warehouse(), name, centre.geos.get(name)!.sourceDatabase);
  }
  for (const name of ['emea', 'apac', 'tamper']) {
    const local = centre.paths.inbox(name);
    assert.deepEqual(existsSync(local) ? readdirSync(local) : [], [], `nothing in ${local}`);
  }
});

test('a delivery altered in the store is refused once and quarantined in the store, out of the GEOs\' reach', async () => {
  const id = txnIds.get('tamper')!;
  const txn = await txnRow(centre, id);
  assert.equal(txn.state, 'refused');
  assert.match(txn.error ?? '', /its (size|sha256) is .*, the agent reported .*; moved to swift:\/\/inbox\/_quarantine\/tamper\//);
  assert.deepEqual((await attemptsOf(centre, id)).map((attempt) => [attempt.step, attempt.outcome]), [['decrypt', 'failed']]);
  const objects = await swiftObjects(server, 'inbox');
  assert.ok(objects.includes(`_quarantine/tamper/${fileNames.get('tamper')}`), objects.join(', '));
  assert.ok(!objects.includes(`tamper/${fileNames.get('tamper')}`), 'no longer in the inbox');
});

test('archive reads the deliveries from the store', async () => {
  const archived = await centre.cli(['archive', '--json']);
  assert.equal(archived.code, 0, shown(archived));
  const result = JSON.parse(archived.stdout) as { agentDumps: Array<{ objectKey: string }> };
  assert.deepEqual(result.agentDumps.map((dump) => dump.objectKey).sort(), ['apac', 'emea'].map((name) => `agent/${cycle}/${name}/${fileNames.get(name)}`).sort());
  const archiveDir = join(centre.dir, 'data', 'archive', 'agent', cycle);
  assert.ok(existsSync(join(archiveDir, 'emea', fileNames.get('emea')!)), `in ${archiveDir}`);
});
