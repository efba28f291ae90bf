// The rig's MongoDB (the stand-in unless MONGODB_URI is set), driven by the official driver the way
// the warehouse code will drive it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Binary, Decimal128, Long, MongoBulkWriteError, MongoClient, MongoServerError, type Db } from 'mongodb';
import { startMongo, type TestMongo } from '../support/mongo.js';

let mongo: TestMongo;
let client: MongoClient;
const commandsSent: string[] = [];

before(async () => {
  mongo = await startMongo();
  client = new MongoClient(mongo.uri, { monitorCommands: true });
  client.on('commandStarted', (event) => commandsSent.push(`${event.databaseName}.${event.commandName}`));
  await client.connect();
});

after(async () => {
  await client?.close();
  await mongo?.stop();
});

/** Runs `body` against a fresh database, dropped afterwards. */
async function withDb(label: string, body: (db: Db) => Promise<void>): Promise<void> {
  const db = client.db(mongo.dbName(label));
  try {
    await body(db);
  } finally {
    await db.dropDatabase();
  }
}

test('the driver reaches the rig server, and it is the one startMongo started', async () => {
  const admin = client.db('admin');
  assert.equal((await admin.command({ ping: 1 })).ok, 1);
  const hello = await admin.command({ hello: 1 });
  assert.ok(hello.maxWireVersion >= 9, `maxWireVersion ${hello.maxWireVersion} is too old for driver 7`);
  const buildInfo = await admin.command({ buildInfo: 1 });
  if (mongo.standIn) {
    const port = Number(/:(\d+)\//.exec(mongo.uri)?.[1]);
    assert.equal(buildInfo.standIn?.name, 'ganymede mongo-stand-in');
    assert.equal(buildInfo.standIn?.port, port, 'the server answering is the stand-in on the URI port');
  } else {
    assert.equal(buildInfo.standIn, undefined);
  }
});

test('find with sort and batchSize walks every batch through getMore', async () => {
  await withDb('cursor', async (db) => {
    const docs = Array.from({ length: 250 }, (_, n) => ({ _id: `doc-${String(n).padStart(3, '0')}`, n }));
    const items = db.collection<{ _id: string; n: number }>('items');
    assert.equal((await items.insertMany(docs)).insertedCount, 250);
    const getMoresBefore = commandsSent.filter((c) => c === `${db.databaseName}.getMore`).length;

    const found = await items.find({ n: { $gte: 10 } }, { sort: { n: -1 }, batchSize: 100 }).toArray();
    assert.equal(found.length, 240);
    assert.deepEqual(found.slice(0, 2).map((d) => d.n), [249, 248]);
    assert.equal(found.at(-1)?._id, 'doc-010', 'string _ids are kept');
    const getMores = commandsSent.filter((c) => c === `${db.databaseName}.getMore`).length - getMoresBefore;
    assert.equal(getMores, 2, '240 documents in batches of 100 take a first batch and two getMores');

    const page = await items.find({}, { sort: { n: 1 }, skip: 5, limit: 3, projection: { n: 1, _id: 0 } }).toArray();
    assert.deepEqual(page, [{ n: 5 }, { n: 6 }, { n: 7 }]);
  });
});

test('updateOne with upsert inserts once, then updates; $setOnInsert applies only on insert', async () => {
  await withDb('upsert', async (db) => {
    const accounts = db.collection<{ _id: string; name?: string; created?: number; stale?: boolean }>('accounts');
    const change = { $set: { name: 'first' }, $setOnInsert: { created: 1 } };
    const inserted = await accounts.updateOne({ _id: 'a1' }, change, { upsert: true });
    assert.equal(inserted.upsertedCount, 1);
    assert.equal(inserted.upsertedId, 'a1');
    assert.equal(inserted.matchedCount, 0);

    await accounts.updateOne({ _id: 'a1' }, { $set: { stale: true } });
    const updated = await accounts.updateOne({ _id: 'a1' }, { $set: { name: 'second' }, $setOnInsert: { created: 2 }, $unset: { stale: '' } }, { upsert: true });
    assert.equal(updated.upsertedCount, 0);
    assert.equal(updated.matchedCount, 1);
    assert.equal(updated.modifiedCount, 1);
    assert.deepEqual(await accounts.findOne({ _id: 'a1' }), { _id: 'a1', name: 'second', created: 1 });

    const replaced = await accounts.replaceOne({ _id: 'a2' }, { name: 'whole' }, { upsert: true });
    assert.equal(replaced.upsertedId, 'a2');
    const many = await accounts.updateMany({}, { $set: { stale: false } });
    assert.equal(many.modifiedCount, 2);
  });
});

test('a unique index rejects duplicates as 11000 while the other unordered bulk operations land', async () => {
  await withDb('bulk', async (db) => {
    const rows = db.collection('rows');
    assert.equal(await rows.createIndex({ geo: 1, key: 1 }, { unique: true, name: 'geo_key' }), 'geo_key');
    const unique = (await rows.listIndexes().toArray()).find((i) => i.name === 'geo_key');
    assert.deepEqual(unique?.key, { geo: 1, key: 1 });
    assert.equal(unique?.unique, true);

    const bulk = rows.bulkWrite(
      [
        { insertOne: { document: { geo: 'eu', key: 1 } } },
        { insertOne: { document: { geo: 'eu', key: 1 } } },
        { insertOne: { document: { geo: 'us', key: 1 } } },
        { updateOne: { filter: { geo: 'ap', key: 1 }, update: { $set: { v: 1 } }, upsert: true } },
        { updateOne: { filter: { geo: 'eu', key: 1 }, update: { $set: { geo: 'us' } } } },
      ],
      { ordered: false },
    );
    const error = await bulk.then(() => assert.fail('the duplicate was accepted'), (e: unknown) => e);
    assert.ok(error instanceof MongoBulkWriteError, String(error));
    const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
    assert.deepEqual(writeErrors.map((e) => [e.index, e.code]), [[1, 11000], [4, 11000]]);
    assert.equal(error.result.insertedCount, 2);
    assert.equal(error.result.upsertedCount, 1);
    assert.equal(await rows.countDocuments(), 3);
    assert.equal(await rows.countDocuments({ geo: 'eu' }), 1, 'the failed update left its document alone');
  });
});

test('aggregate $group, countDocuments, distinct, findOneAndUpdate and deleteMany', async () => {
  await withDb('aggregate', async (db) => {
    const events = db.collection('events');
    await events.insertMany(Array.from({ length: 30 }, (_, n) => ({ geo: ['eu', 'us', 'ap'][n % 3], bytes: n })));
    const totals = await events
      .aggregate<{ _id: string; count: number; bytes: number }>([
        { $group: { _id: '$geo', count: { $sum: 1 }, bytes: { $sum: '$bytes' } } },
        { $sort: { _id: 1 } },
      ])
      .toArray();
    assert.deepEqual(totals, [
      { _id: 'ap', count: 10, bytes: 155 },
      { _id: 'eu', count: 10, bytes: 135 },
      { _id: 'us', count: 10, bytes: 145 },
    ]);
    assert.equal(await events.countDocuments({ geo: 'eu' }), 10);
    assert.equal(await events.estimatedDocumentCount(), 30);
    assert.deepEqual((await events.distinct('geo')).sort(), ['ap', 'eu', 'us']);

    const claimed = await events.findOneAndUpdate({ geo: 'us' }, { $set: { claimed: true } }, { sort: { bytes: -1 }, returnDocument: 'after' });
    assert.equal(claimed?.bytes, 28);
    assert.equal(claimed?.claimed, true);

    assert.equal((await events.deleteMany({ geo: 'ap' })).deletedCount, 10);
    assert.equal((await events.deleteOne({ geo: 'eu' })).deletedCount, 1);
    assert.equal(await events.countDocuments(), 19);
  });
});

test('BSON types round-trip: Decimal128, Date, Binary with NUL bytes, Long, nested, null', async () => {
  await withDb('bson', async (db) => {
    const original = {
      _id: 'typed',
      amount: Decimal128.fromString('12345678901234567890.123456789'),
      at: new Date('2024-02-29T23:59:59.123Z'),
      blob: new Binary(Buffer.from([0, 1, 0, 255, 0])),
      big: Long.fromString('9007199254740993'),
      nested: { list: [1, 'two', { three: null }], empty: [] },
      nothing: null,
    };
    const typed = db.collection<typeof original>('typed');
    await typed.insertOne(original);
    const back = await typed.findOne({ _id: 'typed' }, { promoteLongs: false });
    assert.ok(back?.amount instanceof Decimal128);
    assert.equal(back.amount.toString(), '12345678901234567890.123456789');
    assert.equal(back.at.toISOString(), '2024-02-29T23:59:59.123Z');
    assert.ok(back.blob instanceof Binary);
    assert.equal(back.blob.sub_type, 0);
    assert.deepEqual(Buffer.from(back.blob.buffer), Buffer.from([0, 1, 0, 255, 0]));
    assert.ok(back.big instanceof Long);
    assert.equal(back.big.toString(), '9007199254740993');
    assert.deepEqual(back.nested, original.nested);
    assert.equal(back.nothing, null);
  });
});

test('the stand-in refuses transactions and unknown commands with a reply, not a hang', async (t) => {
  if (!mongo.standIn) return t.skip('only the stand-in is known to be a standalone');
  const db = client.db(mongo.dbName('refuse'));
  await assert.rejects(db.command({ serverStatus: 1 }), (e: unknown) => e instanceof MongoServerError && e.code === 59 && /stand-in does not support serverStatus/.test(e.message));
  const session = client.startSession();
  try {
    // The stand-in answers like a standalone mongod (code 20), which driver 7 rewords as below.
    await assert.rejects(
      session.withTransaction(() => db.collection('t').insertOne({ x: 1 }, { session })),
      (e: unknown) => e instanceof MongoServerError && /does not support retryable writes/.test(e.message),
    );
  } finally {
    await session.endSession();
  }
  assert.equal(await db.collection('t').countDocuments(), 0);
});

test('dropDatabase removes the database', async () => {
  const name = mongo.dbName('drop');
  await client.db(name).collection('c').insertOne({ x: 1 });
  const listed = async () => (await client.db('admin').admin().listDatabases({ nameOnly: true })).databases.map((d) => d.name);
  assert.ok((await listed()).includes(name));
  assert.equal(await client.db(name).dropDatabase(), true);
  assert.ok(!(await listed()).includes(name));
});
