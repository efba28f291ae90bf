// What a real MongoDB (4.4 the strictest) refuses, refused by the rig's server with the server's codes, so
// the warehouse meets here what it would meet in production; and cursors that are not snapshots.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BSON, MongoBulkWriteError, MongoClient, MongoServerError, type Collection, type Db, type Document } from 'mongodb';

type Row = Document & { _id: string };
import { startMongo, type TestMongo } from '../support/mongo.js';

const maxBsonBytes = 16 * 1024 * 1024;
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

async function withDb(label: string, body: (db: Db) => Promise<void>): Promise<void> {
  const db = client.db(mongo.dbName(label));
  try {
    await body(db);
  } finally {
    await db.dropDatabase();
  }
}

/** A document `{_id, ...extra, blob}` whose BSON is exactly `bytes` long. */
function docOfSize(bytes: number, _id: string, extra: Document = {}): Row {
  const doc = { _id, ...extra, blob: '' };
  doc.blob = 'x'.repeat(bytes - BSON.calculateObjectSize(doc));
  assert.equal(BSON.calculateObjectSize(doc), bytes);
  return doc;
}

function serverError(code: number | number[], message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof MongoServerError, String(error));
    assert.ok([code].flat().includes(Number(error.code)), `code ${error.code}, not ${code}: ${error.message}`);
    assert.match(error.message, message);
    return true;
  };
}

test('a document of 16 MiB is stored; one byte more is refused on insert, replace, update and upsert', async () => {
  await withDb('size', async (db) => {
    const rows: Collection<Row> = db.collection<Row>('rows');
    await rows.insertOne(docOfSize(maxBsonBytes, 'fits'));
    assert.equal(await rows.countDocuments({ _id: 'fits' }), 1);

    await assert.rejects(rows.insertOne(docOfSize(maxBsonBytes + 1, 'big')), serverError(2, /^object to insert too large\. size in bytes: 16777217, max size: 16777216$/));
    // Past 16 MiB + 16 KiB a server refuses to even parse the document: the whole command fails.
    await assert.rejects(rows.insertOne(docOfSize(maxBsonBytes + 20_000, 'bigger')), serverError(10334, /^BSONObj size: 16797216 \(0x1004E20\) is invalid/));

    await rows.insertOne({ _id: 'small', geo: 'eu' });
    // 17419 on 4.4 to 7.0 and in the stand-in; later servers name it 10334 BSONObjectTooLarge.
    const afterUpdateTooLarge = mongo.standIn ? 17419 : [17419, 10334];
    // Without its _id the replacement is under the limit; the document it would make, with the _id, is over.
    const { _id: _, ...tooBig } = docOfSize(maxBsonBytes + 1, 'small');
    await assert.rejects(rows.replaceOne({ _id: 'small' }, tooBig), serverError(afterUpdateTooLarge, /^Resulting document after update is larger than 16777216$/));
    await assert.rejects(rows.replaceOne({ _id: 'absent' }, tooBig, { upsert: true }), serverError(17420, /^Document to upsert is larger than 16777216$/));
    await assert.rejects(rows.findOneAndReplace({ _id: 'small' }, tooBig), serverError(afterUpdateTooLarge, /larger than 16777216/));
    await assert.rejects(rows.updateOne({ _id: 'small' }, { $set: { blob: tooBig.blob } }), serverError(afterUpdateTooLarge, /larger than 16777216/));
    assert.deepEqual(await rows.findOne({ _id: 'small' }), { _id: 'small', geo: 'eu' }, 'each refused write left the document as it was');
    assert.equal(await rows.countDocuments({ _id: { $in: ['big', 'bigger', 'absent'] } }), 0);
  });
});

/** The stand-in is as strict as 4.4; a real server given by MONGODB_URI is as strict as its version. */
async function refusesAs44(): Promise<boolean> {
  if (mongo.standIn) return true;
  const { versionArray } = await client.db('admin').command({ buildInfo: 1 });
  return (versionArray as number[])[0]! < 5;
}

