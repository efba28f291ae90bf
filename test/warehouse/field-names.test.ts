// Names a MongoDB server refuses in a replacement (dotted, `$`-leading, NUL): columns, nested columns,
// nest fields and JSON keys at every depth are stored escaped, reversibly, on the first load and on the
// replace of an update; unescaping the stored names gives the source names back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildFeed } from '../../src/feed/build.js';
import { FileTransport } from '../../src/transport/file.js';
import { escapeFieldName, unescapeFieldName } from '../../src/warehouse/field-names.js';
import { cycle1, cycle2, docsById, etl, openRig, type Rig } from './fixture.js';

/** Every object key of a stored value, unescaped, at every depth. */
function unescapeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unescapeKeys);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [unescapeFieldName(key), unescapeKeys(item)]));
}

/** Every object key of a value, at every depth. */
function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysOf);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) => [key, ...keysOf(item)]);
}

describe('escapeFieldName and unescapeFieldName', () => {
  test('escape `%`, `.`, NUL and a leading `$`, and nothing else', () => {
    assert.equal(escapeFieldName('a.b'), 'a%2Eb');
    assert.equal(escapeFieldName('$x'), '%24x');
    assert.equal(escapeFieldName('x$'), 'x$');
    assert.equal(escapeFieldName('$$'), '%24$');
    assert.equal(escapeFieldName('%y'), '%25y');
    assert.equal(escapeFieldName('%2E'), '%252E', 'an escape in the source is not taken for one');
    assert.equal(escapeFieldName('nul\0key'), 'nul%00key');
    assert.equal(escapeFieldName('plain_name héllo'), 'plain_name héllo');
    assert.equal(escapeFieldName('_id'), '_id', 'only the top level reserves _id');
  });

  test('at the top level Ganymede\'s own names take a `_`, and so do their `_`-suffixed forms', () => {
    const top = { topLevel: true };
    assert.deepEqual(['_id', 'geo', '_meta', '_id_', 'geo__', '_meta.x', 'geography'].map((name) => escapeFieldName(name, top)),
      ['_id_', 'geo_', '_meta_', '_id__', 'geo___', '_meta%2Ex', 'geography']);
  });

  test('round-trip, and distinct names stay distinct', () => {
    const names = ['a.b', '$x', 'x$', '%y', '%2E', '%24x', 'nul\0key', '_id', '_id_', '_id__', 'geo', 'geo_', '_meta', '.', '$', '%', '', 'id'];
    for (const level of [{}, { topLevel: true }]) {
      const stored = names.map((name) => escapeFieldName(name, level));
      assert.deepEqual(stored.map((name) => unescapeFieldName(name, level)), names);
      assert.equal(new Set(stored).size, names.length);
      for (const name of stored) assert.doesNotMatch(name, /^\$|\.|\0/);
      if (level.topLevel) for (const own of ['_id', 'geo', '_meta']) assert.ok(!stored.includes(own), own);
    }
  });
});

