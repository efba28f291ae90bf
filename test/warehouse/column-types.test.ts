// warehouse.mappings[].types: a column's BSON type chosen in config (a DECIMAL as double, a TINYINT(1) as
// boolean, a JSON text column parsed), through etl into the warehouse and out through the feed; a value that
// does not fit is stored as its MySQL type gives, with a note in the log; a bad entry is a configuration error.
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { createGunzip } from 'node:zlib';
import { after, before, test } from 'node:test';
import { buildFeed } from '../../src/feed/build.js';
import { FileTransport } from '../../src/transport/file.js';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { parseMappings, type Mapping } from '../../src/warehouse/mappings.js';
import { cycle1, etl, openRig, type Rig } from './fixture.js';

let rig: Rig;
let schema: string;
let spool: string;

const products = [
  'CREATE TABLE products (id INT PRIMARY KEY, price DECIMAL(10,2), active TINYINT(1), payload TEXT, qty INT, flag BIT(1), label VARCHAR(20))',
  `INSERT INTO products VALUES
     (1, 12.50, 1, '{"a": [1, 2], "$k": "v"}', 7, b'1', 'one'),
     (2, 3.00, 0, 'abc', 8, b'0', 'two'),
     (3, NULL, NULL, NULL, NULL, NULL, NULL)`,
];
const typed: Mapping[] = [{ table: 'products', types: { price: 'double', active: 'boolean', payload: 'json', qty: 'long', flag: 'boolean', label: 'string' } }];

before(async () => {
  rig = await openRig();
  schema = await rig.createSchema('whtypes', products);
  spool = await mkdtemp(join(tmpdir(), 'gmd-types-'));
});
after(async () => {
  await rig?.close();
  if (spool) await rm(spool, { recursive: true, force: true });
});

test('types: each column stored as the BSON type chosen, NULL stays null; without types the MySQL type decides', async () => {
  const db = rig.freshDb('types');
  const log: string[] = [];
  await etl(db, schema, cycle1, { mappings: typed, log: (line) => log.push(line) });
  const docs = await db.collection('products').find({ geo: 'g1' }, { promoteValues: false, promoteLongs: false }).sort({ _id: 1 }).toArray();
  const bsonType = (value: unknown) => (value as { _bsontype?: string } | null)?._bsontype ?? typeof value;
  const one = docs[0]!;
  assert.deepEqual([bsonType(one.price), Number(one.price.valueOf())], ['Double', 12.5], 'DECIMAL as double');
  assert.deepEqual([bsonType(docs[1]!.price), Number(docs[1]!.price.valueOf())], ['Double', 3], '3.00 is the double 3, not an Int32');
  assert.deepEqual([one.active, docs[1]!.active], [true, false], 'TINYINT(1) as boolean');
  assert.deepEqual([one.flag, docs[1]!.flag], [true, false], 'BIT(1) as boolean');
  assert.equal(bsonType(one.qty), 'Long', 'INT as long');
  assert.equal(one.label, 'one');
  const payload = (await db.collection<{ _id: string; [field: string]: unknown }>('products').findOne({ geo: 'g1', _id: 'g1:1' }))!.payload;
  assert.deepEqual(payload, { a: [1, 2], '%24k': 'v' }, 'JSON text parsed, its keys escaped like a JSON column');
  assert.deepEqual(Object.fromEntries(Object.entries(docs[2]!).filter(([key]) => typed[0]!.types![key])), { price: null, active: null, payload: null, qty: null, flag: null, label: null });

  const plain = rig.freshDb('untyped');
  await etl(plain, schema, cycle1);
  const untyped = (await plain.collection<{ _id: string; [field: string]: unknown }>('products').findOne({ geo: 'g1', _id: 'g1:1' }, { promoteValues: false }))!;
  assert.deepEqual([bsonType(untyped.price), bsonType(untyped.active), typeof untyped.payload], ['Decimal128', 'Int32', 'string'], 'the default types, for contrast');
});

test("a value that does not fit its type ('abc' as json) is stored as its MySQL type gives, and the log says so per column", async () => {
  const db = rig.freshDb('typesfallback');
  const log: string[] = [];
  await etl(db, schema, cycle1, { mappings: typed, log: (line) => log.push(line) });
  assert.equal((await db.collection<{ _id: string; [field: string]: unknown }>('products').findOne({ geo: 'g1', _id: 'g1:2' }))!.payload, 'abc', 'kept as the text it is');
  assert.ok(log.includes('products.payload: not convertible to json: stored as its MySQL type gives (1 value)'), log.join('\n'));
});

test('the feed carries the converted values: a number, a boolean, an object', async () => {
  const db = rig.freshDb('typesfeed');
  await etl(db, schema, cycle1, { mappings: typed });
  await buildFeed({ db, cycleStart: cycle1, geos: ['g1'], missingGeos: [], encoding: 'ndjson', mode: 'full', store: new FileTransport(join(spool, 'feed')), spoolDir: join(spool, 'spool') });
  const lines = (await text(createReadStream(join(spool, 'feed', '2026-03-01T10', 'products.ndjson.gz')).pipe(createGunzip()))).split('\n').filter(Boolean);
  const first = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.deepEqual(
    { price: first.price, active: first.active, payload: first.payload, qty: first.qty },
    { price: 12.5, active: true, payload: { a: [1, 2], $k: 'v' }, qty: 7 },
  );
});

test('an unknown type or a column the table lacks is a configuration error naming it', async () => {
  assert.throws(() => parseMappings([{ table: 'products', types: { price: 'float64' } }]), (error: unknown) => {
    assert.ok(error instanceof GanymedeError && error.exitCode === ExitCode.config);
    assert.match(error.details.join('\n'), /warehouse\.mappings\.0\.types\.price: .*"string".*"json"/);
    return true;
  });
  const db = rig.freshDb('typesbad');
  await assert.rejects(etl(db, schema, cycle1, { mappings: [{ table: 'products', types: { pricee: 'double' } }] }), (error: unknown) => {
    assert.ok(error instanceof GanymedeError && error.exitCode === ExitCode.config, String(error));
    assert.match(error.message, /table products\): types names "pricee", which is not a column of it/);
    return true;
  });
});
