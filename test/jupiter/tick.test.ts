// The scheduler against the real MariaDB: exactly-once claims under concurrent ticks, worker limits,
// lease expiry with a grace window, retries with backoff, and the operator's retry and cancel.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type mysql from 'mysql2/promise';
import { testCentre } from '../support/ganymede.js';
import { deliveredTransactions, stepStates } from '../support/steps.js';
import { openStateDb } from '../../src/state/db.js';
import { tick, type Launcher } from '../../src/commands/jupiter/tick.js';
import type { Claim } from '../../src/state/step-claims.js';
import { renewLease } from '../../src/state/step-leases.js';
import { cancelTxnSteps, finishStep, retryFailedTxn } from '../../src/state/step-outcomes.js';
import { getTransaction } from '../../src/state/transactions.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function centre(settings: Record<string, string | number | boolean> = {}) {
  const made = await testCentre('tick', { 'logging.level': 'error', 'centre.max_workers': 200, 'site.data_dir': '/tmp/gmd-tick-test', ...settings });
  const db = await openStateDb(made.loaded);
  cleanups.push(async () => {
    await db.end();
    await made.dispose();
  });
  return { ...made, db };
}

function recordingLauncher(): { launch: Launcher; claims: Claim[] } {
  const claims: Claim[] = [];
  return { claims, launch: (claim) => (claims.push(claim), { pid: undefined }) };
}

test('16 ticks started at once, over many rounds, launch each step (of transactions and cycles) exactly once', async () => {
  const { loaded, db } = await centre();
  const txnIds = await deliveredTransactions(db, 6, 5);
  const launched = new Map<string, number>();
  const ticks = await Promise.all(Array.from({ length: 16 }, () => openStateDb(loaded)));
  cleanups.push(async () => void (await Promise.all(ticks.map((pool) => pool.end()))));
  // Until a round launches nothing: a GEO's hours go through etl one at a time, and a GEO's next etl waits
  // while the feed of an hour it is in is due, so the steps take more rounds than there are steps per hour.
  for (let round = 0, claimed = Infinity; claimed > 0; round++) {
    assert.ok(round < 40, 'the work is done within 40 rounds');
    const { launch, claims } = recordingLauncher();
    await Promise.all(ticks.map((pool) => tick({ loaded, db: pool, launch })));
    claimed = claims.length;
    for (const claim of claims) {
      const key = `${claim.txnId ?? claim.cycleStart.toISOString()}:${claim.name}`;
      launched.set(key, (launched.get(key) ?? 0) + 1);
      // The "worker" succeeds at once, so the next round has the next step due.
      assert.equal(await finishStep(db, claim.stepId, claim.leaseToken, { rows: 1 }), true);
    }
  }
  const duplicates = [...launched].filter(([, count]) => count !== 1);
  assert.deepEqual(duplicates, [], 'no step was launched twice');
  assert.equal(launched.size, txnIds.length * 4 + 5 * 2, 'decrypt, load, etl and clean of every transaction, feed and send of every hour');
  for (const id of txnIds) assert.equal((await getTransaction(db, id))!.state, 'done');
});

test('the global and per-step worker limits hold, and the oldest cycle goes first', async () => {
  const { loaded, db } = await centre({ 'centre.max_workers': 3, 'centre.max_workers_per_step': JSON.stringify({ decrypt: 2 }) });
  const txnIds = await deliveredTransactions(db, 2, 3);
  const first = recordingLauncher();
  await Promise.all([tick({ loaded, db, launch: first.launch }), tick({ loaded, db, launch: first.launch })]);
  assert.equal(first.claims.length, 2, 'decrypt is capped at two at once');
  const [oldest] = [...txnIds].sort((a, b) => a - b);
  const cycles = first.claims.map((claim) => claim.cycleStart.toISOString());
  assert.ok(cycles.every((cycle) => cycle === '2026-01-01T00:00:00.000Z'), `oldest cycle first, got ${cycles.join(', ')}`);
  assert.ok(first.claims.some((claim) => claim.txnId === oldest));
  await finishStep(db, first.claims[0]!.stepId, first.claims[0]!.leaseToken, {});
  const second = recordingLauncher();
  await tick({ loaded, db, launch: second.launch });
  assert.deepEqual(second.claims.map((claim) => claim.name).sort(), ['decrypt', 'load'], 'one slot for the freed decrypt, one for the new load: 3 in all');
});