test('a $-prefixed field at the top of a replacement is refused (52), as by every server', async () => {
  await withDb('dollartop', async (db) => {
    const rows: Collection<Row> = db.collection<Row>('rows');
    await rows.insertOne({ _id: 'r', geo: 'eu' });
    // 5.0+ words it "is not allowed in the context of an update's replacement document. Consider using …".
    const topLevel = serverError(52, /^The dollar \(\$\) prefixed field '\$price' in '\$price' is not (valid for storage\.|allowed in the context of an update's replacement document)/);
    // The driver refuses a replacement whose first field starts with $; a later one reaches the server.
    await assert.rejects(rows.replaceOne({ _id: 'r' }, { geo: 'eu', $price: 1 }), topLevel);
    await assert.rejects(rows.findOneAndReplace({ _id: 'r' }, { geo: 'eu', $price: 1 }), topLevel);
    const bulk = await rows
      .bulkWrite([{ replaceOne: { filter: { _id: 'r' }, replacement: { geo: 'eu', $price: 1 } } }, { insertOne: { document: { _id: 'next' } } }], { ordered: false })
      .then(() => assert.fail('the bulk replacement was accepted'), (e: unknown) => e);
    assert.ok(bulk instanceof MongoBulkWriteError, String(bulk));
    const writeErrors = Array.isArray(bulk.writeErrors) ? bulk.writeErrors : [bulk.writeErrors];
    assert.deepEqual(writeErrors.map((e) => [e.index, e.code]), [[0, 52]]);
    assert.equal(bulk.result.insertedCount, 1);
    assert.deepEqual(await rows.findOne({ _id: 'r' }), { _id: 'r', geo: 'eu' });
    await rows.replaceOne({ _id: 'r' }, { owner: { $ref: 'users', $id: 7 } }); // a DBRef is not a field name
  });
});

test('as 4.4: a nested $-prefixed field in a replacement or $set is refused (52), a top-level one in an insert (2)', async () => {
  await withDb('dollar44', async (db) => {
    const rows: Collection<Row> = db.collection<Row>('rows');
    await rows.insertOne({ _id: 'r', geo: 'eu' });
    await rows.insertOne({ _id: 'nested', doc: { $price: 1 } }); // every server since 3.6 stores a nested one in an insert
    assert.deepEqual((await rows.findOne({ _id: 'nested' }))?.doc, { $price: 1 });
    if (!(await refusesAs44())) {
      // 5.0+ stores these; the stand-in must not be laxer than 4.4, which the branch below checks.
      await rows.replaceOne({ _id: 'r' }, { geo: 'eu', doc: { $x: 1 } });
      await rows.insertOne({ _id: 'i', $price: 1 });
      return;
    }
    const dollar = (name: string, path: string) => serverError(52, new RegExp(`^The dollar \\(\\$\\) prefixed field '\\$${name}' in '${path.replace(/\$/g, '\\$')}' is not valid for storage\\.$`));
    await assert.rejects(rows.replaceOne({ _id: 'r' }, { geo: 'eu', doc: { list: [{ $inc: 1 }] } }), dollar('inc', 'doc.list.0.$inc'));
    await assert.rejects(rows.replaceOne({ _id: 'new' }, { doc: { $x: 1 } }, { upsert: true }), dollar('x', 'doc.$x'));
    await assert.rejects(rows.findOneAndReplace({ _id: 'r' }, { doc: { $x: 1 } }), dollar('x', 'doc.$x'));
    await assert.rejects(rows.updateOne({ _id: 'r' }, { $set: { doc: { $x: 1 } } }), dollar('x', 'doc.$x'));
    await assert.rejects(rows.insertOne({ _id: 'i', $price: 1 }), serverError(2, /^Document can't have \$ prefixed field names: \$price$/));
    await assert.rejects(db.collection<{ _id: number[] }>('ids').insertOne({ _id: [1] }), serverError(2, /^can't use an array for _id$/));
    assert.deepEqual(await rows.findOne({ _id: 'r' }), { _id: 'r', geo: 'eu' });
    assert.equal(await rows.countDocuments({ _id: { $in: ['new', 'i'] } }), 0);
  });
});

test('dotted field names are stored and replaced (every server since 3.6 accepts them)', async () => {
  await withDb('dots', async (db) => {
    const rows: Collection<Row> = db.collection<Row>('rows');
    await rows.insertOne({ _id: 'd', 'a.b': 1, doc: { 'c.d': 2 } });
    await rows.replaceOne({ _id: 'd' }, { 'a.b': 3, doc: { 'c.d': 4 } });
    await rows.bulkWrite([{ replaceOne: { filter: { _id: 'd' }, replacement: { 'a.b': 5 } } }]);
    assert.deepEqual(await rows.findOne({ _id: 'd' }), { _id: 'd', 'a.b': 5 });
  });
});

test('a NUL in a key never reaches the server: the driver refuses to serialize it', async () => {
  await withDb('nul', async (db) => {
    const rows: Collection<Row> = db.collection<Row>('rows');
    await assert.rejects(rows.insertOne({ _id: 'n', 'a\u0000b': 1 }), BSON.BSONError);
    await assert.rejects(rows.replaceOne({ _id: 'n' }, { doc: { 'a\u0000b': 1 } }, { upsert: true }), BSON.BSONError);
    if (mongo.standIn) assert.deepEqual((await mongo.commands()).filter((c) => c.db === db.databaseName), []);
  });
});

test('a cursor is not a snapshot: writes between getMores show in later batches', async () => {
  await withDb('cursor', async (db) => {
    const rows = db.collection<{ _id: string; v: number }>('rows');
    await rows.insertMany(['b', 'd', 'f', 'h'].map((_id) => ({ _id, v: 0 })));

    const natural = rows.find({}, { batchSize: 2 });
    const firstTwo = [await natural.next(), await natural.next()].map((doc) => doc?._id);
    assert.deepEqual(firstTwo, ['b', 'd']);
    await rows.insertOne({ _id: 'a', v: 0 }); // natural order: after every existing document
    await rows.updateOne({ _id: 'f' }, { $set: { v: 1 } });
    await rows.deleteOne({ _id: 'h' });
    assert.deepEqual(await natural.toArray(), [{ _id: 'f', v: 1 }, { _id: 'a', v: 0 }]);

    const byId = rows.find({}, { sort: { _id: 1 }, batchSize: 2 });
    assert.deepEqual([(await byId.next())?._id, (await byId.next())?._id], ['a', 'b']);
    await rows.insertMany([{ _id: 'c', v: 0 }, { _id: 'e', v: 0 }, { _id: 'A', v: 0 }]); // 'A' sorts before the cursor's place
    assert.deepEqual((await byId.toArray()).map((doc) => doc._id), ['c', 'd', 'e', 'f']);
  });
});

test('batchSize is honoured exactly, and a full last batch leaves the cursor open for one more getMore', async () => {
  await withDb('batches', async (db) => {
    const rows = db.collection<{ _id: number }>('rows');
    await rows.insertMany(Array.from({ length: 4 }, (_, n) => ({ _id: n })));
    const batches: number[] = [];
    const monitored = new MongoClient(mongo.uri, { monitorCommands: true });
    monitored.on('commandSucceeded', (event) => {
      const cursor = (event.reply as { cursor?: { firstBatch?: unknown[]; nextBatch?: unknown[] } }).cursor;
      if (event.commandName === 'find' || event.commandName === 'getMore') batches.push((cursor?.firstBatch ?? cursor?.nextBatch ?? []).length);
    });
    try {
      await monitored.connect();
      const found = await monitored.db(db.databaseName).collection<{ _id: number }>('rows').find({}, { batchSize: 2 }).toArray();
      assert.equal(found.length, 4);
      assert.deepEqual(batches, [2, 2, 0]);
    } finally {
      await monitored.close();
    }
  });
});
