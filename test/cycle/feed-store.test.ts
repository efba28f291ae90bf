// The feed in a store every central host reads (feed.store on the rig's Swift): `worker feed` on host A puts
// the cycle's files there and nothing on its own disk; `worker send` on host B (same MySQL, MongoDB and store,
// its own site.name and data dir) sends them to Glassbeam byte for byte as the manifest describes them; a file
// in the store that is not what the manifest says is never given its name at Glassbeam; a re-run feed with
// fewer files leaves none of the old ones behind for a send to pick up. Swift first (swift://), then its s3api (s3://).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { tempDir, writePrivateFile } from '../support/ganymede.js';
import { startSwift, type SwiftServer } from '../support/swift.js';
import { cliWith, cycleRow, listTree, shown, smallSource, type FeedManifest } from './support.js';

const cycle = '2026-09-10T11';
const swiftContainer = 'gmd-feed';
const prefix = 'feeds';
let swift: SwiftServer;
let centre: Centre;
let local: { path: string; remove(): void };
let starting: Array<Promise<unknown>> = [];

/** Host B: the same config, another site.name and another data dir, as a second machine has. */
const hostB = () => ({ GANYMEDE_SITE_NAME: 'centre-b', GANYMEDE_SITE_DATA_DIR: join(local.path, 'host-b') });
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const glassbeamDir = () => centre.glassbeam!.localPath(cycle);

/** Swift's own API, not Ganymede's transport: what the store really holds. */
async function swiftSession(): Promise<{ storage: string; headers: Record<string, string> }> {
  const auth = await fetch(swift.authUrl, { headers: { 'X-Auth-User': swift.user, 'X-Auth-Key': swift.key } });
  await auth.arrayBuffer();
  return { storage: auth.headers.get('x-storage-url')!, headers: { 'X-Auth-Token': auth.headers.get('x-auth-token')! } };
}

/** The cycle's objects in the store (names below the cycle), each read whole; s3api keeps a bucket as a container. */
async function storedFeed(container = swiftContainer): Promise<Map<string, Buffer>> {
  const { storage, headers } = await swiftSession();
  const listing = await fetch(`${storage}/${container}?format=json&prefix=${encodeURIComponent(`${prefix}/${cycle}/`)}`, { headers });
  const objects = (await listing.json()) as Array<{ name: string }>;
  const out = new Map<string, Buffer>();
  for (const { name } of objects) {
    const body = await fetch(`${storage}/${container}/${name.split('/').map(encodeURIComponent).join('/')}`, { headers });
    out.set(name.slice(`${prefix}/${cycle}/`.length), Buffer.from(await body.arrayBuffer()));
  }
  return out;
}

async function overwriteStored(name: string, body: Buffer): Promise<void> {
  const { storage, headers } = await swiftSession();
  const response = await fetch(`${storage}/${swiftContainer}/${prefix}/${cycle}/${name}`, { method: 'PUT', headers, body });
  assert.equal(response.status, 201, `PUT ${name}: ${response.status}`);
}

/** What Glassbeam has for the cycle is exactly the stored feed, byte for byte, and true to its manifest. */
function assertGlassbeamHasStoredFeed(stored: Map<string, Buffer>): FeedManifest {
  const manifest = JSON.parse(stored.get('manifest.json')!.toString('utf8')) as FeedManifest;
  assert.deepEqual(listTree(glassbeamDir()), [...stored.keys()].sort(), 'every file of the store, nothing else, no .part');
  assert.deepEqual([...stored.keys()].sort(), [...manifest.files.map((file) => file.name), 'manifest.json'].sort(), 'the store holds what the manifest names');
  for (const [name, bytes] of stored) assert.ok(readFileSync(join(glassbeamDir(), name)).equals(bytes), `${name} arrived byte-identical to the store's`);
  for (const file of manifest.files) {
    const sent = readFileSync(join(glassbeamDir(), file.name));
    assert.deepEqual([sent.length, sha256(sent)], [file.bytes, file.sha256], `${file.name}: as the manifest says`);
  }
  return manifest;
}

