// Fencing: a run of a GEO's collection that another run has taken over (a newer cycle, or the same cycle
// retried after this run's lease was lost) writes nothing from then on. The first run is held between
// two batches (in its checkpoint) while the second runs from start to end; then the first goes on.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Db } from 'mongodb';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { baseStatements, cycle1, cycle2, cycle3, docsById, dumpWarehouse, etl, openRig, type Rig } from './fixture.js';

let rig: Rig;
let first: string;
let raised100: string;
let raised200: string;
// Account 1 changes in the first batch (7 rows), accounts 20-30 only in later ones.
const raise = (amount: number) => `UPDATE accounts SET balance = balance + ${amount} WHERE id = 1 OR id >= 20`;

before(async () => {
  rig = await openRig();
  first = await rig.createSchema('whfence1', baseStatements());
  raised100 = await rig.createSchema('whfence2', [...baseStatements(), raise(100)]);
  raised200 = await rig.createSchema('whfence3', [...baseStatements(), raise(200)]);
});
after(async () => {
  await rig?.close();
});

/**
 * Runs `older` until it has written its first batch of accounts, runs `newer` to the end right there,
 * then lets `older` go on. Returns the warehouse as `newer` left it and what `older` ended with.
 */
async function overtake(db: Db, older: { schema: string; cycle: Date }, newer: { schema: string; cycle: Date }) {
  let afterNewer: Record<string, string[]> | undefined;
  const outcome = await etl(db, older.schema, older.cycle, {
    checkpoint: async (point) => {
      if (afterNewer || point.collection !== 'accounts' || point.phase !== 'written') return;
      await etl(db, newer.schema, newer.cycle);
      afterNewer = await dumpWarehouse(db);
    },
  }).then(() => undefined, (error: unknown) => error);
  assert.ok(afterNewer, 'the newer run ran between two batches of the older one');
  return { afterNewer, outcome };
}

function fenced(error: unknown, pattern: RegExp): void {
  assert.ok(error instanceof GanymedeError, `the older run did not stop: ${String(error)}`);
  assert.equal(error.exitCode, ExitCode.alreadyRunning);
  assert.ok(!error.message.includes('\n'));
  assert.match(error.message, pattern);
}

test('a newer cycle claiming the collection between two batches: the older run writes nothing more', async () => {
  const db = rig.freshDb('fence-newer');
  await etl(db, first, cycle1);
  // Cycle 3 has cycle 1's content again: it finds accounts 20-30 unchanged and leaves them alone.
  const { afterNewer, outcome } = await overtake(db, { schema: raised100, cycle: cycle2 }, { schema: first, cycle: cycle3 });
  assert.deepEqual(await dumpWarehouse(db), afterNewer, 'the older run wrote after the newer one had claimed the collection');
  fenced(outcome, /^g1:accounts: another run of cycle 2026-03-01T12 \(done\) took this collection over while this run of cycle 2026-03-01T11 was writing it/);
  const accounts = await docsById(db, 'accounts');
  assert.equal(String(accounts.get('g1:20')!.balance), '194.75', 'account 20 holds the newest cycle\'s balance');
  assert.equal(await db.collection('_ganymede_changes').countDocuments({ cycle: cycle2, docId: 'g1:20' }), 0);
});

test('the same cycle taken over by another run (a retry after a lost lease): the first run writes nothing more', async () => {
  const db = rig.freshDb('fence-same');
  await etl(db, first, cycle1);
  const { afterNewer, outcome } = await overtake(db, { schema: raised100, cycle: cycle2 }, { schema: raised200, cycle: cycle2 });
  assert.deepEqual(await dumpWarehouse(db), afterNewer, 'the first run wrote after the second had taken the collection over');
  fenced(outcome, /^g1:accounts: another run of cycle 2026-03-01T11 \(done\) took this collection over while this run of cycle 2026-03-01T11 was writing it/);
  assert.equal(String((await docsById(db, 'accounts')).get('g1:20')!.balance), '394.75');
});

test('a re-run of a cycle already done takes the claim only when it has something to write', async () => {
  const db = rig.freshDb('fence-rerun');
  await etl(db, first, cycle1);
  const steady = await etl(db, first, cycle1);
  assert.equal(steady.writeOps, 0);
  await db.collection('accounts').deleteOne({ _id: 'g1:7' } as never);
  const repair = await etl(db, first, cycle1);
  const accounts = repair.collections.find((c) => c.name === 'accounts')!;
  assert.equal(accounts.inserted, 1);
  // The claim, the change-log entry (already there), the insert, the finish.
  assert.equal(accounts.writeOps, 4);
  const record = await db.collection('_ganymede_etl').findOne({ _id: 'g1:accounts' } as never);
  assert.equal(record?.state, 'done');
  assert.equal(record?.token, undefined);
});
