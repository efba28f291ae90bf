// The centre as a cluster: three central hosts on this machine, each in a network namespace of its own (site.name
// and data dir its own), sharing the Ganymede MySQL, the Swift inbox and feed store, and one MongoDB, all reached
// over the veth pairs. Six GEOs deliver two hours; every host ticks in a loop as cron would. One host is killed
// (kill -9, every process) mid-hour and stays down: the hour completes on the other two. One host's link is cut
// mid-step: its workers stop by themselves, the step is taken over after the lease grace, nothing is done twice.
// The warehouse then holds what the sources hold, and every file sent to Glassbeam is what its manifest says; and
// both are identical to a single-host run of the same deliveries (reference.ts), Ganymede's own records included.
// Without namespaces (not root) the hosts run on loopback as separate site dirs and only the cut is skipped.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import type { CliRun } from '../support/cli.js';
import { createNetns, namespacesUnavailable, type NetnsRig } from '../support/netns.js';
import { startSwift, type SwiftServer } from '../support/swift.js';
import { waitFor } from '../support/wait.js';
import { shown } from '../cycle/support.js';
import { assertWarehouseHoldsSource, bigTableStatements, sourceStatements } from '../pipeline-e2e/support.js';
import { makeHost, type ClusterHost } from './hosts.js';
import { assertSameFeed, assertSameWarehouse, centreSettings, startReference, startReferenceRun, type ReferenceRun, stepsSucceededTwice } from './reference.js';

const cycles = ['2026-08-03T10', '2026-08-03T11'];
const geoNames = ['north', 'south', 'east', 'west', 'upper', 'lower'];
const hostNames = ['centre-a', 'centre-b', 'centre-c'];
/** Bounds on waiting for the cluster's work, not assertions on its speed. */
const hourTimeoutMs = 300_000;
const takeOverTimeoutMs = 60_000;
const noNamespaces = namespacesUnavailable();
let server: SwiftServer;
let centre: Centre;
let reference: Centre;
let referenceRun: ReferenceRun | undefined;
let rig: NetnsRig | undefined;
let hosts: ClusterHost[] = [];
const delivered = new Set<string>();
/** Ticks that failed on a host nobody had disturbed at the time. */
const badTicks: string[] = [];
/** Until when each disturbed host's ticks may fail (Infinity while it is down or cut off). */
const disturbedUntil = new Map<string, number>();
/** Each host's last tick, for what a wait that gave up prints. */
const lastTicks = new Map<string, string>();
/** The host killed by the first test: it stays down, so the cut is made among the other two. */
let killed: ClusterHost | undefined;

before(async () => {
  server = await startSwift();
  centre = await startCentre({
    glassbeam: true,
    // Short leases, so that a cut-off host's step is taken over within seconds; not shorter, as a worker started on
    // a machine as busy as CI's (load 15 on 2 cores) takes seconds to renew the lease its tick took for it, and one
    // that misses it is expired as crashed: at 3 s, CI saw 48 such attempts and the hour ran out of them.
    settings: { ...centreSettings(server, 'centre-api'), 'centre.lease_ms': 10_000, 'centre.lease_grace_ms': 4000 },
    agentSettings: { 'agent.inbox': 'api' },
  });
  for (const [index, name] of geoNames.entries()) {
    await centre.addGeo(name, await centre.addSource(`cluster${index}`, [...sourceStatements(20 + index), ...bigTableStatements(13)]));
  }
  reference = await startReference(server, centre, geoNames);
  if (!noNamespaces) rig = createNetns(hostNames.length);
  hosts = await Promise.all(hostNames.map((name, index) => makeHost(centre, name, rig?.hosts[index])));
  await deliver(cycles[0]!);
  referenceRun = startReferenceRun(reference, geoNames, cycles);
});

