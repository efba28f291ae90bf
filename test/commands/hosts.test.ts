// Host membership on a real centre: the heartbeat that `jupiter tick` and a worker record, a host gone
// quiet shown dead by `hosts`, `hosts --json`, GET /v1/hosts, /metrics and `check`, `hosts forget` refusing
// a live host and forgetting a dead one (audited), lease renewals beating while a step runs, and a heartbeat
// that fails without failing the tick or the worker.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { startCentre, type Centre, type CentreGeo } from '../support/centre-fixture.js';
import type { CliRun } from '../support/cli.js';
import { loadConfig } from '../../src/config/load.js';
import { runCheck } from '../../src/commands/check.js';
import { ExitCode } from '../../src/exit-codes.js';
import { migrations } from '../../src/state/migrations.js';
import { recordHeartbeat } from '../../src/state/hosts.js';
import { claimStepByHand } from '../../src/state/step-claims.js';
import { findTxnStep } from '../../src/state/steps.js';
import { runWorkerStep } from '../../src/worker/runtime.js';

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
let centre: Centre;
let geo: CentreGeo;

before(async () => {
  centre = await startCentre();
  geo = await centre.addGeo('emea', await centre.addSource('hosts', ['CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))', "INSERT INTO t VALUES (1, 'a'), (2, 'b')"]));
});
after(async () => {
  await centre?.dispose();
});

