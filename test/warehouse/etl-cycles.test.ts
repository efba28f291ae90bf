// runEtl across cycles: idempotent re-runs, exactly the writes a changed cycle needs and its change log,
// a late older cycle that changes nothing, and a retry after a crash at every checkpoint converging on
// the warehouse of an uninterrupted run.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Db } from 'mongodb';
import { baseStatements, cycle1, cycle2, cycle2Changes, docsById, dumpWarehouse, etl, openRig, type Rig } from './fixture.js';
import type { EtlCheckpoint, EtlOptions } from '../../src/warehouse/index.js';

let rig: Rig;
let first: string;
let second: string;
const mappings = [{ table: 'accounts', nest: [{ field: 'instances', table: 'instances', on: { account_id: 'id' } }] }];

before(async () => {
  rig = await openRig();
  first = await rig.createSchema('whcyc1', baseStatements());
  second = await rig.createSchema('whcyc2', [...baseStatements(), ...cycle2Changes]);
});
after(async () => {
  await rig?.close();
});

function summary(result: Awaited<ReturnType<typeof etl>>) {
  return Object.fromEntries(result.collections
    .filter((c) => c.inserted + c.updated + c.removed > 0)
    .map((c) => [c.name, { inserted: c.inserted, updated: c.updated, removed: c.removed }]));
}

describe('cycles', () => {
  test('running the same transaction twice writes nothing the second time', async () => {
    const db = rig.freshDb('twice');
    const firstRun = await etl(db, first, cycle1);
    const before = await dumpWarehouse(db);
    const again = await etl(db, first, cycle1);
    assert.equal(again.writeOps, 0);
    assert.equal(again.documentsWritten, 0);
    assert.equal(again.read, firstRun.read);
    assert.ok(again.collections.every((c) => c.unchanged === c.read));
    assert.deepEqual(await dumpWarehouse(db), before);
    // Not even the progress records' timestamps moved.
    const progress = await db.collection('_ganymede_etl').find({}).sort({ _id: 1 }).toArray();
    assert.ok(progress.every((p) => p.state === 'done'));
  });

  test('a cycle with a few changes writes exactly those, and logs created/updated/removed', async () => {
    const db = rig.freshDb('changes');
    const load = await etl(db, first, cycle1);
    const next = await etl(db, second, cycle2);
    assert.deepEqual(summary(next), {
      accounts: { inserted: 1, updated: 2, removed: 0 },
      instances: { inserted: 0, updated: 0, removed: 1 },
      audit: { inserted: 0, updated: 0, removed: 1 },
    });
    assert.equal(next.documentsWritten, 5);
    // 5 state writes, 5 change-log entries, and a claim and a finish per collection.
    assert.equal(next.writeOps, 5 + 5 + 2 * next.collections.length);
    assert.ok(next.writeOps <= 0.2 * load.writeOps);

    const changes = await db.collection('_ganymede_changes').find({ cycle: cycle2 }).toArray();
    const entries = changes.map((c) => `${c.collection} ${c.docId} ${c.op}${c.fields ? ` ${(c.fields as string[]).join(',')}` : ''}`).sort();
    const auditRemoved = entries.find((e) => e.startsWith('audit'))!;
    assert.match(auditRemoved, /^audit g1:[\w-]{22}:3 removed$/, 'the last occurrence of the duplicate goes');
    assert.deepEqual(entries.filter((e) => !e.startsWith('audit')), [
      'accounts g1:3 updated balance',
      'accounts g1:31 created',
      'accounts g1:4 updated balance',
      'instances g1:45 removed',
    ]);
    const accounts = await docsById(db, 'accounts');
    assert.equal(String(accounts.get('g1:3')!.balance), '21.50');
    assert.deepEqual((accounts.get('g1:3')!._meta as { cycle: Date }).cycle, cycle2);
    assert.deepEqual((accounts.get('g1:5')!._meta as { cycle: Date }).cycle, cycle1, 'unchanged documents keep their cycle');
    assert.equal((await docsById(db, 'instances')).has('g1:45'), false);
  });

  test('batches of 3 give the same cycle: what the source lost is found and removed batch by batch', async () => {
    const small = { batchSize: 3 };
    const reference = rig.freshDb('batch-reference');
    await etl(reference, first, cycle1);
    await etl(reference, second, cycle2);
    const db = rig.freshDb('batch-small');
    await etl(db, first, cycle1, small);
    const next = await etl(db, second, cycle2, small);
    assert.deepEqual(summary(next), {
      accounts: { inserted: 1, updated: 2, removed: 0 },
      instances: { inserted: 0, updated: 0, removed: 1 },
      audit: { inserted: 0, updated: 0, removed: 1 },
    });
    assert.deepEqual(await dumpWarehouse(db), await dumpWarehouse(reference));
  });

  test('a late, older cycle after a newer one changes nothing', async () => {
    const db = rig.freshDb('late');
    await etl(db, second, cycle2);
    const before = await dumpWarehouse(db);
    const lines: string[] = [];
    const late = await etl(db, first, cycle1, { log: (line) => lines.push(line) });
    assert.equal(late.writeOps, 0);
    assert.ok(late.collections.every((c) => c.skipped?.startsWith('cycle 2026-03-01T11 is already applied')));
    assert.ok(lines.some((line) => line.startsWith('accounts: skipped, cycle 2026-03-01T11 is already applied')));
    assert.deepEqual(await dumpWarehouse(db), before);
  });

  test('other GEOs are neither touched nor removed', async () => {
    const db = rig.freshDb('geos');
    await etl(db, first, cycle1);
    await etl(db, second, cycle1, { geo: 'g2' });
    const g2 = await etl(db, first, cycle2, { geo: 'g2' });
    assert.deepEqual(summary(g2), {
      accounts: { inserted: 0, updated: 2, removed: 1 },
      instances: { inserted: 1, updated: 0, removed: 0 },
      audit: { inserted: 1, updated: 0, removed: 0 },
    });
    assert.equal(await db.collection('accounts').countDocuments({ geo: 'g1' }), 30);
    assert.equal(await db.collection('accounts').countDocuments({ geo: 'g2' }), 30);
  });
});

