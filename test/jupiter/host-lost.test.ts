// Two central hosts on one Ganymede database. A step whose worker went silent together with its whole host (no
// heartbeat since the lease's last renewal) is retried on another host without using up one of its attempts;
// a worker that crashed on a host that goes on ticking uses its attempt as before. centre.max_workers is each
// host's own; a step's cap (max_workers_per_step) is the centre's.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type mysql from 'mysql2/promise';
import type { LoadedConfig } from '../../src/config/load.js';
import { testCentre } from '../support/ganymede.js';
import { deliveredTransactions } from '../support/steps.js';
import { openStateDb, type Db } from '../../src/state/db.js';
import { tick, type Launcher } from '../../src/commands/jupiter/tick.js';
import type { Claim } from '../../src/state/step-claims.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Two central hosts on one Ganymede database; a step may be tried once. */
async function twoHosts(): Promise<{ db: Db; hostA: LoadedConfig; hostB: LoadedConfig }> {
  const made = await testCentre('hostlost', { 'logging.level': 'error', 'site.name': 'host-a', 'centre.lease_ms': 1000, 'centre.lease_grace_ms': 500, 'centre.max_attempts': 1, 'centre.retry_base_ms': 100 });
  const db = await openStateDb(made.loaded);
  cleanups.push(async () => {
    await db.end();
    await made.dispose();
  });
  const hostB = { ...made.loaded, config: { ...made.loaded.config, site: { ...made.loaded.config.site, name: 'host-b' } } };
  return { db, hostA: made.loaded, hostB };
}

const launcher = (): { launch: Launcher; claims: Claim[] } => {
  const claims: Claim[] = [];
  return { claims, launch: (claim) => (claims.push(claim), { pid: undefined }) };
};

async function stepOf(db: Db, stepId: number): Promise<{ state: string; attempts: number; error: string }> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT s.state, s.attempts, a.error FROM steps s JOIN step_attempts a ON a.step_id = s.id WHERE s.id = ? ORDER BY a.attempt DESC LIMIT 1', [stepId]);
  return { state: rows[0]!.state, attempts: Number(rows[0]!.attempts), error: String(rows[0]!.error) };
}

test('a worker lost with its host is retried on another host without using up its only attempt', async () => {
  const { db, hostA, hostB } = await twoHosts();
  await deliveredTransactions(db, 1, 1);
  const onA = launcher();
  await tick({ loaded: hostA, db, launch: onA.launch });
  const [claim] = onA.claims as [Claim];
  // Host A dies: neither its worker nor its cron ticks again. Host B ticks past the lease and its grace.
  await new Promise((resolve) => setTimeout(resolve, 1800));
  const onB = launcher();
  const ticked = await tick({ loaded: hostB, db, launch: onB.launch });
  assert.equal(ticked.expired[0]?.outcome, 'retry');
  const step = await stepOf(db, claim.stepId);
  assert.match(step.error, /on host-a .*its host went silent \(no heartbeat since .*\): the attempt does not count/);
  assert.equal(step.attempts, 0, 'the attempt was given back');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const retried = launcher();
  await tick({ loaded: hostB, db, launch: retried.launch });
  assert.deepEqual(retried.claims.map((again) => again.stepId), [claim.stepId], 'host B takes the step over');
});

test('a worker that crashed on a host still ticking uses its attempt: with one allowed, the step fails', async () => {
  const { db, hostA } = await twoHosts();
  await deliveredTransactions(db, 1, 1);
  const onA = launcher();
  await tick({ loaded: hostA, db, launch: onA.launch });
  const [claim] = onA.claims as [Claim];
  await new Promise((resolve) => setTimeout(resolve, 1800));
  // Host A is alive (its tick beats first) and finds its own worker's lease expired.
  const ticked = await tick({ loaded: hostA, db, launch: launcher().launch });
  assert.equal(ticked.expired[0]?.outcome, 'failed');
  const step = await stepOf(db, claim.stepId);
  assert.match(step.error, /stopped renewing its lease \(killed, out of memory, or its host went down\)/);
  assert.equal(step.state, 'failed');
});

test("max_workers is each host's: with 1 each, two hosts run two workers; a step's cap still counts every host", async () => {
  const { db, hostA, hostB } = await twoHosts();
  await deliveredTransactions(db, 3, 1);
  const one = (loaded: LoadedConfig, perStep: Record<string, number> = {}) => ({
    ...loaded,
    config: { ...loaded.config, centre: { ...loaded.config.centre, max_workers: 1, max_workers_per_step: perStep } },
  });
  const onA = launcher();
  await tick({ loaded: one(hostA), db, launch: onA.launch });
  const again = launcher();
  await tick({ loaded: one(hostA), db, launch: again.launch });
  assert.deepEqual([onA.claims.length, again.claims.length], [1, 0], 'host A runs one at a time');
  const capped = launcher();
  await tick({ loaded: one(hostB, { decrypt: 1 }), db, launch: capped.launch });
  assert.equal(capped.claims.length, 0, "host A's decrypt counts against the centre's cap of one decrypt");
  const onB = launcher();
  await tick({ loaded: one(hostB), db, launch: onB.launch });
  assert.equal(onB.claims.length, 1, 'host B runs its own one beside it (it claimed none before: the limit was the centre\'s)');
});

test('a host cut off mid-transaction holds its locks only as long as the idle bound: another host then takes its step over', async () => {
  const { db, hostA, hostB } = await twoHosts();
  await deliveredTransactions(db, 1, 1);
  const onA = launcher();
  await tick({ loaded: hostA, db, launch: onA.launch });
  const [claim] = onA.claims as [Claim];
  // Host A's session stops mid-transaction holding the step's row (a pulled cable: the server hears nothing more).
  const cutOff = await openStateDb(hostA);
  cleanups.push(() => cutOff.end().catch(() => undefined));
  const frozen = await cutOff.getConnection();
  frozen.on('error', () => undefined);
  await frozen.beginTransaction();
  await frozen.query('SELECT id FROM steps WHERE id = ? FOR UPDATE', [claim.stepId]);
  await new Promise((resolve) => setTimeout(resolve, 1800));
  // Host B's expiry waits on that row; without the bound it would wait out innodb_lock_wait_timeout and fail its tick.
  const onB = launcher();
  const ticked = await tick({ loaded: hostB, db, launch: onB.launch });
  assert.deepEqual(ticked.expired.map((expired) => [expired.step, expired.txnId]), [[claim.name, claim.txnId]], "host B expired host A's lease");
  assert.equal((await stepOf(db, claim.stepId)).state, 'pending', 'the step is due again, for any host');
});
