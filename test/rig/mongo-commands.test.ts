// TestMongo.commands(): what the stand-in received, from every client, so a test can check the shape of
// what the warehouse sends (the sharding rule: every filter on a state collection carries `geo`).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import { startMongo, type RecordedCommand, type TestMongo } from '../support/mongo.js';

let mongo: TestMongo;
let client: MongoClient;

before(async () => {
  mongo = await startMongo();
  client = await new MongoClient(mongo.uri).connect();
});

after(async () => {
  await client?.close();
  await mongo?.stop();
});

const summary = (c: RecordedCommand) => ({ name: c.name, collection: c.collection, filters: c.filters, upserts: c.upserts });

test('commands() lists each command on a collection with its filters and upserts, from every client', async () => {
  if (!mongo.standIn) {
    await assert.rejects(mongo.commands(), /MONGODB_URI/);
    return;
  }
  const db = client.db(mongo.dbName('record'));
  const rows = db.collection<{ _id: string; geo: string; v?: number }>('rows');
  await rows.insertOne({ _id: 'a', geo: 'eu' });
  await rows.find({ geo: 'eu' }).toArray();
  await rows.bulkWrite(
    [
      { replaceOne: { filter: { geo: 'eu', _id: 'a' }, replacement: { geo: 'eu', v: 1 }, upsert: true } },
      { updateOne: { filter: { geo: 'us', _id: 'b' }, update: { $set: { v: 2 } } } },
      { deleteMany: { filter: { geo: 'ap' } } },
    ],
    { ordered: false },
  );
  await rows.aggregate([{ $match: { geo: 'eu' } }, { $group: { _id: null, n: { $sum: 1 } } }]).toArray();
  await rows.aggregate([{ $group: { _id: '$geo' } }]).toArray();
  await rows.distinct('v', { geo: 'eu' });
  await rows.findOneAndUpdate({ geo: 'eu', _id: 'a' }, { $inc: { v: 1 } }, { upsert: true });
  // A second client stands for a CLI process the test spawned: the stand-in records what it sends too.
  const other = await new MongoClient(mongo.uri).connect();
  try {
    await other.db(db.databaseName).collection<{ _id: string }>('rows').deleteOne({ _id: 'a' });
  } finally {
    await other.close();
  }

  const recorded = (await mongo.commands()).filter((c) => c.db === db.databaseName);
  assert.deepEqual(recorded.map(summary), [
    { name: 'insert', collection: 'rows', filters: [], upserts: [] },
    { name: 'find', collection: 'rows', filters: [{ geo: 'eu' }], upserts: [] },
    { name: 'update', collection: 'rows', filters: [{ geo: 'eu', _id: 'a' }, { geo: 'us', _id: 'b' }], upserts: [true, false] },
    { name: 'delete', collection: 'rows', filters: [{ geo: 'ap' }], upserts: [] },
    { name: 'aggregate', collection: 'rows', filters: [{ geo: 'eu' }], upserts: [] },
    { name: 'aggregate', collection: 'rows', filters: [{}], upserts: [] },
    { name: 'distinct', collection: 'rows', filters: [{ geo: 'eu' }], upserts: [] },
    { name: 'findAndModify', collection: 'rows', filters: [{ geo: 'eu', _id: 'a' }], upserts: [true] },
    { name: 'delete', collection: 'rows', filters: [{ _id: 'a' }], upserts: [] },
  ]);
  const lacking = recorded.filter((c) => c.filters.some((filter) => !('geo' in filter)));
  assert.deepEqual(lacking.map((c) => c.name), ['aggregate', 'delete'], 'the check a sharding test makes finds the two without geo');
});

test('commands() keeps BSON types in filters, and a stand-in started without recording says so', async (t) => {
  if (!mongo.standIn) return;
  const db = client.db(mongo.dbName('types'));
  const at = new Date('2024-03-01T10:00:00.000Z');
  await db.collection('rows').countDocuments({ at: { $lt: at }, n: 2 });
  const [count] = (await mongo.commands()).filter((c) => c.db === db.databaseName);
  // countDocuments is an aggregate opening with $match.
  assert.equal(count?.name, 'aggregate');
  assert.deepEqual(count.filters, [{ at: { $lt: at }, n: 2 }]);
  assert.ok((count.filters[0]?.at as { $lt: unknown }).$lt instanceof Date);

  const quiet = await startMongo({ recordCommands: false });
  t.after(() => quiet.stop());
  await assert.rejects(quiet.commands(), /recordCommands: false/);
});