/** Each attempt's host and outcome; `errors` keeps what a failed one said, for an assertion's message. */
async function attemptHosts(step: 'feed' | 'send'): Promise<Array<[string, string]> & { errors: string }> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>(
    `SELECT a.host, a.outcome, a.error FROM step_attempts a JOIN steps s ON s.id = a.step_id
      WHERE s.txn_id IS NULL AND s.cycle_start = ? AND s.name = ? ORDER BY a.attempt`,
    [new Date(`${cycle}:00:00Z`), step],
  );
  const errors = rows.filter((row) => row.error).map((row) => `${step} attempt on ${row.host}: ${row.outcome}: ${row.error}`).join('\n');
  return Object.assign(rows.map((row): [string, string] => [String(row.host), String(row.outcome)]), { errors });
}

before(async () => {
  local = tempDir('feed-store');
  starting = [startSwift().then((started) => (swift = started))];
  await Promise.all(starting);
  // As an operator keeps it: a 0600 file, ending in the newline an editor adds.
  const secretFile = writePrivateFile(join(local.path, 'feed-store.secret'), `${swift.key}\n`);
  const store = `swift://${swiftContainer}/${prefix}?auth=${encodeURIComponent(swift.authUrl)}&user=${encodeURIComponent(swift.user)}`;
  starting.push(startCentre({ glassbeam: true, settings: { 'feed.store': store, 'feed.store_secret_file': secretFile } }).then((started) => (centre = started)));
  await Promise.all(starting);
  for (const [i, name] of ['emea', 'apac'].entries()) await centre.addGeo(name, await centre.addSource(`src${name}`, smallSource(i + 1)));
  for (const geo of centre.geos.values()) await geo.deliver(cycle);
});
after(async () => {
  await Promise.allSettled(starting);
  await Promise.all([centre?.dispose(), swift?.stop()]);
  local?.remove();
});

test('host A builds the feed into Swift and keeps nothing of it on its disk; host B, with its own data dir, sends it byte for byte', async () => {
  // Glassbeam refuses host A's send: the hour stops with its feed built on A and nothing sent.
  await centre.glassbeam!.setReadOnly(true);
  try {
    const drained = await centre.cli(['jupiter', 'drain', '--timeout', '150']);
    assert.equal(drained.code, 6, `the drain ends with the send refused: ${shown(drained)}`);
  } finally {
    await centre.glassbeam!.setReadOnly(false);
  }
  const feedAttempts = await attemptHosts('feed');
  assert.deepEqual([...feedAttempts], [['centre-test', 'succeeded']], feedAttempts.errors || 'one feed attempt, on host A');
  assert.deepEqual(listTree(glassbeamDir()), [], 'nothing at Glassbeam yet');
  assert.equal(existsSync(join(centre.dataDir, 'feed')), false, "no feed dir on host A's disk");
  assert.deepEqual(listTree(join(centre.dataDir, 'feed-spool')), [], 'no spool file left on host A');
  const stored = await storedFeed();
  assert.deepEqual([...stored.keys()].sort(), ['accounts.ndjson.gz', 'manifest.json', 'tags.ndjson.gz']);

  const sent = await cliWith(centre, ['worker', 'send', '--cycle', cycle], hostB());
  assert.equal(sent.code, 0, shown(sent));
  const manifest = assertGlassbeamHasStoredFeed(stored);
  assert.deepEqual(manifest.geos, ['apac', 'emea']);
  const sendAttempts = await attemptHosts('send');
  assert.deepEqual(sendAttempts.at(-1), ['centre-b', 'succeeded'], `host B sent it\n${sendAttempts.errors}`);
  assert.equal((await cycleRow(centre, cycle)).state, 'sent');
  assert.equal(existsSync(join(hostB().GANYMEDE_SITE_DATA_DIR, 'feed')), false, 'host B read the feed from the store, not from a disk of its own');
});