describe('a torture table', () => {
  let rig: Rig;
  let first: string;
  let second: string;
  const json = { 'a.b': 1, $lead: { in$ner: 2, $nested: [{ 'x.y': 3, $deep: { '%': 'p' } }] }, 'nul\u0000key': 4, '%25': 5, _id: 6 };
  const changedJson = { ...json, $lead: { in$ner: 7, $nested: [] } };
  // A double-quoted SQL string (sql_mode ''): the backslash and quote escapes of a JSON string are MySQL's too.
  const sqlText = (value: unknown) => JSON.stringify(JSON.stringify(value));
  const columns = ['id', 'a.b', '$x', 'x$', '%y', '_id', '_id_', 'geo', 'j'];
  const mappings = [{ table: 'w', nest: [{ field: '$parts.list', table: 'p', on: { 'w.id': 'id' } }] }];

  before(async () => {
    rig = await openRig();
    const statements = (changes: string[]) => [
      'CREATE TABLE w (id INT PRIMARY KEY, `a.b` INT, `$x` VARCHAR(10), `x$` VARCHAR(10), `%y` VARCHAR(10), `_id` INT, `_id_` INT, geo INT, j JSON)',
      `INSERT INTO w VALUES (1, 10, 'dollar', 'tail', 'percent', 100, 101, 102, ${sqlText(json)}), (2, 20, 'two', NULL, NULL, NULL, NULL, NULL, '{}')`,
      'CREATE TABLE p (id INT PRIMARY KEY, `w.id` INT NOT NULL, `$v` VARCHAR(10))',
      "INSERT INTO p VALUES (1, 1, 'first'), (2, 1, 'second')",
      ...changes,
    ];
    first = await rig.createSchema('whnames1', statements([]));
    second = await rig.createSchema('whnames2', statements([
      `UPDATE w SET \`$x\` = 'changed', j = ${sqlText(changedJson)} WHERE id = 1`,
      "UPDATE p SET `$v` = 'changed' WHERE id = 2",
    ]));
  });
  after(async () => {
    await rig?.close();
  });

  test('is stored under escaped names that unescape to the source names, on load and on replace', async () => {
    const db = rig.freshDb('names');
    await etl(db, first, cycle1, { mappings });
    const check = async (expectedJson: unknown, expectedV: string) => {
      const one = (await docsById(db, 'w')).get('g1:1')!;
      assert.deepEqual(Object.keys(one).sort(), ['%24parts%2Elist', '%24x', '%25y', '_id', '_id_', '_id__', '_meta', 'a%2Eb', 'geo', 'geo_', 'id', 'j', 'x$']);
      assert.equal(one.geo, 'g1');
      assert.deepEqual([one.geo_, one._id_, one._id__, one['a%2Eb'], one['%25y'], one['x$']], [102, 100, 101, 10, 'percent', 'tail']);
      const own = new Set(['_id', 'geo', '_meta', '%24parts%2Elist']);
      assert.deepEqual(Object.keys(one).filter((name) => !own.has(name)).map((name) => unescapeFieldName(name, { topLevel: true })).sort(), [...columns].sort());
      assert.equal(unescapeFieldName('%24parts%2Elist', { topLevel: true }), '$parts.list');
      for (const key of keysOf(one.j)) assert.doesNotMatch(key, /^\$|\.|\0/, `JSON key ${JSON.stringify(key)}`);
      assert.deepEqual(unescapeKeys(one.j), expectedJson);
      const parts = one['%24parts%2Elist'] as Record<string, unknown>[];
      assert.deepEqual(parts.map((part) => Object.keys(part).sort()), [['%24v', 'id', 'w%2Eid'], ['%24v', 'id', 'w%2Eid']]);
      assert.deepEqual(parts.map((part) => part['%24v']), ['first', expectedV]);
    };
    await check(json, 'second');
    assert.deepEqual((await docsById(db, 'w')).get('g1:1')!['%24x'], 'dollar');

    const next = await etl(db, second, cycle2, { mappings });
    const w = next.collections.find((c) => c.name === 'w')!;
    assert.deepEqual([w.updated, w.unchanged], [1, 1]);
    const change = await db.collection('_ganymede_changes').findOne({ cycle: cycle2, collection: 'w' });
    assert.deepEqual(change?.fields, ['%24parts%2Elist', '%24x', 'j']);
    await check(changedJson, 'changed');
    assert.equal((await docsById(db, 'w')).get('g1:1')!['%24x'], 'changed');
  });

  test('reaches the feed under its source names, JSON keys at every depth included', async () => {
    const db = rig.freshDb('namesfeed');
    await etl(db, first, cycle1, { mappings });
    const spool = await mkdtemp(join(tmpdir(), 'gmd-names-'));
    try {
      await buildFeed({ db, cycleStart: cycle1, geos: ['g1'], missingGeos: [], encoding: 'ndjson', mode: 'full', store: new FileTransport(join(spool, 'f')), spoolDir: join(spool, 's') });
      const lines = gunzipSync(readFileSync(join(spool, 'f', '2026-03-01T10', 'w.ndjson.gz'))).toString('utf8').split('\n').filter(Boolean);
      const one = JSON.parse(lines.find((line) => line.includes('"g1:1"'))!) as Record<string, unknown>;
      assert.deepEqual(Object.keys(one), ['$parts.list', '$x', '%y', '_id', '_id_', '_id__', 'a.b', 'geo', 'geo_', 'id', 'j', 'x$'], 'source names, sorted; a column _id or geo keeps its one `_`');
      assert.deepEqual([one._id, one.geo, one._id_, one._id__, one.geo_, one['a.b'], one.$x], ['g1:1', 'g1', 100, 101, 102, 10, 'dollar']);
      assert.deepEqual(one.j, json, 'the JSON column as the source holds it');
      assert.deepEqual((one['$parts.list'] as Array<Record<string, unknown>>).map((part) => Object.keys(part)), [['$v', 'id', 'w.id'], ['$v', 'id', 'w.id']]);
    } finally {
      await rm(spool, { recursive: true, force: true });
    }
  });
});
