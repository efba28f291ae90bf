// The feed as Glassbeam gets it: the same warehouse gives byte-identical files and manifest on every
// `worker feed --force`; the manifest's rows, sizes and sha256 are those of the files; `full` is the whole
// state of the GEOs, `changes` only what changed and was not fed yet; the CSV option parses back to the
// same records as NDJSON.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import mysqlPromise from 'mysql2/promise';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { mysqlOptions } from '../support/mysql.js';
import { cliWith, csvRecords, ndjsonRecords, parseCsv, nextCycle, readManifest, sha256Of, shown, smallSource, treeHashes, type FeedManifest } from './support.js';

const first = '2026-03-01T10';
const second = nextCycle(first);
const geoNames = ['emea', 'apac'];
let centre: Centre;
const feedDir = (cycle: string) => join(centre.dataDir, 'feed', cycle);

async function feed(cycle: string, env: Record<string, string> = {}): Promise<void> {
  // Every hour here was sent: --rebuild builds it again from the warehouse (as --force alone keeps what was sent).
  const run = await cliWith(centre, ['worker', 'feed', '--cycle', cycle, '--force', '--rebuild'], env);
  assert.equal(run.code, 0, shown(run));
}

/** The operator's check of a feed: every file listed, and its rows, size and sha256 what the manifest says. */
function assertManifestTrue(dir: string): FeedManifest {
  const manifest = readManifest(dir);
  assert.deepEqual(readdirSync(dir).sort(), [...manifest.files.map((file) => file.name), 'manifest.json'].sort(), 'the manifest lists every file there is');
  for (const file of manifest.files) {
    const path = join(dir, file.name);
    assert.equal(file.bytes, statSync(path).size, `${file.name}: size`);
    assert.equal(file.sha256, sha256Of(path), `${file.name}: sha256`);
    const text = gunzipSync(readFileSync(path)).toString('utf8');
    const rows = manifest.encoding === 'csv' ? parseCsv(text).length - 1 : text.split('\n').filter(Boolean).length;
    assert.equal(file.rows, rows, `${file.name}: rows (CSV: records after the header, a quoted cell may span lines)`);
  }
  return manifest;
}

before(async () => {
  centre = await startCentre({ glassbeam: true });
  for (const [i, name] of geoNames.entries()) await centre.addGeo(name, await centre.addSource(`src${name}`, smallSource(i + 1)));
  for (const geo of centre.geos.values()) await geo.deliver(first);
  const drained = await centre.cli(['jupiter', 'drain', '--timeout', '150']);
  assert.equal(drained.code, 0, shown(drained));
});
after(async () => {
  await centre?.dispose();
});

test('the drained hour has a full NDJSON feed whose manifest is true to its files and names both GEOs', () => {
  const manifest = assertManifestTrue(feedDir(first));
  assert.deepEqual([manifest.format, manifest.version, manifest.cycle, manifest.mode, manifest.encoding], ['ganymede-feed', 1, first, 'full', 'ndjson']);
  assert.deepEqual(manifest.geos, ['apac', 'emea']);
  assert.deepEqual(manifest.missingGeos, []);
  assert.deepEqual(Object.fromEntries(manifest.files.map((file) => [file.name, file.rows])), { 'accounts.ndjson.gz': 12, 'tags.ndjson.gz': 8 });
  const accounts = ndjsonRecords(join(feedDir(first), 'accounts.ndjson.gz'));
  const second = accounts.find((record) => record._id === 'emea:2')!;
  assert.deepEqual(second, { _id: 'emea:2', balance: '11.50', created_at: '2026-02-02T01:15:00.000Z', geo: 'emea', id: 2, name: 'acct 1-2, "quoted"', note: null });
  assert.ok(accounts.every((record) => !('_meta' in record)), "Ganymede's bookkeeping stays out of the feed");
});

test('two forced feeds of the same warehouse give byte-identical files and manifest', async () => {
  const drained = treeHashes(feedDir(first));
  await feed(first);
  const once = treeHashes(feedDir(first));
  await feed(first);
  assert.deepEqual(treeHashes(feedDir(first)), once, 'second forced feed');
  assert.deepEqual(once, drained, 'the same as the feed the tick built');
  assert.deepEqual(readdirSync(join(centre.dataDir, 'feed')).sort(), [first], 'no staging dir left beside the feed');
});

