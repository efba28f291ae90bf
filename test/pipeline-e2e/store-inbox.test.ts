// The centre reading its inbox from object storage (the rig's real Swift): agents upload through the API's
// pre-signed URLs, decrypt streams each delivery from the store (no local copy), a file altered in the store
// is refused and quarantined in the store under _quarantine/, archive reads deliveries from the store (the
// quarantined one too, as found), nothing lands in a local inbox directory, and archive prune removes the
// archived files from the store after archive.local_days.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
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
  const result = JSON.parse(archived.stdout) as { agentDumps: Array<{ objectKey: string }>; retiredFiles: unknown[] };
  assert.deepEqual(result.agentDumps.map((dump) => dump.objectKey).sort(), ['apac', 'emea'].map((name) => `agent/${cycle}/${name}/${fileNames.get(name)}`).sort());
  const archiveDir = join(centre.dir, 'data', 'archive', 'agent', cycle);
  assert.ok(existsSync(join(archiveDir, 'emea', fileNames.get('emea')!)), `in ${archiveDir}`);
  // The refused delivery from the store's _quarantine/, as found there (not what its agent sealed).
  const quarantinedKey = `quarantine/${cycle}/tamper/d1/${fileNames.get('tamper')}`;
  const found = Buffer.from('not what the agent sealed');
  assert.deepEqual(result.retiredFiles, [{ reason: 'quarantined', file: `tamper/${fileNames.get('tamper')}`, objectKey: quarantinedKey, size: found.length, copiedInStore: false }]);
  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
  assert.equal(sha256(readFileSync(join(centre.dir, 'data', 'archive', quarantinedKey))), sha256(found));
  const [records] = (await centre.db.query("SELECT sha256 FROM archive_records WHERE kind = 'quarantined'")) as unknown as [Array<{ sha256: string }>];
  assert.deepEqual(records.map((record) => record.sha256), [sha256(found)]);
});

test('archive prune removes the archived deliveries and the quarantined file from the store once archived for archive.local_days', async () => {
  const inStore = [...['emea', 'apac'].map((name) => `${name}/${fileNames.get(name)}`), `_quarantine/tamper/${fileNames.get('tamper')}`];
  const early = await centre.cli(['archive', 'prune', '--json']);
  assert.equal(early.code, 0, shown(early));
  assert.deepEqual([JSON.parse(early.stdout).localFiles, JSON.parse(early.stdout).retiredFiles], [[], []], 'archived just now: kept');
  await centre.db.query("UPDATE archive_records SET archived_at = archived_at - INTERVAL 3 DAY WHERE kind <> 'ganymede-db'");
  const dry = await centre.cli(['archive', 'prune', '--dry-run']);
  assert.equal(dry.code, 0, shown(dry));
  for (const name of inStore) assert.match(dry.stdout, new RegExp(`^would remove swift://\\S+/${name.replace(/\./g, '\\.')} \\(`, 'm'), name);
  const before = await swiftObjects(server, 'inbox');
  assert.ok(inStore.every((name) => before.includes(name)), 'a dry run removes nothing');
  const pruned = await centre.cli(['archive', 'prune', '--json']);
  assert.equal(pruned.code, 0, shown(pruned));
  const result = JSON.parse(pruned.stdout) as { localFiles: string[]; retiredFiles: Array<{ file: string; reason: string }> };
  assert.equal(result.localFiles.length, 2, result.localFiles.join(', '));
  assert.deepEqual(result.retiredFiles.map((file) => [file.file.replace(/^swift:\/\/[^/]+\//, ''), file.reason]), [[`_quarantine/tamper/${fileNames.get('tamper')}`, 'quarantined']]);
  const left = await swiftObjects(server, 'inbox');
  assert.deepEqual(inStore.filter((name) => left.includes(name)), [], `gone from the store: ${left.join(', ')}`);
});
