// A GEO that does not deliver. Three GEOs, a deadline of one minute and hours well past it: with partial
// feeds allowed the hour goes out without the late GEO and the manifest names it; without, the hour keeps
// collecting, `cycle show` says whom it waits for, and `cycle feed --allow-missing` sends it anyway. The
// late GEO's delivery, once it comes, is in the next hour's `changes` feed.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mysqlPromise from 'mysql2/promise';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { mysqlOptions } from '../support/mysql.js';
import { runCli } from '../support/cli.js';
import { cliWith, cycleRow, hoursAgo, ndjsonRecords, readManifest, shown, smallSource } from './support.js';

// Hours of the current day well past a one-minute deadline, oldest first.
const partialHour = hoursAgo(5);
const waitingHour = hoursAgo(4);
const nextHour = hoursAgo(3);
const partialOn = { GANYMEDE_FEED_PARTIAL_AFTER_DEADLINE: 'true' };
const partialOff = { GANYMEDE_FEED_PARTIAL_AFTER_DEADLINE: 'false' };
let centre: Centre;

async function drain(env: Record<string, string>): Promise<void> {
  const run = await cliWith(centre, ['jupiter', 'drain', '--timeout', '150'], env);
  assert.equal(run.code, 0, shown(run));
}

/** `agent run --cycle` of one GEO, as its cron line would run it. */
async function agentRun(geo: string, cycle: string): Promise<void> {
  const run = await runCli(['--config', centre.geos.get(geo)!.configPath, 'agent', 'run', '--cycle', cycle]);
  assert.equal(run.code, 0, shown(run));
}

const glassbeamManifest = (cycle: string) => readManifest(centre.glassbeam!.localPath(cycle));

before(async () => {
  centre = await startCentre({ glassbeam: true, settings: { 'centre.cycle_deadline_minutes': 1, 'feed.mode': 'changes' } });
  for (const [i, name] of ['emea', 'apac', 'latam'].entries()) await centre.addGeo(name, await centre.addSource(`src${name}`, smallSource(i + 1)));
});
after(async () => {
  await centre?.dispose();
});

test('past the deadline with partial feeds on, the hour is fed and sent without the late GEO, named in the manifest', async () => {
  await agentRun('emea', partialHour);
  await agentRun('apac', partialHour);
  await drain(partialOn);
  const cycle = await cycleRow(centre, partialHour);
  assert.deepEqual([cycle.state, cycle.missing_geos], ['sent', 'latam']);
  const manifest = glassbeamManifest(partialHour);
  assert.deepEqual([manifest.geos, manifest.missingGeos], [['apac', 'emea'], ['latam']]);
  assert.deepEqual(Object.fromEntries(manifest.files.map((file) => [file.collection, file.rows])), { accounts: 12, tags: 8 });
  const shownCycle = await centre.cli(['cycle', 'show', partialHour]);
  assert.equal(shownCycle.code, 0, shown(shownCycle));
  assert.match(shownCycle.stdout, new RegExp(`cycle ${partialHour}: sent`));
  assert.match(shownCycle.stdout, /fed without: latam/);
});

test('with partial feeds off the hour keeps collecting and `cycle show` names the GEO it waits for', async () => {
  // emea changes a row, so this hour's changes feed is not empty.
  const conn = await mysqlPromise.createConnection(mysqlOptions(centre.geos.get('emea')!.sourceDatabase));
  await conn.query('UPDATE accounts SET balance = 1234.50 WHERE id = 2').finally(() => conn.end());
  await agentRun('emea', waitingHour);
  await agentRun('apac', waitingHour);
  await drain(partialOff);
  assert.equal((await cycleRow(centre, waitingHour)).state, 'collecting');
  assert.equal(existsSync(join(centre.dataDir, 'feed', waitingHour)), false, 'nothing fed');
  const shownCycle = await centre.cli(['cycle', 'show', waitingHour]);
  assert.equal(shownCycle.code, 0, shown(shownCycle));
  assert.match(shownCycle.stdout, new RegExp(`cycle ${waitingHour}: late`));
  assert.match(shownCycle.stdout, /waiting for: latam$/m);
  const json = JSON.parse((await centre.cli(['cycle', 'show', waitingHour, '--json'])).stdout) as { waitingFor: string[] };
  assert.deepEqual(json.waitingFor, ['latam']);
  // A tick later changes nothing: the deadline passed, but partial feeds are off.
  const ticked = await cliWith(centre, ['jupiter', 'tick'], partialOff);
  assert.equal(ticked.code, 0, shown(ticked));
  assert.equal((await cycleRow(centre, waitingHour)).state, 'collecting');
});