test('an expired lease is a crashed attempt retried with backoff; within the grace window a late finish still counts', async () => {
  const { loaded, db } = await centre({ 'centre.lease_ms': 1000, 'centre.lease_grace_ms': 1500, 'centre.retry_base_ms': 200, 'centre.max_attempts': 2 });
  const [txnId] = await deliveredTransactions(db, 1, 2);
  const { launch, claims } = recordingLauncher();
  await tick({ loaded, db, launch });
  assert.equal(claims.length, 2);
  const [crashing, late] = claims as [Claim, Claim];
  await new Promise((resolve) => setTimeout(resolve, 1300));
  // Lease over, but within grace: nothing is expired, and the late worker's finish is accepted.
  const early = await tick({ loaded, db, launch: recordingLauncher().launch });
  assert.deepEqual(early.expired, []);
  assert.equal(await finishStep(db, late.stepId, late.leaseToken, {}), true);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const after = await tick({ loaded, db, launch: recordingLauncher().launch });
  assert.equal(after.expired.length, 1);
  assert.equal(after.expired[0]!.outcome, 'retry');
  assert.match(after.expired[0]!.reason, /stopped renewing its lease/);
  assert.equal(await renewLease(db, crashing.stepId, crashing.leaseToken, 1, 1000), false, 'the crashed worker has lost its lease');
  assert.equal(await finishStep(db, crashing.stepId, crashing.leaseToken, {}), false, 'and cannot finish the step any more');
  const [attempts] = await db.query<mysql.RowDataPacket[]>('SELECT outcome, error FROM step_attempts WHERE step_id = ?', [crashing.stepId]);
  assert.equal(attempts[0]!.outcome, 'crashed');

  // The retry comes due after its backoff; crashing again uses the last attempt: the transaction fails, saying why.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const retry = recordingLauncher();
  await tick({ loaded, db, launch: retry.launch });
  assert.equal(retry.claims.filter((claim) => claim.stepId === crashing.stepId).length, 1);
  await new Promise((resolve) => setTimeout(resolve, 2700));
  const final = await tick({ loaded, db, launch: recordingLauncher().launch });
  assert.equal(final.expired.find((item) => item.txnId === crashing.txnId)?.outcome, 'failed');
  const failed = (await getTransaction(db, crashing.txnId!))!;
  assert.equal(failed.state, 'failed');
  assert.match(failed.error ?? '', /decrypt failed 2 times; last: worker decrypt .* stopped renewing its lease/);
  void txnId;

  // txn retry: the failed step is due again with a fresh count; txn cancel stops everything.
  assert.ok(await retryFailedTxn(db, crashing.txnId!));
  assert.equal((await getTransaction(db, crashing.txnId!))!.state, 'processing');
  const again = recordingLauncher();
  await tick({ loaded, db, launch: again.launch });
  const reclaimed = again.claims.find((claim) => claim.txnId === crashing.txnId)!;
  assert.equal(reclaimed.name, 'decrypt');
  assert.ok(await cancelTxnSteps(db, crashing.txnId!) >= 1);
  assert.equal((await getTransaction(db, crashing.txnId!))!.state, 'cancelled');
  assert.equal(await renewLease(db, reclaimed.stepId, reclaimed.leaseToken, 1, 1000), false, 'a cancelled step\'s worker loses its lease');
  assert.ok((await stepStates(db)).filter((step) => step.txn_id === crashing.txnId).every((step) => step.state !== 'pending' && step.state !== 'running'));
});

test('--dry-run claims nothing', async () => {
  const { loaded, db } = await centre();
  await deliveredTransactions(db, 1, 2);
  const result = await tick({ loaded, db, dryRun: true, launch: () => assert.fail('a dry run launched a worker') });
  assert.equal(result.launched.length, 2);
  assert.ok((await stepStates(db)).every((step) => step.state === 'pending' && step.attempts === 0));
});