describe('a crash at any checkpoint', () => {
  async function reference(steps: { schema: string; cycle: Date }[], options: Partial<EtlOptions>): Promise<Record<string, string[]>> {
    const db = rig.freshDb('reference');
    for (const step of steps) await etl(db, step.schema, step.cycle, options);
    return dumpWarehouse(db);
  }

  /** Runs `steps`, crashing the last one at checkpoint `crashAt`, then retries it. */
  async function crashAndRetry(db: Db, steps: { schema: string; cycle: Date }[], crashAt: number, options: Partial<EtlOptions>): Promise<EtlCheckpoint | undefined> {
    for (const step of steps.slice(0, -1)) await etl(db, step.schema, step.cycle, options);
    const last = steps.at(-1)!;
    let seen = 0;
    let crashedAt: EtlCheckpoint | undefined;
    const checkpoint = (point: EtlCheckpoint) => {
      if (++seen === crashAt) {
        crashedAt = point;
        throw new Error('injected crash');
      }
    };
    await etl(db, last.schema, last.cycle, { ...options, checkpoint }).catch((error: Error) => {
      if (error.message !== 'injected crash') throw error;
    });
    await etl(db, last.schema, last.cycle, options);
    return crashedAt;
  }

  async function checkpointsOf(steps: { schema: string; cycle: Date }[], options: Partial<EtlOptions>): Promise<number> {
    const db = rig.freshDb('count');
    for (const step of steps.slice(0, -1)) await etl(db, step.schema, step.cycle, options);
    let count = 0;
    await etl(db, steps.at(-1)!.schema, steps.at(-1)!.cycle, { ...options, checkpoint: () => void count++ });
    return count;
  }

  for (const [label, steps, options] of [
    ['the first load', [{ get schema() { return first; }, cycle: cycle1 }], { batchSize: 20 }],
    ['a changed cycle', [{ get schema() { return first; }, cycle: cycle1 }, { get schema() { return second; }, cycle: cycle2 }], { batchSize: 7 }],
    ['a changed cycle with nesting', [{ get schema() { return first; }, cycle: cycle1 }, { get schema() { return second; }, cycle: cycle2 }], { batchSize: 7, mappings }],
  ] as const) {
    test(`${label}: the retry converges on the uninterrupted warehouse`, async () => {
      const expected = await reference([...steps], options);
      const points = await checkpointsOf([...steps], options);
      assert.ok(points >= 4, `${points} checkpoints`);
      for (let crashAt = 1; crashAt <= points; crashAt++) {
        const db = rig.freshDb(`crash${crashAt}`);
        const crashed = await crashAndRetry(db, [...steps], crashAt, options);
        assert.ok(crashed, `crash ${crashAt} happened`);
        assert.deepEqual(await dumpWarehouse(db), expected, `crash at checkpoint ${crashAt} (${crashed.collection} ${crashed.phase})`);
        await db.dropDatabase();
      }
    });
  }
});
