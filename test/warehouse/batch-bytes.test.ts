// etl's rounds of lookups and writes are bounded by bytes as well as rows: a thousand rows of large BLOBs
// are not one bulk write of everything held in memory. The warehouse is the same whatever the bound.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cycle1, dumpWarehouse, etl, openRig, type Rig } from './fixture.js';

let rig: Rig;
let schema: string;
const rows = 30;
const blobBytes = 100 * 1024;

before(async () => {
  rig = await openRig();
  schema = await rig.createSchema('whbytes', [
    'CREATE TABLE blobs (id INT PRIMARY KEY, b LONGBLOB)',
    ...Array.from({ length: rows }, (_, i) => `INSERT INTO blobs VALUES (${i + 1}, REPEAT(CHAR(${65 + (i % 26)}), ${blobBytes}))`),
  ]);
});
after(async () => {
  await rig?.close();
});

test('a round ends once its rows hold batchBytes; every row still lands, as with one round', { skip: process.env.MONGODB_URI ? 'commands are recorded by the stand-in only' : false }, async () => {
  const bounded = rig.freshDb('bytesbounded');
  const before = (await rig.mongo.commands()).length;
  const result = await etl(bounded, schema, cycle1, { batchSize: 1000, batchBytes: 512 * 1024 });
  assert.equal(result.read, rows);
  const inserts = (await rig.mongo.commands()).slice(before).filter((command) => command.db === bounded.databaseName && command.name === 'insert' && command.collection === 'blobs');
  assert.ok(inserts.length >= Math.floor((rows * blobBytes) / (512 * 1024)), `${inserts.length} inserts into blobs for ${rows} rows of ${blobBytes} bytes`);

  const whole = rig.freshDb('bytesone');
  await etl(whole, schema, cycle1, { batchSize: 1000, batchBytes: Infinity });
  assert.deepEqual(await dumpWarehouse(bounded), await dumpWarehouse(whole));
});

test('a cycle in which no row is gone does not scan the stored documents for removals', { skip: process.env.MONGODB_URI ? 'commands are recorded by the stand-in only' : false }, async () => {
  const db = rig.freshDb('bytesnoscan');
  const finds = async (since: number) =>
    (await rig.mongo.commands()).slice(since).filter((command) => command.db === db.databaseName && command.name === 'find' && command.collection === 'blobs').length;
  let before = (await rig.mongo.commands()).length;
  await etl(db, schema, cycle1, { batchSize: 1000, batchBytes: Infinity });
  assert.equal(await finds(before), 1, 'one lookup of the stored hashes for the one round, and no removal scan');
  await rig.exec(schema, ['DELETE FROM blobs WHERE id = 1']);
  try {
    before = (await rig.mongo.commands()).length;
    const next = await etl(db, schema, new Date(cycle1.getTime() + 3_600_000), { batchSize: 1000, batchBytes: Infinity });
    assert.equal(next.collections[0]!.removed, 1, 'a row gone is still found and removed');
    assert.ok((await finds(before)) >= 2, 'then the stored _ids are read');
  } finally {
    await rig.exec(schema, [`INSERT INTO blobs VALUES (1, REPEAT('A', ${blobBytes}))`]);
  }
});
