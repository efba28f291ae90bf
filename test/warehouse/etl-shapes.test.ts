// runEtl against MariaDB and the MongoDB-wire stand-in: the default mapping (every kind of key), every
// type conversion read back with the driver, and nesting/SQL mappings.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Binary, Decimal128, Long } from 'mongodb';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { baseStatements, cycle1, cycle2, docsById, etl, openRig, type Rig } from './fixture.js';

let rig: Rig;
let base: string;
before(async () => {
  rig = await openRig();
  base = await rig.createSchema('whbase', baseStatements());
});
after(async () => {
  await rig?.close();
});

describe('the default mapping', () => {
  test('one collection per table, _id from the GEO and the key; keyless tables by row hash and occurrence', async () => {
    const db = rig.freshDb('default');
    const result = await etl(db, base, cycle1);
    const byName = new Map(result.collections.map((c) => [c.name, c]));
    assert.deepEqual([...byName.keys()].sort(), ['accounts', 'audit', 'disks', 'instances', 'regions', 'tags']);
    assert.equal(byName.get('accounts')!.key, 'primary key (id)');
    assert.equal(byName.get('tags')!.key, 'primary key (account_id, name)');
    assert.equal(byName.get('regions')!.key, 'unique key (code)', 'the nullable unique key is passed over');
    assert.equal(byName.get('audit')!.key, 'row hash and occurrence (no key)');
    assert.equal(result.read, 30 + 45 + 20 + 4 + 5 + 2);
    assert.equal(result.documentsWritten, result.read);
    for (const c of result.collections) assert.equal(c.inserted, c.read, c.name);

    const accounts = await docsById(db, 'accounts');
    assert.equal(accounts.size, 30);
    const one = accounts.get('g1:3')!;
    assert.equal(one.geo, 'g1');
    assert.equal(one.id, 3);
    assert.equal(one.name, 'account 3');
    assert.ok(one.balance instanceof Decimal128);
    assert.equal(String(one.balance), '20.50');
    assert.deepEqual(one.created_at, new Date('2025-01-03T08:00:00Z'));
    const meta = one._meta as { hash: string; cycle: Date };
    assert.match(meta.hash, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(meta.cycle, cycle1);
    assert.deepEqual(Object.keys(one).sort(), ['_id', '_meta', 'balance', 'created_at', 'geo', 'id', 'name']);

    const tags = await docsById(db, 'tags');
    assert.ok(tags.has('g1:1:env') && tags.has('g1:1:team'));
    assert.equal(tags.get('g1:3:a%3Ab%25c')?.value, 'odd key', 'parts of the key are escaped');

    const regions = await docsById(db, 'regions');
    assert.deepEqual([...regions.keys()].sort(), ['g1:EUW', 'g1:USE']);

    const audit = [...(await docsById(db, 'audit')).values()];
    assert.equal(audit.length, 5, 'identical rows all survive');
    const boots = audit.filter((doc) => doc.message === 'boot').map((doc) => String(doc._id)).sort();
    assert.equal(new Set(boots.map((id) => id.split(':')[1])).size, 1, 'identical rows share the row hash');
    assert.deepEqual(boots.map((id) => id.split(':')[2]), ['1', '2', '3']);

    const changes = await db.collection('_ganymede_changes').find({}).toArray();
    assert.equal(changes.length, result.read);
    assert.ok(changes.every((c) => c.op === 'created' && c.geo === 'g1' && (c.cycle as Date).getTime() === cycle1.getTime()));
    const change = changes.find((c) => c.docId === 'g1:3' && c.collection === 'accounts')!;
    assert.equal(change._id, '2026-03-01T10:accounts:g1:3');

    const progress = await db.collection('_ganymede_etl').find({}).toArray();
    assert.equal(progress.length, 6);
    assert.ok(progress.every((p) => p.state === 'done' && (p.cycle as Date).getTime() === cycle1.getTime()));

    const indexes = (await db.collection('accounts').listIndexes().toArray()).map((index) => JSON.stringify(index.key));
    assert.ok(indexes.includes(JSON.stringify({ geo: 1, '_meta.cycle': 1 })));
  });
});

describe('types', () => {
  let schema: string;
  before(async () => {
    schema = await rig.createSchema('whtypes', [
      `CREATE TABLE t (id INT PRIMARY KEY, geo VARCHAR(10), dec12 DECIMAL(12,3), dec65 DECIMAL(65,30), dt DATETIME(3), ts TIMESTAMP NULL,
         d DATE, tm TIME, y YEAR, j JSON, bl BLOB, vb VARBINARY(8), b1 BIT(1), b13 BIT(13), b64 BIT(64),
         bi BIGINT, ubi BIGINT UNSIGNED, ui INT UNSIGNED, e ENUM('a','b'), s SET('x','y','z'), pt POINT, poly GEOMETRY,
         f FLOAT, dbl DOUBLE, tx TEXT, lat VARCHAR(10) CHARACTER SET latin1)`,
      "SET time_zone = '+02:00'",
      `INSERT INTO t VALUES (1, 'col', 12.5, 12345678901234567890123456789012345.5, '2024-01-02 03:04:05.678', '2024-06-01 12:00:00',
         '2024-02-29', '-12:00:01', 2024, '{"a": [1, 2.5], "b": {"c": "x"}, "n": null}', x'00ff10', x'0102', b'1', b'1000000000001',
         x'FFFFFFFFFFFFFFFF', 9007199254740993, 18446744073709551615, 4294967295, 'b', 'x,z', POINT(1.5, 2.5),
         ST_GeomFromText('POLYGON((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1))'), 3.14, 2.718281828459045, 'héllo 🚀', 'café')`,
      `INSERT INTO t (id, dt, d, ts, y, bi, ubi, s, b1, dec12) VALUES (2, '0000-00-00 00:00:00', '0000-00-00', '0000-00-00 00:00:00', 0,
         42, 9223372036854775807, '', b'0', -0.001)`,
      "SET sql_mode = 'ALLOW_INVALID_DATES'",
      "INSERT INTO t (id, dt, d, bi) VALUES (3, '0000-00-00 00:00:00', '2024-02-30', -9223372036854775808)",
      'INSERT INTO t (id) VALUES (4)',
    ]);
    if (await rig.isMariadb()) {
      // MariaDB's own types, and a JSON column as MariaDB's SHOW CREATE TABLE writes it (so as a dump recreates it).
      await rig.exec(schema, [
        'CREATE TABLE m (id INT PRIMARY KEY, u UUID, ip INET6, jm LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin CHECK (json_valid(`jm`)))',
        `INSERT INTO m VALUES (1, 'cd4e9a3e-0d23-11ee-be56-0242ac120002', '::1', '{"a": [true]}')`,
      ]);
    }
  });

  test('each MySQL type arrives as its documented BSON type', async () => {
    const db = rig.freshDb('types');
    const lines: string[] = [];
    await etl(db, schema, cycle1, { log: (line) => lines.push(line) });
    const docs = await docsById(db, 't');
    const one = docs.get('g1:1')!;
    assert.equal(one.geo, 'g1');
    assert.equal(one.geo_, 'col', 'a column named geo is kept as geo_');
    assert.ok(one.dec12 instanceof Decimal128);
    assert.equal(String(one.dec12), '12.500');
    assert.equal(one.dec65, '12345678901234567890123456789012345.500000000000000000000000000000', 'over 34 digits: exact text');
    assert.deepEqual(one.dt, new Date('2024-01-02T03:04:05.678Z'));
    assert.deepEqual(one.ts, new Date('2024-06-01T10:00:00Z'), 'TIMESTAMP in UTC whatever the inserting session zone');
    assert.deepEqual(one.d, new Date('2024-02-29T00:00:00Z'));
    assert.equal(one.tm, '-12:00:01');
    assert.equal(one.y, 2024);
    assert.deepEqual(one.j, { a: [1, 2.5], b: { c: 'x' }, n: null });
    assert.ok(one.bl instanceof Binary);
    assert.deepEqual(Buffer.from((one.bl as Binary).value()), Buffer.from([0x00, 0xff, 0x10]));
    assert.deepEqual(Buffer.from((one.vb as Binary).value()), Buffer.from([1, 2]));
    assert.equal(one.b1, 1);
    assert.equal(one.b13, 4097);
    assert.ok(one.b64 instanceof Binary);
    assert.deepEqual(Buffer.from((one.b64 as Binary).value()), Buffer.alloc(8, 0xff));
    assert.ok(one.bi instanceof Long, 'beyond 2^53: Long');
    assert.equal(String(one.bi), '9007199254740993');
    assert.ok(one.ubi instanceof Decimal128, 'unsigned beyond int64: Decimal128');
    assert.equal(String(one.ubi), '18446744073709551615');
    assert.equal(one.ui, 4294967295);
    assert.equal(one.e, 'b');
    assert.deepEqual(one.s, ['x', 'z']);
    assert.deepEqual(one.pt, { type: 'Point', coordinates: [1.5, 2.5] });
    assert.deepEqual(one.poly, { type: 'Polygon', coordinates: [[[0, 0], [4, 0], [4, 4], [0, 0]], [[1, 1], [2, 1], [2, 2], [1, 1]]] });
    assert.equal(one.f, Math.fround(3.14), 'FLOAT: the exact double of the stored float');
    assert.equal(one.dbl, 2.718281828459045);
    assert.equal(one.tx, 'héllo 🚀');
    assert.equal(one.lat, 'café');

    const two = docs.get('g1:2')!;
    assert.equal(two.dt, null);
    assert.equal(two.d, null);
    assert.equal(two.ts, null);
    assert.equal(two.y, null, 'YEAR 0000 is a zero date');
    assert.equal(two.bi, 42);
    assert.ok(two.ubi instanceof Long);
    assert.equal(String(two.ubi), '9223372036854775807');
    assert.deepEqual(two.s, []);
    assert.equal(two.b1, 0);
    assert.equal(String(two.dec12), '-0.001');

    const three = docs.get('g1:3')!;
    assert.equal(three.d, null, 'an invalid date (2024-02-30) is null too');
    assert.ok(three.bi instanceof Long);
    assert.equal(String(three.bi), '-9223372036854775808');

    const four = docs.get('g1:4')!;
    for (const field of ['dec12', 'dt', 'j', 'bl', 'b64', 'pt', 'tx', 'e', 's']) assert.equal(four[field], null, field);

    if (await rig.isMariadb()) {
      const m = (await docsById(db, 'm')).get('g1:1')!;
      assert.equal(m.u, 'cd4e9a3e-0d23-11ee-be56-0242ac120002');
      assert.equal(m.ip, '::1');
      assert.deepEqual(m.jm, { a: [true] });
    }

    const zeroLines = lines.filter((line) => line.includes('zero date'));
    assert.deepEqual(zeroLines.sort(), [
      't.d: zero date stored as null (1 value)',
      't.dt: zero date stored as null (2 values)',
      't.ts: zero date stored as null (1 value)',
      't.y: zero date stored as null (1 value)',
    ]);
    assert.ok(lines.includes('t.d: invalid date stored as null (1 value)'));
    assert.ok(lines.includes('t.dec65: DECIMAL over 34 digits kept as string (1 value)'));
  });
});

describe('mappings', () => {
  const mappings = [
    {
      table: 'accounts',
      nest: [
        { field: 'instances', table: 'instances', on: { account_id: 'id' }, nest: [{ field: 'disks', table: 'disks', on: { instance_id: 'id' } }] },
        { field: 'tags', sql: 'SELECT account_id, name, value FROM tags', on: { account_id: 'id' }, order_by: ['name'] },
      ],
    },
    { collection: 'instance_names', sql: 'SELECT i.id, i.hostname, a.name AS account FROM instances i JOIN accounts a ON a.id = i.account_id', key: ['id'] },
    { collection: 'small_disks', sql: 'SELECT id, size_gb FROM disks WHERE size_gb < 50' },
    { table: 'audit', skip: true },
    { table: 'not_in_this_schema' },
  ];

  test('nest child rows as arrays, select and join with SQL, skip tables', async () => {
    const db = rig.freshDb('nest');
    const lines: string[] = [];
    const result = await etl(db, base, cycle1, { mappings, log: (line) => lines.push(line) });
    assert.deepEqual(result.collections.map((c) => c.name).sort(), ['accounts', 'disks', 'instance_names', 'instances', 'regions', 'small_disks', 'tags']);
    assert.deepEqual(result.absentTables, ['not_in_this_schema']);
    assert.ok(lines.some((line) => line.includes('not_in_this_schema')));

    const accounts = await docsById(db, 'accounts');
    const one = accounts.get('g1:1')!;
    const instances = one.instances as Record<string, unknown>[];
    assert.deepEqual(instances.map((i) => i.id), [1, 21, 41], 'ordered by the child key');
    assert.deepEqual(instances[0]!.spec, { cpu: 1 });
    assert.deepEqual((instances[0]!.disks as Record<string, unknown>[]).map((d) => d.size_gb), [10, 110]);
    assert.deepEqual(instances[1]!.disks, []);
    assert.deepEqual((one.tags as Record<string, unknown>[]).map((t) => t.name), ['env', 'team']);
    assert.deepEqual(accounts.get('g1:25')!.instances, [], 'no children: an empty array');
    assert.deepEqual(accounts.get('g1:25')!.tags, []);

    const names = await docsById(db, 'instance_names');
    assert.equal(names.size, 45);
    assert.deepEqual({ ...names.get('g1:7'), _meta: undefined }, { _id: 'g1:7', geo: 'g1', id: 7, hostname: 'host-7', account: 'account 7', _meta: undefined });
    const small = await docsById(db, 'small_disks');
    assert.deepEqual([...small.keys()].sort(), ['g1:1', 'g1:2', 'g1:3', 'g1:4']);
    assert.equal(result.collections.find((c) => c.name === 'small_disks')!.key, 'primary key of disks (id)');

    // A disk grows: only the account whose nested instance holds it changes.
    const next = await rig.createSchema('whnest2', [...baseStatements(), 'UPDATE disks SET size_gb = 999 WHERE id = 11']);
    const second = await etl(db, next, cycle2, { mappings });
    const changed = second.collections.filter((c) => c.inserted + c.updated + c.removed > 0).map((c) => [c.name, c.updated]);
    assert.deepEqual(changed.sort(), [['accounts', 1], ['disks', 1]]);
    const change = await db.collection('_ganymede_changes').findOne({ cycle: cycle2, collection: 'accounts' });
    assert.equal(change?.docId, 'g1:1');
    assert.deepEqual(change?.fields, ['instances']);
  });

  test('a mapping whose key is not unique fails naming it; bad mappings are configuration errors', async () => {
    const db = rig.freshDb('dupkey');
    await assert.rejects(etl(db, base, cycle1, { mappings: [{ collection: 'by_account', sql: 'SELECT account_id, hostname FROM instances', key: ['account_id'] }] }),
      (error: unknown) => error instanceof GanymedeError && error.exitCode === ExitCode.failed && /mapping by_account: two rows have the same key/.test(error.message));
    // The same, with the two rows in different batches: the seen keys are kept across batches.
    await assert.rejects(etl(rig.freshDb('dupkey2'), base, cycle1, { batchSize: 1, mappings: [{ collection: 'by_account', sql: 'SELECT account_id, hostname FROM instances ORDER BY id', key: ['account_id'] }] }),
      (error: unknown) => error instanceof GanymedeError && error.exitCode === ExitCode.failed && /mapping by_account: two rows have the same key \(document g1:\d+\)/.test(error.message));
    await assert.rejects(etl(db, base, cycle1, { mappings: [{ table: 'accounts', sql: 'SELECT 1' } as never, { sql: 'DELETE FROM x' } as never] }),
      (error: unknown) => error instanceof GanymedeError && error.exitCode === ExitCode.config && error.details.length >= 2);
    await assert.rejects(etl(db, base, cycle1, { mappings: [{ collection: 'accounts', table: 'tags' }] }),
      (error: unknown) => error instanceof GanymedeError && /collection accounts would be built twice/.test(error.message));
  });
});
