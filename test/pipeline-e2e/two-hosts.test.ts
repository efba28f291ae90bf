// Two central hosts that share nothing but the Ganymede MySQL, the object store and MongoDB: each its own
// site.name and data dir, the inbox and the feed in the rig's Swift. Host A decrypts every delivery and goes
// quiet; host B, which has nothing of A's disk, takes every later step: whichever host claims a step runs it
// with what the store and MySQL hold, so the hour finishes with no failed attempt.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { runCli } from '../support/cli.js';
import { writePrivateFile } from '../support/ganymede.js';
import { startSwift, type SwiftServer } from '../support/swift.js';
import { swiftCentreSettings } from '../agent/inbox-store-support.js';
import { shown } from '../cycle/support.js';
import { assertWarehouseHoldsSource, sourceStatements } from './support.js';

const cycle = '2026-07-02T09';
const geoNames = ['north', 'south', 'east', 'west'];
const maxTicks = 120;
let server: SwiftServer;
let centre: Centre;
/** The second host's config: the centre's, with its own site.name and data dir. */
let hostB: string;
const txnIds: number[] = [];

before(async () => {
  server = await startSwift();
  centre = await startCentre({
    glassbeam: true,
    settings: {
      'site.name': 'centre-a',
      ...swiftCentreSettings(server, '2h'),
    },
    agentSettings: { 'agent.inbox': 'api' },
  });
  const config = JSON.parse(readFileSync(centre.configPath, 'utf8')) as { site: { name: string; data_dir: string } };
  config.site = { name: 'centre-b', data_dir: join(centre.dir, 'host-b') };
  hostB = writePrivateFile(join(centre.dir, 'centre-b.json'), `${JSON.stringify(config, null, 2)}\n`);
  const source = await centre.addSource('twohosts', sourceStatements(13));
  for (const name of geoNames) txnIds.push((await (await centre.addGeo(name, source)).deliver(cycle)).transactionId);
});
after(async () => {
  await centre?.dispose();
  await server?.stop();
});

async function openWork(): Promise<number> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>(
    "SELECT (SELECT COUNT(*) FROM steps WHERE state IN ('pending', 'running')) + (SELECT COUNT(*) FROM cycles WHERE state <> 'sent') AS open",
  );
  return Number(rows[0]!.open);
}

async function stepsDone(name: string): Promise<number> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS n FROM steps WHERE name = ? AND state = 'done'", [name]);
  return Number(rows[0]!.n);
}

/** Ticks on `config` (waiting a little between them, as cron would a minute) until `until` holds. */
async function tickOn(config: string, until: () => Promise<boolean>): Promise<void> {
  for (let ticks = 0; !(await until()); ticks++) {
    assert.ok(ticks < maxTicks, `not done after ${maxTicks} ticks on ${config}`);
    const tick = await runCli(['--config', config, 'jupiter', 'tick'], {}, { timeoutMs: 60_000 });
    assert.ok(tick.code === 0 || tick.code === 10, shown(tick));
    await sleep(1000); // a tick process every 0.3 s took a core from the workers it launched
  }
}

test('every delivery decrypted on host A is loaded and finished by host B, with no failed attempt', async () => {
  // Host A decrypts every delivery (by hand, as an operator would) and goes quiet: the rest is B's, with
  // nothing of A's disk.
  for (const id of txnIds) {
    const decrypted = await runCli(['--config', centre.configPath, 'worker', 'decrypt', '--txn', String(id)], {}, { timeoutMs: 120_000 });
    assert.equal(decrypted.code, 0, shown(decrypted));
  }
  assert.equal(await stepsDone('decrypt'), geoNames.length);
  await tickOn(hostB, async () => (await openWork()) === 0);
  const [attempts] = await centre.db.query<mysql.RowDataPacket[]>('SELECT s.name, a.host, a.outcome, a.error FROM step_attempts a JOIN steps s ON s.id = a.step_id');
  assert.deepEqual(attempts.filter((attempt) => attempt.outcome !== 'succeeded'), [], 'no attempt failed');
  const byStep = (name: string) => [...new Set(attempts.filter((attempt) => attempt.name === name).map((attempt) => String(attempt.host)))];
  assert.deepEqual(byStep('decrypt'), ['centre-a']);
  for (const step of ['load', 'etl', 'clean', 'feed', 'send']) assert.deepEqual(byStep(step), ['centre-b'], step);
  const warehouse = await centre.warehouse();
  for (const name of geoNames) await assertWarehouseHoldsSource(warehouse, name, centre.geos.get(name)!.sourceDatabase);
});