test('the CSV option gives files that parse back to the NDJSON records, deterministically too', async () => {
  const ndjson = Object.fromEntries(['accounts', 'tags'].map((collection) => [collection, ndjsonRecords(join(feedDir(first), `${collection}.ndjson.gz`))]));
  await feed(first, { GANYMEDE_FEED_FORMAT: 'csv' });
  const manifest = assertManifestTrue(feedDir(first));
  assert.equal(manifest.encoding, 'csv');
  assert.deepEqual(manifest.files.map((file) => file.name), ['accounts.csv.gz', 'tags.csv.gz'], 'the NDJSON files are replaced, not mixed in');
  const once = treeHashes(feedDir(first));
  for (const [collection, records] of Object.entries(ndjson)) {
    const cell = (value: unknown) => (value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value));
    const expected = records.map((record) => Object.fromEntries(Object.entries(record).map(([key, value]) => [key, cell(value)])));
    assert.deepEqual(csvRecords(join(feedDir(first), `${collection}.csv.gz`)), expected, `${collection}: CSV equals NDJSON, quotes, commas and newlines included`);
  }
  await feed(first, { GANYMEDE_FEED_FORMAT: 'csv' });
  assert.deepEqual(treeHashes(feedDir(first)), once, 'CSV is deterministic too');
  await feed(first);
  assert.deepEqual(Object.keys(treeHashes(feedDir(first))), ['accounts.ndjson.gz', 'manifest.json', 'tags.ndjson.gz'], 'back to NDJSON');
});

test('changes: the first hour is all "created"; the next hour only what changed, once; full still the whole state', async () => {
  const changes = { GANYMEDE_FEED_MODE: 'changes' };
  await feed(first, changes);
  const firstManifest = assertManifestTrue(feedDir(first));
  assert.equal(firstManifest.mode, 'changes');
  assert.deepEqual(Object.fromEntries(firstManifest.files.map((file) => [file.collection, file.rows])), { accounts: 12, tags: 8 });
  assert.ok(ndjsonRecords(join(feedDir(first), 'accounts.ndjson.gz')).every((change) => change.op === 'created' && change.cycle === `${first}:00:00.000Z`));

  // emea: one row changed, one removed, one added; apac unchanged.
  const conn = await mysqlPromise.createConnection(mysqlOptions(centre.geos.get('emea')!.sourceDatabase));
  try {
    await conn.query("UPDATE accounts SET balance = 99.99 WHERE id = 1");
    await conn.query('DELETE FROM accounts WHERE id = 3');
    await conn.query("INSERT INTO accounts VALUES (7, 'acct new', 7.00, '2026-03-01 09:00:00', NULL)");
  } finally {
    await conn.end();
  }
  for (const geo of centre.geos.values()) await geo.deliver(second);
  const drained = await cliWith(centre, ['jupiter', 'drain', '--timeout', '150'], changes);
  assert.equal(drained.code, 0, shown(drained));
  const manifest = assertManifestTrue(feedDir(second));
  assert.deepEqual([manifest.mode, manifest.geos], ['changes', ['apac', 'emea']]);
  assert.deepEqual(manifest.files.map((file) => [file.collection, file.rows]), [['accounts', 3]], 'only the changed collection, three changes');
  const byOp = Object.fromEntries(ndjsonRecords(join(feedDir(second), 'accounts.ndjson.gz')).map((change) => [change.op, change]));
  assert.deepEqual(Object.keys(byOp).sort(), ['created', 'removed', 'updated']);
  assert.deepEqual([byOp.updated!.id, (byOp.updated!.doc as { balance: string }).balance], ['emea:1', '99.99']);
  assert.deepEqual([byOp.removed!.id, byOp.removed!.doc], ['emea:3', null]);
  assert.deepEqual([byOp.created!.id, (byOp.created!.doc as { name: string }).name], ['emea:7', 'acct new']);

  const once = treeHashes(feedDir(second));
  await feed(second, changes);
  assert.deepEqual(treeHashes(feedDir(second)), once, 'a forced re-run of a changes feed gives the same changes, same bytes');

  await feed(second);
  const full = assertManifestTrue(feedDir(second));
  assert.deepEqual(Object.fromEntries(full.files.map((file) => [file.collection, file.rows])), { accounts: 12, tags: 8 }, 'full: the whole current state');
  const ids = ndjsonRecords(join(feedDir(second), 'accounts.ndjson.gz')).filter((record) => record.geo === 'emea').map((record) => record._id);
  assert.deepEqual(ids, ['emea:1', 'emea:2', 'emea:4', 'emea:5', 'emea:6', 'emea:7']);
});