after(async () => {
  referenceRun?.stop();
  await Promise.all(hosts.map((host) => host.stopTicking(true)));
  rig?.remove();
  if (!rig) for (const host of hosts) for (const pid of host.pids()) killNow(pid);
  await reference?.dispose();
  await centre?.dispose();
  await server?.stop();
});

/** Every GEO delivers the hour, all at once as their crons would. */
async function deliver(cycle: string): Promise<void> {
  await Promise.all(geoNames.map((name) => centre.geos.get(name)!.deliver(cycle)));
  delivered.add(cycle);
}

function onTick(host: string, tick: CliRun, startedAtMs: number): void {
  lastTicks.set(host, `${new Date(startedAtMs).toISOString()} ${shown(tick)}`.slice(0, 600));
  if (startedAtMs >= (disturbedUntil.get(host) ?? 0) && tick.code !== 0 && tick.code !== 10) badTicks.push(`${host}: ${shown(tick)}`);
}

async function rows(sql: string, params: unknown[] = []): Promise<mysql.RowDataPacket[]> {
  const [result] = await centre.db.query<mysql.RowDataPacket[]>(sql, params);
  return result;
}

/** `waitFor`, but one that gives up says what the cluster was doing: steps not done, cycles, hosts, each host's last tick. */
async function waitForCluster<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs: number, intervalMs: number): Promise<T> {
  try {
    return await waitFor(what, check, timeoutMs, intervalMs);
  } catch (error) {
    const left = await rows(
      `SELECT s.id, s.name, s.txn_id, s.state, s.attempts, s.lease_host, s.next_run_at, LEFT(s.last_error, 300) AS last_error FROM steps s WHERE s.state <> 'done' ORDER BY s.id`,
    );
    const cycles = await rows('SELECT cycle_start, state, missing_geos, error FROM cycles ORDER BY cycle_start');
    const attempts = await rows('SELECT host, outcome, COUNT(*) AS n FROM step_attempts GROUP BY host, outcome ORDER BY host, outcome');
    const hosts = await rows('SELECT * FROM hosts').catch(() => []);
    const ticks = [...lastTicks].map(([host, tick]) => `${host}: ${tick}`);
    throw new Error(
      `${(error as Error).message}\nsteps not done: ${JSON.stringify(left)}\ncycles: ${JSON.stringify(cycles)}\nattempts per host: ${JSON.stringify(attempts)}\nhosts: ${JSON.stringify(hosts)}\nlast ticks:\n${ticks.join('\n')}\nbad ticks: ${badTicks.join('\n')}`,
    );
  }
}

/** Waits for the hour to be sent; past the bound, fails with what is left. */
const waitForHourSent = (cycle: string) => waitForCluster(`hour ${cycle} to be sent`, () => hourSent(cycle), hourTimeoutMs, 500);

/** The first of `candidates` found with a step under way that its worker has begun (see runningOn). */
async function caughtMidStep(candidates: ClusterHost[], intervalMs: number): Promise<{ host: ClusterHost; attempt: NonNullable<Awaited<ReturnType<typeof runningOn>>> }> {
  return waitForCluster(`a step under way on ${candidates.map((host) => host.name).join(' or ')}`, async () => {
    for (const host of candidates) {
      const attempt = await runningOn(host.name, true);
      if (attempt) return { host, attempt };
    }
    return undefined;
  }, hourTimeoutMs, intervalMs);
}

async function hourSent(cycle: string): Promise<boolean> {
  const [row] = await rows(
    `SELECT (SELECT COUNT(*) FROM cycles WHERE cycle_start = ? AND state = 'sent') AS sent,
            (SELECT COUNT(*) FROM transactions t WHERE t.cycle_start = ? AND t.state <> 'done') AS open`,
    [`${cycle.replace('T', ' ')}:00:00`, `${cycle.replace('T', ' ')}:00:00`],
  );
  return Number(row!.sent) === 1 && Number(row!.open) === 0;
}

