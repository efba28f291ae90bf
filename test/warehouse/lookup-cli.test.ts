// `ganymede lookup` as an operator runs it (the built CLI, spawned): the current document, its history with
// old → new values, the --json shape, exit 7 for a document that is not there (its history still shown
// with --history once removed), and one-line refusals of bad names. Every read carries the GEO.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { cycle2, openRig, type Rig } from './fixture.js';
import { bigLong, historySchemas, loadHistory } from './lookup-fixture.js';
import { ExitCode } from '../../src/exit-codes.js';

let rig: Rig;
let database: string;

before(async () => {
  rig = await openRig();
  const db = rig.freshDb('lookupcli');
  database = db.databaseName;
  await loadHistory(db, await historySchemas(rig));
});
after(async () => {
  await rig?.close();
});

const lookup = (args: string[], env: Record<string, string> = {}) =>
  runCli(['lookup', ...args], { GANYMEDE_MONGODB_URL: rig.mongo.uri, GANYMEDE_MONGODB_DATABASE: database, ...env });

describe('ganymede lookup', () => {
  test('prints the current document, escaped names with their source name', async () => {
    const run = await lookup(['items', 'g1:1']);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.equal(lines[0], 'items g1:1 (GEO g1), as of cycle 2026-03-01T11');
    for (const line of ['  id: 1', '  name: "one"', '  price: 1.75', '  a%2Eb (source name a.b): 10', `  big: ${bigLong}`, '  added: "new"']) {
      assert.ok(lines.includes(line), `${line} in:\n${run.stdout}`);
    }
    assert.ok(!lines.some((line) => line.startsWith('  extra')), 'the dropped column is gone');
    assert.ok(!run.stdout.includes('history'), 'no history unless asked');
  });

  test('--history: every cycle it changed in, oldest first, each changed field old → new', async () => {
    const run = await lookup(['items', '1', '--geo', 'g1', '--history']);
    assert.equal(run.code, 0, run.stderr);
    const history = run.stdout.slice(run.stdout.indexOf('history, oldest first:\n')).split('\n').slice(1);
    assert.deepEqual(history.slice(0, 2), ['  2026-03-01T10 created', '  2026-03-01T11 updated']);
    assert.deepEqual(history.slice(2, 6), [
      '    a%2Eb (source name a.b): 1 → 10',
      '    added: (none) → "new"',
      '    extra: 5 → (none)',
      '    notes: "short" → <3006 bytes, not kept; sha256 ' + history[5]!.split('sha256 ')[1],
    ]);
    assert.match(history[5]!, /^ {4}notes: "short" → <3006 bytes, not kept; sha256 [0-9a-f]{16}…>$/);
    assert.equal(history[6], '    price: 1.50 → 1.75');
  });

  test('--json: the document in Extended JSON with exact types, its source names, and the history', async () => {
    const run = await lookup(['items', 'g1:1', '--history', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.deepEqual(Object.keys(result).sort(), ['collection', 'document', 'geo', 'history', 'historyComplete', 'id', 'sourceNames']);
    assert.deepEqual([result.collection, result.id, result.geo, result.historyComplete], ['items', 'g1:1', 'g1', true]);
    assert.deepEqual(result.document.price, { $numberDecimal: '1.75' });
    assert.deepEqual(result.document.big, { $numberLong: bigLong }, 'a Long beyond 2^53 keeps every digit');
    assert.deepEqual(result.document._meta.cycle, { $date: cycle2.toISOString() });
    assert.deepEqual(result.sourceNames, { 'a%2Eb': 'a.b' });
    assert.deepEqual(result.history.map((entry: { cycle: string; op: string }) => `${entry.cycle} ${entry.op}`), ['2026-03-01T10 created', '2026-03-01T11 updated']);
    const updated = result.history[1];
    assert.equal(updated.fedIn, null);
    assert.deepEqual(updated.fields, ['a%2Eb', 'added', 'extra', 'notes', 'price']);
    assert.deepEqual(updated.values.price, { old: { $numberDecimal: '1.50' }, new: { $numberDecimal: '1.75' } });
    assert.deepEqual(updated.values.extra, { old: 5 });
    assert.equal(updated.values.notes.new._ganymede_truncated.bytes, 3006);
  });

  test('--limit keeps the newest entries and says older ones exist', async () => {
    const run = await lookup(['items', 'g1:1', '--history', '--limit', '1', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.deepEqual(result.history.map((entry: { op: string }) => entry.op), ['updated']);
    assert.equal(result.historyComplete, false);
    const text = await lookup(['items', 'g1:1', '--history', '--limit', '1']);
    assert.match(text.stdout, /older entries not shown \(--limit\)/);
  });

  test('a document that is not there: exit 7 and one line; a removed one still shows its history', async () => {
    const missing = await lookup(['items', 'g1:4']);
    assert.equal(missing.code, ExitCode.notFound);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /no document g1:4 in collection items/);
    assert.equal(missing.stderr.trim().split('\n').filter((line) => !line.trim().startsWith('hint:')).length, 1, missing.stderr);

    const removed = await lookup(['items', 'g1:3']);
    assert.equal(removed.code, ExitCode.notFound, 'without --history, gone is gone');
    const history = await lookup(['items', 'g1:3', '--history']);
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /^items g1:3 \(GEO g1\): not in the warehouse now \(removed in cycle 2026-03-01T11\)$/m);
    assert.match(history.stdout, /2026-03-01T10 created\n {2}2026-03-01T11 removed/);
    const json = JSON.parse((await lookup(['items', 'g1:3', '--history', '--json'])).stdout);
    assert.equal(json.document, null);
    assert.deepEqual(json.history.map((entry: { op: string }) => entry.op), ['created', 'removed']);

    const never = await lookup(['items', 'g1:4', '--history']);
    assert.equal(never.code, ExitCode.notFound);
    assert.match(never.stderr, /no document g1:4 in collection items, and no change-log entry of it/);
  });

  test('every read names the GEO, so on a sharded cluster it goes to one shard', async () => {
    await lookup(['items', 'g1:1', '--history']);
    const reads = (await rig.mongo.commands()).filter((c) => c.db === database && c.name === 'find' && ['items', '_ganymede_changes'].includes(c.collection));
    assert.ok(reads.length > 0);
    assert.deepEqual(reads.filter((c) => c.filters.some((filter) => filter.geo !== 'g1')), []);
  });

  test('bad input: one line naming what is wrong, exit 2; no warehouse configured: exit 3; MongoDB down: exit 4', async () => {
    for (const [args, said] of [
      [['_ganymede_changes', 'g1:1'], /collection "_ganymede_changes": the name must not start with "_ganymede"/],
      [['system.users', 'g1:1'], /must not start with "system\."/],
      [['it$ems', 'g1:1'], /must not contain \$ or NUL/],
      [['items', '42'], /ID 42 names no GEO/],
      [['items', '1', '--geo', 'G1'], /GEO "G1": expected lower-case letters/],
      [['items', 'g1:1', '--history', '--limit', '1.5'], /--limit 1\.5: expected a whole number/],
    ] as const) {
      const run = await lookup([...args]);
      assert.equal(run.code, ExitCode.usage, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, said);
      assert.equal(run.stdout, '');
    }
    const unconfigured = await runCli(['lookup', 'items', 'g1:1']);
    assert.equal(unconfigured.code, ExitCode.config, unconfigured.stderr);
    assert.match(unconfigured.stderr, /mongodb\.url/);
    const down = await lookup(['items', 'g1:1'], { GANYMEDE_MONGODB_URL: 'mongodb://127.0.0.1:1', GANYMEDE_MONGODB_CONNECT_TIMEOUT_MS: '500' });
    assert.equal(down.code, ExitCode.unreachable, down.stderr);
    assert.match(down.stderr, /cannot reach MongoDB/);
  });
});
