// The change log keeps what changed: an updated entry holds the old and new value of each changed field,
// a value over 1 KiB as a marker with its size and digest, at most 64 KiB of whole values per entry, and
// every new entry says `fedIn: null`. A retry leaves an entry already logged as it is.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Db } from 'mongodb';
import { cycle1, cycle2, etl, openRig, type Rig } from './fixture.js';
import { grownNotes, historySchemas, loadHistory, wideColumns, wideNew, wideOld, type HistorySchemas } from './lookup-fixture.js';
import { canonicalText } from '../../src/warehouse/hash.js';
import type { EtlCheckpoint } from '../../src/warehouse/index.js';

let rig: Rig;
let schemas: HistorySchemas;
let db: Db;

before(async () => {
  rig = await openRig();
  schemas = await historySchemas(rig);
  db = rig.freshDb('values');
  await loadHistory(db, schemas);
});
after(async () => {
  await rig?.close();
});

type Values = Record<string, { old?: unknown; new?: unknown }>;
const marker = (text: string) => ({ _ganymede_truncated: { bytes: Buffer.byteLength(canonicalText(text)), sha256: createHash('sha256').update(canonicalText(text)).digest('hex') } });
const entry = (docId: string, collection = 'items') => db.collection('_ganymede_changes').findOne({ geo: 'g1', collection, cycle: cycle2, docId });

describe('the values of an updated entry', () => {
  test('hold the old and new value of each changed field, with the exact BSON types', async () => {
    const change = (await entry('g1:1'))!;
    assert.equal(change.op, 'updated');
    assert.deepEqual(change.fields, ['a%2Eb', 'added', 'extra', 'notes', 'price']);
    const values = change.values as Values;
    assert.deepEqual(Object.keys(values), change.fields, 'one value pair per changed field');
    assert.deepEqual(values['a%2Eb'], { old: 1, new: 10 }, 'a dotted column under its stored name');
    assert.deepEqual([String(values.price!.old), String(values.price!.new)], ['1.50', '1.75']);
    assert.equal((values.price!.old as { _bsontype?: string })._bsontype, 'Decimal128');
    assert.deepEqual(values.extra, { old: 5 }, 'a dropped column has no new value');
    assert.deepEqual(values.added, { new: 'new' }, 'an added column has no old value');
    assert.equal(values.notes!.old, 'short');
  });

  test('a value over 1024 bytes of canonical text is a marker with its size and sha256', async () => {
    const values = (await entry('g1:1'))!.values as Values;
    assert.deepEqual(values.notes!.new, marker(grownNotes));
    assert.equal((values.notes!.new as ReturnType<typeof marker>)._ganymede_truncated.bytes, 3006);
  });

  test('one entry keeps at most 64 KiB of whole values; every further value is a marker', async () => {
    const values = (await entry('g1:1', 'wide'))!.values as Values;
    assert.deepEqual(Object.keys(values), wideColumns);
    // Each value is 905 bytes of canonical text: 36 fields (65,160 bytes) fit in 65,536, the 37th does not.
    const whole = wideColumns.filter((c) => values[c]!.old === wideOld && values[c]!.new === wideNew);
    assert.deepEqual(whole, wideColumns.slice(0, 36));
    for (const c of wideColumns.slice(36)) assert.deepEqual(values[c], { old: marker(wideOld), new: marker(wideNew) }, c);
  });

  test('created and removed entries carry no values; every entry says fedIn: null', async () => {
    const entries = await db.collection('_ganymede_changes').find({ geo: 'g1' }).toArray();
    assert.ok(entries.length > 0);
    assert.ok(entries.every((e) => Object.hasOwn(e, 'fedIn') && e.fedIn === null), 'fedIn is written, as null');
    assert.deepEqual(entries.filter((e) => e.op !== 'updated' && 'values' in e), []);
    const removed = await db.collection('_ganymede_changes').findOne({ geo: 'g1', collection: 'items', docId: 'g1:3', cycle: cycle2 });
    assert.equal(removed?.op, 'removed');
  });
});

test('a retry after a crash once the change log was written leaves the entry as it is', async () => {
  const crashed = rig.freshDb('values-crash');
  await etl(crashed, schemas.first, cycle1);
  const stopAt = async (checkpoint: EtlCheckpoint) => {
    if (checkpoint.collection === 'items' && checkpoint.phase === 'logged') throw new Error('crash after logging');
  };
  await assert.rejects(etl(crashed, schemas.second, cycle2, { checkpoint: stopAt }), /crash after logging/);
  const logged = await crashed.collection('_ganymede_changes').findOne({ geo: 'g1', collection: 'items', cycle: cycle2, docId: 'g1:1' });
  assert.ok(logged, 'the entry was logged before the crash');
  // A mark only this test puts there: a retry that replaced the entry would lose it.
  await crashed.collection('_ganymede_changes').updateOne({ geo: 'g1', collection: 'items', cycle: cycle2, _id: logged._id }, { $set: { mark: 1 } });
  await etl(crashed, schemas.second, cycle2);
  const after = await crashed.collection('_ganymede_changes').find({ geo: 'g1', collection: 'items', cycle: cycle2, docId: 'g1:1' }).toArray();
  assert.equal(after.length, 1);
  assert.equal(after[0]!.mark, 1, 'the entry already there was not rewritten');
  assert.deepEqual(after[0]!.values, (await entry('g1:1'))!.values, 'and it holds what an uninterrupted run logs');
});
