// `ganymede archive` and `archive verify` against a real object store: the rig's one-node OpenStack Swift,
// first as swift:// (tempauth v1), then — the operator moving the archive — as s3:// (its s3api). Each
// object is read back straight from the store and compared with its record; the restore drill passes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { startSwift, type SwiftServer } from '../support/swift.js';
import { cliWith, nextCycle, shown, smallSource } from './support.js';

const first = '2026-08-09T10';
let centre: Centre;
let swift: SwiftServer;

interface ArchiveRecord { kind: string; objectKey: string; state: string; sha256: string; size: number; storeUrl: string; cycle: string | null }
interface StoredObject { name: string; bytes: number; sha256: string }

/** The container's objects as Swift's own API lists them, each read back whole. */
async function storedObjects(container: string): Promise<StoredObject[]> {
  const auth = await fetch(swift.authUrl, { headers: { 'X-Auth-User': swift.user, 'X-Auth-Key': swift.key } });
  await auth.arrayBuffer();
  const headers = { 'X-Auth-Token': auth.headers.get('x-auth-token')! };
  const storage = auth.headers.get('x-storage-url')!;
  const listing = await fetch(`${storage}/${container}?format=json`, { headers });
  const objects = (await listing.json()) as Array<{ name: string; bytes: number }>;
  const out: StoredObject[] = [];
  for (const object of objects) {
    const body = Buffer.from(await (await fetch(`${storage}/${container}/${object.name.split('/').map(encodeURIComponent).join('/')}`, { headers })).arrayBuffer());
    out.push({ name: object.name, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
  }
  return out;
}

async function records(env: Record<string, string>): Promise<ArchiveRecord[]> {
  const run = await cliWith(centre, ['archive', 'list', '--json'], env);
  assert.equal(run.code, 0, shown(run));
  return JSON.parse(run.stdout) as ArchiveRecord[];
}

/** Archive, verify, archive again; every object of this store as recorded. */
async function archiveInto(store: string, env: Record<string, string>, container: string, prefix: string): Promise<void> {
  const run = await cliWith(centre, ['archive', '--json'], env);
  assert.equal(run.code, 0, shown(run));
  const result = JSON.parse(run.stdout) as { store: string; ganymedeDump: { objectKey: string } | 'unchanged'; agentDumps: Array<{ objectKey: string }> };
  assert.equal(result.store, store);
  assert.notEqual(result.ganymedeDump, 'unchanged', 'the schema changed since the last dump');
  assert.equal(result.agentDumps.length, 1, "the new hour's agent file");

  const scheme = store.slice(0, store.indexOf(':') + 1);
  const here = (await records(env)).filter((record) => record.storeUrl.startsWith(scheme));
  assert.ok(here.length >= 2);
  const stored = await storedObjects(container);
  assert.deepEqual(stored.map((object) => object.name).sort(), here.map((record) => `${prefix}/${record.objectKey}`).sort(), 'exactly the recorded objects, under the prefix');
  for (const record of here) {
    assert.equal(record.state, 'archived');
    const object = stored.find((candidate) => candidate.name === `${prefix}/${record.objectKey}`)!;
    assert.deepEqual([object.bytes, object.sha256], [record.size, record.sha256], `${record.objectKey} as recorded`);
  }

  const verify = await cliWith(centre, ['archive', 'verify'], env);
  assert.equal(verify.code, 0, shown(verify));
  assert.match(verify.stdout, new RegExp(`^ok {6}${(result.ganymedeDump as { objectKey: string }).objectKey}: \\d+ tables, \\d+ rows restored and verified$`, 'm'));
  assert.match(verify.stdout, new RegExp(`^ok {6}${result.agentDumps[0]!.objectKey}: 2 tables, \\d+ rows restored and verified$`, 'm'));

  // verify recorded its outcome in the Ganymede database (the console's health page reads it): that is new
  // content, archived once; the agent's file is not uploaded again, and the run after that has nothing to do.
  const afterVerify = await cliWith(centre, ['archive'], env);
  assert.equal(afterVerify.code, 0, shown(afterVerify));
  assert.doesNotMatch(afterVerify.stdout, /agent/i, `only the Ganymede schema: ${shown(afterVerify)}`);
  const again = await cliWith(centre, ['archive'], env);
  assert.deepEqual([again.code, again.stdout], [0, ''], `nothing new: ${shown(again)}`);
  assert.ok((await storedObjects(container)).length <= stored.length + 1, 'at most the one new schema dump in the store');
}

let starting: Array<Promise<unknown>> = [];

/** The S3 API of the same Swift: the access key id from the config, the secret from the environment. */
const s3Env = () => ({
  GANYMEDE_ARCHIVE_URL: `s3://gmd-s3-archive/centre?endpoint=${encodeURIComponent(swift.s3.endpoint)}&region=${swift.s3.region}`,
  GANYMEDE_ARCHIVE_ACCESS_KEY_ID: swift.s3.accessKey,
  GANYMEDE_ARCHIVE_SECRET: swift.s3.secretKey,
});

before(async () => {
  // `after` waits for both to settle: one failing to start must not leave the other running.
  starting = [startCentre().then((started) => (centre = started)), startSwift().then((started) => (swift = started))];
  await Promise.all(starting);
  await centre.addGeo('emea', await centre.addSource('srcemea', smallSource(1)));
});
after(async () => {
  await Promise.allSettled(starting);
  await Promise.all([centre?.dispose(), swift?.stop()]);
});

test('swift:// store: archive uploads the schema dump and the agent file, verify restores them, a second run uploads nothing', async () => {
  await centre.geos.get('emea')!.deliver(first);
  const url = `swift://gmd-archive/centre?auth=${encodeURIComponent(swift.authUrl)}&user=${encodeURIComponent(swift.user)}`;
  await archiveInto('swift://gmd-archive/centre', { GANYMEDE_ARCHIVE_URL: url, GANYMEDE_ARCHIVE_SECRET: swift.key }, 'gmd-archive', 'centre');
});

test('s3:// store: the same, through the S3 API with the access key id from the config and the secret from the environment', async () => {
  await centre.geos.get('emea')!.deliver(nextCycle(first));
  const env = s3Env();
  // s3api keeps buckets as Swift containers: the swift listing sees what S3 stored.
  await archiveInto('s3://gmd-s3-archive/centre', env, 'gmd-s3-archive', 'centre');
});

// Each record keeps the store it was written to (store_url): after the archive moved, an older object
// is restored from the configured store if it is there, and otherwise the error names where it went.
test('after the archive moved to s3://, an hour archived in swift:// is restored from there, or the error names that store', async () => {
  const into = `gmd_restore_moved_${process.pid}`;
  const run = await cliWith(centre, ['archive', 'restore', '--geo', 'emea', '--cycle', first, '--into', into], s3Env());
  await (await centre.admin()).query(`DROP DATABASE IF EXISTS \`${into}\``);
  assert.ok(run.code === 0 || run.stderr.includes('swift://gmd-archive/centre'), shown(run));
});
