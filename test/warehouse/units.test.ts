// The pure parts of the warehouse: content hash, value conversion, geometry, _id parts, mapping rules.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Binary, BSON, Decimal128, Long } from 'mongodb';
import { convertValue, escapeIdPart, keyText, type ColumnInfo, type ColumnKind } from '../../src/warehouse/convert.js';
import { geometryToGeoJson } from '../../src/warehouse/geometry.js';
import { contentHash } from '../../src/warehouse/hash.js';
import { mappingsSchema, planCollections, type SourceTable } from '../../src/warehouse/mappings.js';

const column = (kind: ColumnKind, extra: Partial<ColumnInfo> = {}): ColumnInfo =>
  ({ name: 'c', kind, unsigned: false, bits: 0, fsp: 0, orgTable: '', orgName: '', ...extra });
const convert = (text: string, kind: ColumnKind, extra: Partial<ColumnInfo> = {}) => {
  const notes: string[] = [];
  const value = convertValue(Buffer.from(text, 'latin1'), column(kind, extra), (_c, note) => notes.push(note));
  return { value, notes };
};

describe('contentHash', () => {
  test('does not depend on field order, at any depth', () => {
    assert.equal(contentHash({ a: 1, b: { x: [1, { p: 1, q: 2 }], y: 'z' } }), contentHash({ b: { y: 'z', x: [1, { q: 2, p: 1 }] }, a: 1 }));
  });

  test('tells types and array order apart', () => {
    const hashes = [1, '1', Long.fromNumber(1), Decimal128.fromString('1'), Decimal128.fromString('1.0'), true, null, [1, 2], [2, 1],
      new Date(1), new Binary(Buffer.from('1')), { a: undefined }, {}].map((value) => contentHash({ v: value }));
    assert.equal(new Set(hashes).size, hashes.length);
    assert.equal(contentHash({ v: undefined }), contentHash({ v: null }), 'the driver stores undefined as null');
  });

  test('a document read back through BSON hashes as written', () => {
    const doc = {
      n: 3000000000, small: 5, neg: -0, f: 0.1, l: Long.fromString('9007199254740993'), d: Decimal128.fromString('12.50'),
      t: new Date('2024-01-01T00:00:00.123Z'), b: new Binary(Buffer.from([0, 255])), j: { k: [1, 'x', null, { z: true }] }, s: ['a'],
    };
    assert.equal(contentHash(BSON.deserialize(BSON.serialize(doc))), contentHash(doc));
  });
});

describe('convertValue', () => {
  test('BIGINT: number within 2^53, Long within int64, Decimal128 beyond', () => {
    assert.equal(convert('9007199254740991', 'bigint').value, 9007199254740991);
    assert.ok(convert('-9007199254740992', 'bigint').value instanceof Long);
    assert.ok(convert('18446744073709551615', 'bigint').value instanceof Decimal128);
  });

  test('dates: UTC, years before 100 kept, zero and invalid dates null with a note', () => {
    assert.deepEqual(convert('0099-03-04 05:06:07.89', 'datetime').value, new Date('0099-03-04T05:06:07.890Z'));
    assert.deepEqual(convert('2024-01-01 00:00:00.999999', 'datetime').value, new Date('2024-01-01T00:00:00.999Z'));
    assert.deepEqual(convert('0000-00-00 00:00:00', 'datetime'), { value: null, notes: ['zero date stored as null'] });
    assert.deepEqual(convert('2024-00-10', 'date'), { value: null, notes: ['invalid date stored as null'] });
    assert.deepEqual(convert('2023-02-29', 'date'), { value: null, notes: ['invalid date stored as null'] });
  });

  test('BIT by width, SET, JSON fallback', () => {
    assert.equal(convert('\x01\x00', 'bit', { bits: 9 }).value, 256);
    assert.ok(convert('\x01\x00\x00\x00\x00\x00\x00\x00', 'bit', { bits: 54 }).value instanceof Binary);
    assert.deepEqual(convert('a,b', 'set').value, ['a', 'b']);
    assert.deepEqual(convert('{oops', 'json'), { value: '{oops', notes: ['invalid JSON kept as string'] });
  });

  test('NULL is null whatever the type', () => {
    assert.equal(convertValue(null, column('json'), () => assert.fail()), null);
  });
});