test('a file in the store that is not what the manifest says fails the send and never gets its name at Glassbeam; the manifest is not sent', async () => {
  const stored = await storedFeed();
  const tags = stored.get('tags.ndjson.gz')!;
  const tampered = Buffer.from(tags);
  tampered.writeUInt8(tampered.readUInt8(tampered.length - 1) ^ 0xff, tampered.length - 1);
  await overwriteStored('tags.ndjson.gz', tampered);
  rmSync(glassbeamDir(), { recursive: true, force: true });

  const sent = await cliWith(centre, ['worker', 'send', '--cycle', cycle, '--force'], hostB());
  assert.equal(sent.code, 6, shown(sent));
  const expected = (JSON.parse(stored.get('manifest.json')!.toString('utf8')) as FeedManifest).files.find((file) => file.name === 'tags.ndjson.gz')!;
  assert.match(sent.stderr, new RegExp(`${cycle}/tags\\.ndjson\\.gz is not the file its manifest names \\(sha256 ${sha256(tampered)}, not ${expected.sha256}\\); it was not sent`));
  assert.deepEqual(listTree(glassbeamDir()), ['accounts.ndjson.gz'], 'the file before it only: no tags file, no .part, no manifest');

  // The store put right (the feed built again from the warehouse), the next send delivers the whole hour.
  const rebuilt = await cliWith(centre, ['worker', 'feed', '--cycle', cycle, '--force', '--rebuild']);
  assert.equal(rebuilt.code, 0, shown(rebuilt));
  assert.ok((await storedFeed()).get('tags.ndjson.gz')!.equals(tags), 'the same warehouse gives the same bytes');
  const again = await cliWith(centre, ['worker', 'send', '--cycle', cycle, '--force'], hostB());
  assert.equal(again.code, 0, shown(again));
  assertGlassbeamHasStoredFeed(stored);
});

test('a re-run feed with fewer files removes the others from the store, and no send uploads them', async () => {
  const warehouse = await centre.warehouse();
  await warehouse.collection('tags').drop();
  const rebuilt = await cliWith(centre, ['worker', 'feed', '--cycle', cycle, '--force', '--rebuild']);
  assert.equal(rebuilt.code, 0, shown(rebuilt));
  const stored = await storedFeed();
  assert.deepEqual([...stored.keys()].sort(), ['accounts.ndjson.gz', 'manifest.json'], 'the earlier tags file is gone from the store');

  rmSync(glassbeamDir(), { recursive: true, force: true });
  const sent = await cliWith(centre, ['worker', 'send', '--cycle', cycle, '--force'], hostB());
  assert.equal(sent.code, 0, shown(sent));
  assert.doesNotMatch(sent.stderr, /tags/);
  const manifest = assertGlassbeamHasStoredFeed(stored);
  assert.deepEqual(manifest.files.map((file) => file.name), ['accounts.ndjson.gz']);
});

test('the same through s3:// (feed.store_access_key_id and the secret given as GANYMEDE_* variables): built on host A, sent by host B', async () => {
  const s3 = {
    GANYMEDE_FEED_STORE: `s3://gmd-s3-feed/${prefix}?endpoint=${encodeURIComponent(swift.s3.endpoint)}&region=${swift.s3.region}`,
    GANYMEDE_FEED_STORE_ACCESS_KEY_ID: swift.s3.accessKey,
    GANYMEDE_FEED_STORE_SECRET: swift.s3.secretKey,
  };
  const built = await cliWith(centre, ['worker', 'feed', '--cycle', cycle, '--force', '--rebuild'], s3);
  assert.equal(built.code, 0, shown(built));
  const stored = await storedFeed('gmd-s3-feed');
  assert.deepEqual([...stored.keys()].sort(), ['accounts.ndjson.gz', 'manifest.json']);

  rmSync(glassbeamDir(), { recursive: true, force: true });
  const sent = await cliWith(centre, ['worker', 'send', '--cycle', cycle, '--force'], { ...hostB(), ...s3 });
  assert.equal(sent.code, 0, shown(sent));
  assertGlassbeamHasStoredFeed(stored);
});