const shown = (run: CliRun) => `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;

async function hostRows(): Promise<mysql.RowDataPacket[]> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>('SELECT name, last_seen_by, version, first_seen_at, last_seen_at FROM hosts ORDER BY name');
  return rows;
}

async function adminGet(path: string): Promise<Response> {
  return fetch(`${centre.apiUrl}${path}`, { headers: { authorization: `Bearer ${centre.adminToken}` } });
}

interface HostJson {
  name: string;
  alive: boolean;
  lastSeenAgoMs: number;
  lastSeenBy: string;
  version: string;
  running: Array<{ step: string; txnId: number | null; cycle: string }>;
}

test('a tick records the heartbeat of its host: name, version, first and last seen', async () => {
  const none = await centre.cli(['hosts', '--json']);
  assert.equal(none.code, 0, shown(none));
  assert.deepEqual((JSON.parse(none.stdout) as { hosts: unknown[] }).hosts, []);

  const tick = await centre.cli(['jupiter', 'tick']);
  assert.equal(tick.code, 0, shown(tick));
  const [row, ...others] = await hostRows();
  assert.equal(others.length, 0);
  assert.equal(row!.name, 'centre-test');
  assert.equal(row!.last_seen_by, 'tick');
  assert.equal(row!.version, version);

  const again = await centre.cli(['jupiter', 'tick']);
  assert.equal(again.code, 0, shown(again));
  const [later] = await hostRows();
  assert.equal((later!.first_seen_at as Date).getTime(), (row!.first_seen_at as Date).getTime(), 'first seen stays');
  assert.ok((later!.last_seen_at as Date).getTime() > (row!.last_seen_at as Date).getTime(), 'last seen moves on');
});

test('a worker step records the heartbeat of its host too, with no tick in between', async () => {
  await centre.db.query('DELETE FROM hosts');
  const delivered = await geo.deliver('2026-03-01T10');
  const run = await centre.cli(['worker', 'decrypt', '--txn', String(delivered.transactionId)]);
  assert.equal(run.code, 0, shown(run));
  const rows = await hostRows();
  assert.deepEqual(rows.map((row) => [row.name, row.last_seen_by, row.version]), [['centre-test', 'worker', version]]);
});

test('a host without a heartbeat for centre.host_dead_after_ms is dead in `hosts`, `hosts --json`, GET /v1/hosts, /metrics and check', async () => {
  // Host B claimed the load of a transaction, then went quiet ten minutes ago.
  const txnId = Number((await centre.db.query<mysql.RowDataPacket[]>("SELECT id FROM transactions WHERE step = 'load'"))[0][0]!.id);
  const load = await findTxnStep(centre.db, txnId, 'load');
  assert.ok(await claimStepByHand(centre.db, load!.id, 'centre-b', 600_000));
  await recordHeartbeat(centre.db, { host: 'centre-b', version: '0.0.9', by: 'worker' });
  await centre.db.query("UPDATE hosts SET last_seen_at = UTC_TIMESTAMP(3) - INTERVAL 10 MINUTE WHERE name = 'centre-b'");

  const table = await centre.cli(['hosts']);
  assert.equal(table.code, 0, `a dead host is not an error for the listing: ${shown(table)}`);
  const lines = table.stdout.split('\n');
  assert.match(lines[0]!, /^HOST\s+STATE\s+LAST SEEN\s+VERSION\s+RUNNING$/);
  assert.match(lines.find((line) => line.startsWith('centre-b '))!, /^centre-b\s+dead\s+10 min ago\s+0\.0\.9\s+1: load txn \d+$/);
  assert.match(lines.find((line) => line.startsWith('centre-test '))!, /^centre-test\s+alive\s+\d+ s ago\s+\S+\s+-$/);
  assert.match(table.stdout, /1 dead: no heartbeat for over 180 s \(centre\.host_dead_after_ms\)/);

  const json = await centre.cli(['hosts', '--json']);
  assert.equal(json.code, 0, shown(json));
  const listed = JSON.parse(json.stdout) as { hostDeadAfterMs: number; hosts: HostJson[] };
  assert.equal(listed.hostDeadAfterMs, 180_000);
  const b = listed.hosts.find((host) => host.name === 'centre-b')!;
  assert.equal(b.alive, false);
  assert.ok(b.lastSeenAgoMs >= 600_000, `last seen ${b.lastSeenAgoMs} ms ago`);
  assert.deepEqual(b.running, [{ step: 'load', txnId, cycle: '2026-03-01T10' }]);
  assert.equal(listed.hosts.find((host) => host.name === 'centre-test')!.alive, true);

  const api = await adminGet('/v1/hosts');
  assert.equal(api.status, 200);
  const served = (await api.json()) as { hosts: HostJson[] };
  assert.deepEqual(
    served.hosts.map((host) => [host.name, host.alive, host.version, host.running.map((step) => `${step.step} ${step.txnId}`)]),
    [['centre-b', false, '0.0.9', [`load ${txnId}`]], ['centre-test', true, version, []]],
  );
  const asGeo = await fetch(`${centre.apiUrl}/v1/hosts`, { headers: { authorization: `Bearer ${geo.token}` } });
  assert.equal(asGeo.status, 403, 'the admin token only');

  const metrics = await (await fetch(`${centre.apiUrl}/metrics`)).text();
  assert.match(metrics, /^ganymede_hosts_alive 1$/m);
  assert.match(metrics, /^ganymede_hosts_dead 1$/m);

  const check = await runCheck({ loaded: centre.loaded });
  const hostFindings = check.findings.filter((finding) => /^host /.test(finding.what));
  assert.deepEqual(hostFindings.map((finding) => finding.level), ['warning']);
  assert.match(hostFindings[0]!.what, /^host centre-b is dead: its last heartbeat was 10 min ago \(limit 180 s\)$/);

  // The threshold is the setting's: with an hour, ten minutes of silence is alive.
  const patient = loadConfig({ configPath: centre.configPath, env: {}, overrides: { 'centre.host_dead_after_ms': 3_600_000 } });
  assert.deepEqual((await runCheck({ loaded: patient })).findings.filter((finding) => /^host /.test(finding.what)), []);
});

test('`hosts forget` refuses a live host and forgets a dead one, audited; check stops warning of it', async () => {
  const live = await centre.cli(['hosts', 'forget', 'centre-test']);
  assert.equal(live.code, ExitCode.refused, shown(live));
  assert.match(live.stderr, /^ganymede: host centre-test is alive: its last heartbeat was \d+ s ago, and a host is dead only after 180 s without one/m);
  assert.match(live.stderr, /forget it once `ganymede hosts` shows it dead/);
  assert.deepEqual((await hostRows()).map((row) => row.name), ['centre-b', 'centre-test'], 'nothing was removed');

  const unknown = await centre.cli(['hosts', 'forget', 'centre-z']);
  assert.equal(unknown.code, ExitCode.notFound, shown(unknown));
  assert.match(unknown.stderr, /no host named centre-z/);

  const dead = await centre.cli(['hosts', 'forget', 'centre-b']);
  assert.equal(dead.code, 0, shown(dead));
  assert.match(dead.stderr, /forgot host centre-b/);
  assert.deepEqual((await hostRows()).map((row) => row.name), ['centre-test']);
  const [audit] = await centre.db.query<mysql.RowDataPacket[]>("SELECT actor, target FROM audit_log WHERE action = 'host.forget'");
  assert.deepEqual(audit.map((row) => row.target), ['host:centre-b']);
  assert.match(String(audit[0]!.actor), /^os:/);
  assert.deepEqual((await runCheck({ loaded: centre.loaded })).findings.filter((finding) => /^host /.test(finding.what)), []);
});

test("a worker's lease renewals keep its host's heartbeat going while the step runs", async () => {
  const delivered = await geo.deliver('2026-03-01T12');
  // Renewed every 500 ms; the row is removed once the step runs, and a renewal must bring it back.
  const loaded = loadConfig({ configPath: centre.configPath, env: {}, overrides: { 'centre.lease_ms': 1500, 'logging.level': 'error' } });
  let seenBy: unknown;
  await runWorkerStep({ loaded, step: 'decrypt', txnId: delivered.transactionId }, async () => {
    await centre.db.query("DELETE FROM hosts WHERE name = 'centre-test'");
    for (let waited = 0; waited < 30_000 && seenBy === undefined; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      seenBy = (await hostRows()).find((row) => row.name === 'centre-test')?.last_seen_by;
    }
    return {};
  });
  assert.equal(seenBy, 'worker');
});

test('a heartbeat that fails (the hosts table gone) fails neither the tick nor a worker: a warning, and the work is done', async () => {
  await centre.db.query('DROP TABLE hosts');
  try {
    const [[before]] = await centre.db.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS n FROM metric_points WHERE name = 'tick.run'");
    const tick = await centre.cli(['jupiter', 'tick']);
    assert.equal(tick.code, 0, shown(tick));
    assert.match(tick.stderr, /could not record the heartbeat of host centre-test: .*hosts.*doesn't exist/);
    const [[afterTick]] = await centre.db.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS n FROM metric_points WHERE name = 'tick.run'");
    assert.equal(Number(afterTick!.n), Number(before!.n) + 1, 'the tick ran through');

    const delivered = await geo.deliver('2026-03-01T11');
    const worker = await centre.cli(['worker', 'decrypt', '--txn', String(delivered.transactionId)]);
    assert.equal(worker.code, 0, shown(worker));
    assert.match(worker.stderr, /could not record the heartbeat of host centre-test/);
    assert.equal((await findTxnStep(centre.db, delivered.transactionId, 'decrypt'))!.state, 'done');
  } finally {
    const hosts = migrations.find((migration) => migration.statements.some((statement) => /CREATE TABLE IF NOT EXISTS hosts\b/.test(statement)))!;
    for (const statement of hosts.statements) await centre.db.query(statement);
  }
});