test('`cycle feed` refuses without --allow-missing, naming the GEO; with it the hour is fed and sent without it', async () => {
  const refused = await centre.cli(['cycle', 'feed', waitingHour]);
  assert.equal(refused.code, 2, shown(refused));
  assert.match(refused.stderr, new RegExp(`cycle ${waitingHour} still waits for latam`));
  assert.match(refused.stderr, /--allow-missing/);
  const forced = await centre.cli(['cycle', 'feed', waitingHour, '--allow-missing']);
  assert.equal(forced.code, 0, shown(forced));
  await drain(partialOff);
  assert.deepEqual(await cycleRow(centre, waitingHour), { state: 'sent', missing_geos: 'latam', error: null });
  const manifest = glassbeamManifest(waitingHour);
  assert.deepEqual([manifest.mode, manifest.geos, manifest.missingGeos], ['changes', ['apac', 'emea'], ['latam']]);
  assert.deepEqual(manifest.files.map((file) => [file.collection, file.rows]), [['accounts', 1]], "emea's one change");
  const again = await centre.cli(['cycle', 'feed', waitingHour, '--allow-missing']);
  assert.equal(again.code, 10, `a sent hour is nothing to do: ${shown(again)}`);
});

test('the late GEO delivered afterwards is in the next hour\'s changes feed, its rows once, with the hour they belong to', async () => {
  await agentRun('latam', partialHour);
  await drain(partialOff);
  assert.equal((await cycleRow(centre, partialHour)).state, 'sent', 'the hour already sent is not sent again');
  for (const geo of ['emea', 'apac', 'latam']) await agentRun(geo, nextHour);
  await drain(partialOff);
  assert.deepEqual(await cycleRow(centre, nextHour), { state: 'sent', missing_geos: null, error: null });
  const manifest = glassbeamManifest(nextHour);
  assert.deepEqual([manifest.geos, manifest.missingGeos], [['apac', 'emea', 'latam'], []]);
  assert.deepEqual(Object.fromEntries(manifest.files.map((file) => [file.collection, file.rows])), { accounts: 6, tags: 4 }, "latam's whole first delivery, nothing of the others");
  const changes = ndjsonRecords(centre.glassbeam!.localPath(`${nextHour}/accounts.ndjson.gz`));
  assert.ok(changes.every((change) => change.geo === 'latam' && change.op === 'created' && change.cycle === `${partialHour}:00:00.000Z`), JSON.stringify(changes[0]));
  assert.deepEqual(changes.map((change) => change.id), ['latam:1', 'latam:2', 'latam:3', 'latam:4', 'latam:5', 'latam:6']);
});

test('past the deadline a GEO that delivered but is still being processed is waited for, not left out', async () => {
  const hour = hoursAgo(2);
  await agentRun('emea', hour);
  await agentRun('apac', hour);
  await drain(partialOff);
  await agentRun('latam', hour);
  // One tick with partial feeds on: latam's delivery is only due for decrypt, so the hour is not ready.
  const ticked = await cliWith(centre, ['jupiter', 'tick'], partialOn);
  assert.equal(ticked.code, 0, shown(ticked));
  assert.doesNotMatch(ticked.stderr, new RegExp(`cycle ${hour} is ready`));
  assert.equal((await cycleRow(centre, hour)).state, 'collecting');
  await drain(partialOn);
  assert.deepEqual(await cycleRow(centre, hour), { state: 'sent', missing_geos: null, error: null });
  assert.deepEqual([glassbeamManifest(hour).geos, glassbeamManifest(hour).missingGeos], [['apac', 'emea', 'latam'], []]);
});
