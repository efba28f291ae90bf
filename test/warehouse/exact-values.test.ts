// Values that the text protocol or a BSON Date would round: FLOAT (printed with 6 significant digits)
// arrives as the exact double of the stored float, DOUBLE as itself, and DATETIME/TIMESTAMP(4-6) keep their
// microseconds, so a change only in a float's low bits or in the microseconds is an update that the
// change log and the feed carry.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { feedRecord } from '../../src/feed/encode.js';
import { convertValue, type ColumnInfo } from '../../src/warehouse/convert.js';
import { cycle1, cycle2, docsById, etl, openRig, type Rig } from './fixture.js';

let rig: Rig;
after(async () => {
  await rig?.close();
});

/** The float next to `value` towards zero: it differs from `value` only in the lowest bit of the mantissa. */
function neighbourFloat(value: number): number {
  const bits = new Uint32Array(new Float32Array([value]).buffer);
  bits[0]! -= 1;
  return new Float32Array(bits.buffer)[0]!;
}

const floats = {
  1: 16777216, // 2^24: 16777200 in 6 digits
  2: -3.4028230607370965e38, // about -FLT_MAX
  3: 1.17549435e-38, // the smallest normal float
  4: 1.401298464324817e-45, // the smallest subnormal float
  5: 3.14,
};
const doubles = {
  1: 0.30000000000000004,
  2: 5e-324, // the smallest subnormal double
  3: 1.7976931348623157e308, // the largest double
  4: 2.2250738585072014e-308, // the smallest normal double
  5: 1 / 3,
};
const lowBitsFloat = neighbourFloat(floats[2]);

function statements(changes: string[] = []): string[] {
  const rows = Object.keys(floats).map((id) => {
    const key = Number(id) as keyof typeof floats;
    return `(${id}, ${floats[key]}, ${doubles[key]}, '2024-01-02 03:04:05.12345${id}', '2024-06-01 12:00:00.00000${id}', '-838:59:59.00000${id}', '2024-01-02 03:04:05.678')`;
  });
  return [
    'CREATE TABLE v (id INT PRIMARY KEY, f FLOAT, d DOUBLE, dt6 DATETIME(6), ts6 TIMESTAMP(6) NULL, t6 TIME(6), dt3 DATETIME(3))',
    `INSERT INTO v VALUES ${rows.join(', ')}`,
    "INSERT INTO v (id, dt6, ts6) VALUES (6, '2024-01-01 00:00:00', '0000-00-00 00:00:00.000000')",
    'CREATE TABLE r (id INT PRIMARY KEY, v_id INT NOT NULL, x FLOAT)',
    `INSERT INTO r VALUES (1, 1, ${floats[1]}), (2, 1, ${floats[2]}), (3, 2, 0.1)`,
    ...changes,
  ];
}

// The same columns through an SQL mapping (wrapped to read its FLOAT exactly, still keyed by v's key) with
// FLOAT children nested from a table.
const mappings = [{ collection: 'v_sql', sql: 'SELECT id, f, dt6 FROM v', nest: [{ field: 'readings', table: 'r', on: { v_id: 'id' } }] }];

test('a DATETIME with 4-6 fractional digits is fixed-width UTC text with six digits; with 0-3 a Date', () => {
  const notes: string[] = [];
  const convert = (text: string, fsp: number) => convertValue(Buffer.from(text), { name: 'c', kind: 'datetime', unsigned: false, bits: 0, fsp, orgTable: '', orgName: '' },
    (_column, note) => notes.push(note));
  assert.equal(convert('2024-01-02 03:04:05.1234', 4), '2024-01-02T03:04:05.123400Z');
  assert.equal(convert('0999-12-31 23:59:59.999999', 6), '0999-12-31T23:59:59.999999Z');
  assert.equal(convert('2024-02-30 00:00:00.000001', 6), null);
  assert.equal(convert('0000-00-00 00:00:00.000000', 6), null);
  assert.deepEqual(notes, ['invalid date stored as null', 'zero date stored as null']);
  assert.deepEqual(convert('2024-01-02 03:04:05.678', 3), new Date('2024-01-02T03:04:05.678Z'));
  const ordered = ['0999-12-31 23:59:59.999999', '2024-01-02 03:04:05.000009', '2024-01-02 03:04:05.00001', '2024-01-02 03:04:05.1'];
  const texts = ordered.map((text) => convert(text, 6) as string);
  assert.deepEqual([...texts].sort(), texts, 'text order is time order');
});