describe('geometryToGeoJson', () => {
  const wkb = (hex: string) => Buffer.concat([Buffer.alloc(4), Buffer.from(hex, 'hex')]);
  const point = (x: number, y: number, le = true) => {
    const b = Buffer.alloc(21);
    b.writeUInt8(le ? 1 : 0, 0);
    if (le) b.writeUInt32LE(1, 1); else b.writeUInt32BE(1, 1);
    if (le) { b.writeDoubleLE(x, 5); b.writeDoubleLE(y, 13); } else { b.writeDoubleBE(x, 5); b.writeDoubleBE(y, 13); }
    return b.toString('hex');
  };

  test('points in either byte order, multi-geometries and collections', () => {
    assert.deepEqual(geometryToGeoJson(wkb(point(1, 2))), { type: 'Point', coordinates: [1, 2] });
    assert.deepEqual(geometryToGeoJson(wkb(point(1, 2, false))), { type: 'Point', coordinates: [1, 2] });
    assert.deepEqual(geometryToGeoJson(wkb(`0104000000${'02000000'}${point(1, 2)}${point(3, 4)}`)), { type: 'MultiPoint', coordinates: [[1, 2], [3, 4]] });
    assert.deepEqual(geometryToGeoJson(wkb(`0107000000${'01000000'}${point(5, 6)}`)), { type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: [5, 6] }] });
  });

  test('garbage is not a geometry', () => {
    assert.equal(geometryToGeoJson(wkb('01010000')), undefined);
    assert.equal(geometryToGeoJson(wkb(`${point(1, 2)}00`)), undefined, 'trailing bytes');
    assert.equal(geometryToGeoJson(wkb('0102000000ffffffff')), undefined, 'a count beyond the data');
  });
});

describe('_id parts', () => {
  test('escape % and : so composite keys split on :; hex for binary; NULL as %00', () => {
    assert.equal(escapeIdPart('a:b%c'), 'a%3Ab%25c');
    assert.equal(keyText(Buffer.from([0xab, 0x01]), column('binary')), 'ab01');
    assert.equal(keyText(null, column('text')), '%00');
  });
});

describe('mappings', () => {
  const tables: SourceTable[] = [
    { name: 'accounts', key: ['id'], keySource: 'primary key' },
    { name: 'audit', key: undefined, keySource: undefined },
    { name: 'bad$name', key: undefined, keySource: undefined },
  ];

  test('the schema accepts the documented shapes and names every problem', () => {
    assert.ok(mappingsSchema.safeParse([
      { table: 'accounts', nest: [{ field: 'instances', table: 'instances', on: { account_id: 'id' }, order_by: ['id'] }] },
      { collection: 'v', sql: 'SELECT 1 AS id', key: ['id'] },
      { table: 'audit', skip: true },
    ]).success);
    const bad = mappingsSchema.safeParse([
      { table: 'a', sql: 'SELECT 1' }, { sql: 'SELECT 1' }, { table: 'a', skip: true, key: ['x'] }, { table: 'a', collection: '_ganymede_x' },
      { table: 'a', nest: [{ field: 'x', table: 'b', on: {} }] }, { table: 'a', extra: 1 },
    ]);
    assert.ok(!bad.success);
    assert.deepEqual([...new Set(bad.error.issues.map((issue) => issue.path[0]))], [0, 1, 2, 3, 4, 5]);
  });

  test('defaults for unmapped tables; a table with no usable collection name must be mapped or skipped', () => {
    assert.throws(() => planCollections(tables, []), /bad\$name.*not a usable collection name/);
    const { plans, absent } = planCollections(tables, [{ table: 'bad$name', collection: 'bad_name' }, { table: 'gone' }, { table: 'audit', skip: true }]);
    assert.deepEqual(plans.map((plan) => plan.collection), ['bad_name', 'accounts']);
    assert.deepEqual(absent, ['gone']);
  });
});
