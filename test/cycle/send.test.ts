// Sending an hour's feed to Glassbeam (a local sshd): the files arrive complete, byte for byte the feed's,
// with no `.part` left; a sent hour is nothing to do unless forced; a key Glassbeam refuses is a
// configuration error and a path it refuses is refused data: either fails the send step (and the hour)
// for good with the reason, until an operator fixes it and sends by hand.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { createUserKey } from '../support/sshd.js';
import { tempDir } from '../support/ganymede.js';
import { cliWith, cycleAttempts, cycleRow, cycleSteps, listTree, nextCycle, readManifest, sha256Of, shown, smallSource } from './support.js';

const first = '2026-04-02T07';
const second = nextCycle(first);
let centre: Centre;
let keys: { path: string; remove(): void };

const feedDir = (cycle: string) => join(centre.dataDir, 'feed', cycle);
const glassbeamDir = (cycle: string) => centre.glassbeam!.localPath(cycle);

/** What an operator checks at Glassbeam: exactly the feed's files, each with the feed's sha256, and no .part. */
function assertDelivered(cycle: string): void {
  const local = readdirSync(feedDir(cycle)).sort();
  assert.deepEqual(listTree(glassbeamDir(cycle)), local, 'every feed file, nothing else (no .part)');
  for (const name of local) assert.equal(sha256Of(join(glassbeamDir(cycle), name)), sha256Of(join(feedDir(cycle), name)), `${name} arrived complete`);
  const manifest = readManifest(glassbeamDir(cycle));
  for (const file of manifest.files) assert.equal(sha256Of(join(glassbeamDir(cycle), file.name)), file.sha256, `${file.name}: as its manifest says`);
}

before(async () => {
  keys = tempDir('keys');
  centre = await startCentre({ glassbeam: true });
  for (const [i, name] of ['emea', 'apac'].entries()) await centre.addGeo(name, await centre.addSource(`src${name}`, smallSource(i + 1)));
  for (const geo of centre.geos.values()) await geo.deliver(first);
  const drained = await centre.cli(['jupiter', 'drain', '--timeout', '150']);
  assert.equal(drained.code, 0, shown(drained));
});
after(async () => {
  await centre?.dispose();
  keys?.remove();
});

test('the drained hour is at Glassbeam complete, each file recorded with the sha256 it has there', async () => {
  assert.equal((await cycleRow(centre, first)).state, 'sent');
  assertDelivered(first);
  assert.deepEqual(listTree(centre.glassbeam!.localPath('.')).filter((name) => name.endsWith('.part')), [], 'no .part anywhere');
  const show = await centre.cli(['cycle', 'show', first, '--json']);
  const recorded = (JSON.parse(show.stdout) as { feedFiles: Array<{ name: string; sha256: string; remotePath: string; size: number }> }).feedFiles;
  assert.deepEqual(recorded.map((file) => file.name).sort(), readdirSync(feedDir(first)).sort());
  for (const file of recorded) {
    assert.equal(file.remotePath, `${first}/${file.name}`);
    assert.equal(file.sha256, sha256Of(join(glassbeamDir(first), file.name)), `${file.name}: the record is what Glassbeam has`);
  }
});

test('a second `worker send` of a sent hour is nothing to do (10); --force sends every file again', async () => {
  const again = await centre.cli(['worker', 'send', '--cycle', first]);
  assert.equal(again.code, 10, shown(again));
  assert.match(again.stderr, new RegExp(`send of cycle ${first} is done; nothing to do`));
  const forced = await centre.cli(['worker', 'send', '--cycle', first, '--force']);
  assert.equal(forced.code, 0, shown(forced));
  for (const name of readdirSync(feedDir(first))) assert.match(forced.stderr, new RegExp(`sent ${first}/${name.replace(/\./g, '\\.')} `), `${name} sent again`);
  assert.ok(forced.stderr.indexOf('manifest.json') > forced.stderr.lastIndexOf('.ndjson.gz'), 'the manifest last');
  assertDelivered(first);
  assert.equal((await cycleRow(centre, first)).state, 'sent');
});

test('Glassbeam refusing the key: a configuration error naming the key; the send step fails with that reason until someone acts', async () => {
  const wrong = await createUserKey(keys.path, 'not_authorized');
  const run = await cliWith(centre, ['worker', 'send', '--cycle', first, '--force'], { GANYMEDE_GLASSBEAM_KEY_FILE: wrong.privateKeyPath });
  assert.equal(run.code, 3, shown(run));
  assert.match(run.stderr, new RegExp(`refused the private key ${wrong.privateKeyPath}`));
  const send = (await cycleSteps(centre, first)).find((step) => step.name === 'send')!;
  // A wrong key fails the same way every time: no retries until the configuration is fixed.
  assert.deepEqual([send.state, send.attempts], ['failed', 1]);
  assert.match(send.last_error ?? '', /refused the private key/);
  const attempts = await cycleAttempts(centre, first, 'send');
  assert.deepEqual([attempts.at(-1)!.outcome, /refused the private key/.test(attempts.at(-1)!.error ?? '')], ['failed', true]);
  const cycle = await cycleRow(centre, first);
  assert.equal(cycle.state, 'failed');
  assert.match(cycle.error ?? '', /send failed 1 time; last: .*refused the private key/);

  // The right key again, by hand: every file is already there with the same content, none is sent twice.
  const retried = await centre.cli(['worker', 'send', '--cycle', first]);
  assert.equal(retried.code, 0, shown(retried));
  assert.doesNotMatch(retried.stderr, /sent \d{4}-/, 'nothing sent twice');
  assert.equal((await cycleRow(centre, first)).state, 'sent');
  assertDelivered(first);
});

test('Glassbeam refusing the path: the send is refused (5), the step failed for good with the reason, the hour failed until sent by hand', async () => {
  for (const geo of centre.geos.values()) await geo.deliver(second);
  await centre.glassbeam!.setReadOnly(true);
  try {
    const drained = await centre.cli(['jupiter', 'drain', '--timeout', '150']);
    assert.equal(drained.code, 6, `the drain fails: the hour was not sent: ${shown(drained)}`);
    const send = (await cycleSteps(centre, second)).find((step) => step.name === 'send')!;
    assert.deepEqual([send.state, send.attempts], ['failed', 1], 'refused is not retried');
    assert.match(send.last_error ?? '', /permission denied/);
    const cycle = await cycleRow(centre, second);
    assert.equal(cycle.state, 'failed');
    assert.match(cycle.error ?? '', /send failed 1 time; last: .*permission denied/);
    const show = await centre.cli(['cycle', 'show', second]);
    assert.match(show.stdout, new RegExp(`cycle ${second}: failed — send failed 1 time; last: .*permission denied`));

    const byHand = await centre.cli(['worker', 'send', '--cycle', second]);
    assert.equal(byHand.code, 5, shown(byHand));
    assert.match(byHand.stderr, /permission denied on .*check that the SFTP user may write there/s);
  } finally {
    await centre.glassbeam!.setReadOnly(false);
  }
  const fixed = await centre.cli(['worker', 'send', '--cycle', second]);
  assert.equal(fixed.code, 0, shown(fixed));
  assert.equal((await cycleRow(centre, second)).state, 'sent');
  assertDelivered(second);
});