describe('exact values', () => {
  let first: string;
  let second: string;
  before(async () => {
    rig = await openRig();
    first = await rig.createSchema('whexact1', statements());
    second = await rig.createSchema('whexact2', statements([
      "UPDATE v SET dt6 = '2024-01-02 03:04:05.123457' WHERE id = 1", // one microsecond later
      `UPDATE v SET f = ${lowBitsFloat} WHERE id = 2`, // prints as -3.40282e38 like before
      "UPDATE v SET ts6 = '2024-06-01 12:00:00.000004', t6 = '-838:59:59.000004' WHERE id = 3",
      `UPDATE r SET x = ${neighbourFloat(floats[1])} WHERE id = 1`,
    ]));
  });

  test('FLOAT arrives as the exact double of the stored float, DOUBLE as itself, microseconds as text', async () => {
    const db = rig.freshDb('exact');
    const result = await etl(db, first, cycle1, { mappings });
    assert.equal(result.collections.find((c) => c.name === 'v_sql')!.key, 'primary key of v (id)', 'the wrapper keeps the key of v');
    const docs = await docsById(db, 'v');
    for (const [id, value] of Object.entries(floats)) {
      const doc = docs.get(`g1:${id}`)!;
      assert.equal(doc.f, Math.fround(value), `FLOAT ${value}`);
      assert.equal(doc.d, doubles[Number(id) as keyof typeof doubles], `DOUBLE ${doubles[Number(id) as keyof typeof doubles]}`);
    }
    const one = docs.get('g1:1')!;
    assert.equal(one.f, 16777216);
    assert.equal(one.dt6, '2024-01-02T03:04:05.123451Z');
    assert.equal(one.ts6, '2024-06-01T12:00:00.000001Z');
    assert.equal(one.t6, '-838:59:59.000001');
    assert.deepEqual(one.dt3, new Date('2024-01-02T03:04:05.678Z'), 'up to milliseconds a column stays a Date');
    const six = docs.get('g1:6')!;
    assert.equal(six.dt6, '2024-01-01T00:00:00.000000Z', 'every value of a DATETIME(6) is text, also without a fraction');
    assert.equal(six.ts6, null, 'a zero date is null');

    const sql = await docsById(db, 'v_sql');
    assert.equal(sql.get('g1:2')!.f, Math.fround(floats[2]));
    assert.equal(sql.get('g1:1')!.dt6, '2024-01-02T03:04:05.123451Z');
    assert.deepEqual((sql.get('g1:1')!.readings as { x: number }[]).map((reading) => reading.x), [16777216, Math.fround(floats[2])]);
    assert.deepEqual((sql.get('g1:2')!.readings as { x: number }[]).map((reading) => reading.x), [Math.fround(0.1)]);
  });

  test('a change only in microseconds or in a float\'s lowest bit is an update, logged and fed', async () => {
    const db = rig.freshDb('exactcycle');
    await etl(db, first, cycle1, { mappings });
    const next = await etl(db, second, cycle2, { mappings });
    const byName = new Map(next.collections.map((c) => [c.name, c]));
    assert.deepEqual({ updated: byName.get('v')!.updated, unchanged: byName.get('v')!.unchanged }, { updated: 3, unchanged: 3 });
    assert.deepEqual({ updated: byName.get('v_sql')!.updated, unchanged: byName.get('v_sql')!.unchanged }, { updated: 2, unchanged: 4 });
    assert.equal(byName.get('r')!.updated, 1);

    const changes = await db.collection('_ganymede_changes').find({ cycle: cycle2, collection: 'v' }).toArray();
    assert.deepEqual(changes.map((c) => [c.docId, c.op, c.fields]).sort(), [
      ['g1:1', 'updated', ['dt6']],
      ['g1:2', 'updated', ['f']],
      ['g1:3', 'updated', ['t6', 'ts6']],
    ]);
    const docs = await docsById(db, 'v');
    assert.equal(docs.get('g1:2')!.f, lowBitsFloat);
    assert.notEqual(lowBitsFloat, Math.fround(floats[2]));
    const fed = feedRecord(docs.get('g1:1')!);
    assert.equal(fed.dt6, '2024-01-02T03:04:05.123457Z', 'the feed carries the microseconds');
    assert.equal(feedRecord(docs.get('g1:3')!).ts6, '2024-06-01T12:00:00.000004Z');
    const sql = await docsById(db, 'v_sql');
    assert.equal((sql.get('g1:1')!.readings as { x: number }[])[0]!.x, neighbourFloat(floats[1]));
  });
});