/** A step attempt running on `host` right now; with `started`, only once its worker logged that it began the work. */
async function runningOn(host: string, started = false): Promise<{ id: number; stepId: number; pid: number; txnId: number | null; step: string } | undefined> {
  const [row] = await rows(
    `SELECT a.id, a.step_id, a.attempt, a.pid, a.log_path, s.txn_id, s.name FROM step_attempts a JOIN steps s ON s.id = a.step_id
      WHERE a.host = ? AND a.outcome = 'running' AND a.pid IS NOT NULL ORDER BY a.id DESC LIMIT 1`,
    [host],
  );
  if (!row) return undefined;
  // A worker only just launched has not reached MySQL yet: cut then, it merely fails to start.
  if (started && !(row.log_path && existsSync(row.log_path) && readFileSync(row.log_path, 'utf8').includes(`worker ${row.name}: started (attempt ${row.attempt})`))) return undefined;
  return { id: Number(row.id), stepId: Number(row.step_id), pid: Number(row.pid), txnId: row.txn_id === null ? null : Number(row.txn_id), step: String(row.name) };
}

const outcomeOf = async (attemptId: number) => String((await rows('SELECT outcome FROM step_attempts WHERE id = ?', [attemptId]))[0]!.outcome);
function processAlive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** SIGKILL, for a process that may have exited since it was listed. */
function killNow(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

test('kill -9 of every process of one host mid-hour: the hour completes on the other two', async () => {
  for (const host of hosts) host.startTicking(onTick);
  // Whichever host is caught first: which one wins the claims is up to the race of their ticks.
  const { host: victim, attempt: caught } = await caughtMidStep(hosts, 50);
  killed = victim;
  disturbedUntil.set(victim.name, Infinity);
  const stopped = victim.stopTicking(true);
  const pids = victim.pids();
  assert.ok(pids.includes(caught.pid), `${victim.name}'s worker ${caught.pid} is among its processes ${pids.join(' ')}`);
  for (const pid of pids) killNow(pid);
  await stopped;
  await waitFor(`every process of ${victim.name} to be gone`, () => victim.pids().length === 0, 60_000);
  const lastId = Number((await rows('SELECT COALESCE(MAX(id), 0) AS lastId FROM step_attempts'))[0]!.lastId);

  await waitForHourSent(cycles[0]!);
  assert.equal(await outcomeOf(caught.id), 'crashed', `the killed ${caught.step} attempt was expired as crashed`);
  const later = await rows('SELECT DISTINCT host FROM step_attempts WHERE id > ?', [lastId]);
  assert.ok(!later.some((row) => row.host === victim.name), `${victim.name} ran nothing after it was killed`);
  assert.deepEqual(badTicks, [], 'no tick failed on the hosts left running');
});

test('a host cut off from MySQL mid-step: its worker stops itself, the step is taken over after the grace and done once', { skip: noNamespaces && `the cut-link case needs network namespaces (${noNamespaces})` }, async () => {
  const up = hosts.filter((host) => host !== killed);
  await deliver(cycles[1]!);
  // Cut a host while a step is under way there; if it ended in the instant before the cut, let the link back and catch the next.
  let caught: Awaited<ReturnType<typeof caughtMidStep>> | undefined;
  for (let tries = 0; !caught; tries++) {
    assert.ok(tries < 10, `no step could be cut mid-way in 10 tries`);
    const candidate = await caughtMidStep(up, 20);
    disturbedUntil.set(candidate.host.name, Infinity);
    candidate.host.namespace!.cut();
    if ((await outcomeOf(candidate.attempt.id)) === 'running' && processAlive(candidate.attempt.pid)) caught = candidate;
    else (candidate.host.namespace!.restore(), disturbedUntil.set(candidate.host.name, Date.now()));
  }
  const { host: cutOff, attempt: cut } = caught;
  const survivor = up.find((host) => host !== cutOff)!;
  await waitFor(`${cutOff.name}'s ${cut.step} worker (pid ${cut.pid}) to stop by itself`, () => !processAlive(cut.pid), takeOverTimeoutMs, 100);
  const said = readFileSync(String((await rows('SELECT log_path FROM step_attempts WHERE id = ?', [cut.id]))[0]!.log_path), 'utf8');
  assert.match(said, new RegExp(`${cut.step} of [^\\n]*: stopped, as its lease could not be renewed for \\d+ ms \\(the Ganymede MySQL is unreachable from ${cutOff.name}\\)`));
  await waitFor(`the cut ${cut.step} to be taken over`, async () => (await outcomeOf(cut.id)) === 'crashed', takeOverTimeoutMs, 200);
  const step = await waitFor(`the cut ${cut.step} to be done`, async () => {
    const [row] = await rows('SELECT state FROM steps WHERE id = ?', [cut.stepId]);
    return row!.state === 'done' && row;
  }, hourTimeoutMs, 200);
  assert.equal(step.state, 'done');
  const attempts = await rows('SELECT host, outcome FROM step_attempts WHERE step_id = ? ORDER BY attempt', [cut.stepId]);
  assert.deepEqual(attempts.filter((row) => row.outcome === 'succeeded').map((row) => row.host), [survivor.name], `the ${cut.step} was done once, by ${survivor.name}`);
  cutOff.namespace!.restore();
  disturbedUntil.set(cutOff.name, Date.now());
});

test('every hour completes: the warehouse holds the sources, no step succeeded twice, every sent file is as its manifest says', async () => {
  if (!delivered.has(cycles[1]!)) await deliver(cycles[1]!);
  for (const cycle of cycles) await waitForHourSent(cycle);
  await Promise.all(hosts.map((host) => host.stopTicking()));
  assert.deepEqual(badTicks, [], 'no tick failed on a host that was up');
  assert.deepEqual(await rows("SELECT id, name, state FROM steps WHERE state <> 'done'"), [], 'every step is done');
  assert.deepEqual(await stepsSucceededTwice(centre), [], 'no step has two succeeded attempts');
  const ran = new Set((await rows("SELECT DISTINCT host FROM step_attempts WHERE outcome = 'succeeded'")).map((row) => String(row.host)));
  assert.ok(hostNames.filter((name) => ran.has(name)).length >= 2, `work was spread over the hosts: ${[...ran].join(', ')}`);

  const warehouse = await centre.warehouse();
  for (const name of geoNames) await assertWarehouseHoldsSource(warehouse, name, centre.geos.get(name)!.sourceDatabase);
  for (const cycle of cycles) {
    const manifest = JSON.parse(readFileSync(centre.glassbeam!.localPath(`${cycle}/manifest.json`), 'utf8')) as { geos: string[]; files: Array<{ name: string; bytes: number; sha256: string }> };
    assert.deepEqual(manifest.geos, [...geoNames].sort(), `hour ${cycle}: the manifest names every GEO`);
    assert.ok(manifest.files.length > 0);
    for (const file of manifest.files) {
      const sent = readFileSync(centre.glassbeam!.localPath(`${cycle}/${file.name}`));
      assert.deepEqual([sent.length, createHash('sha256').update(sent).digest('hex')], [file.bytes, file.sha256], `${cycle}/${file.name}: as its manifest says`);
    }
  }
});

test('the warehouse and every file sent are identical to a single-host run of the same deliveries; no step of either succeeded twice', async () => {
  for (const cycle of cycles) assert.ok(await hourSent(cycle), `the cluster sent hour ${cycle}`);
  await referenceRun!.done;
  assert.deepEqual(await stepsSucceededTwice(reference), [], 'no step of the one host has two succeeded attempts');
  assert.deepEqual(await stepsSucceededTwice(centre), [], 'no step of the cluster has two succeeded attempts');
  await assertSameWarehouse(await centre.warehouse(), await reference.warehouse());
  assertSameFeed(centre.glassbeam!, reference.glassbeam!, cycles);
});
