// A run of a collection that never finished (cut off after its change log was written, before the state)
// and can no longer finish: a mapping then skips the table, or a newer cycle comes. What it logged and
// never applied must not reach the feed, and nothing stays `running` for good.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Db } from 'mongodb';
import { baseStatements, cycle1, cycle2, cycle2Changes, cycle3, etl, openRig, type Rig } from './fixture.js';
import { buildFeed } from '../../src/feed/build.js';
import { FileTransport } from '../../src/transport/file.js';
import type { EtlCheckpoint, Mapping } from '../../src/warehouse/index.js';
import { ndjsonRecords } from '../cycle/support.js';

let rig: Rig;
let first: string;
let second: string;
const spool = mkdtempSync(join(tmpdir(), 'gmd-unfinished-'));

before(async () => {
  rig = await openRig();
  first = await rig.createSchema('unf1', baseStatements());
  second = await rig.createSchema('unf2', [...baseStatements(), ...cycle2Changes]);
});
after(async () => {
  await rig?.close();
  rmSync(spool, { recursive: true, force: true });
});

/** Runs etl and stops it right after `collection`'s first change-log write, before its state is written. */
async function cutOffAfterLogging(db: Db, schema: string, cycle: Date, collection: string, batchSize = 7): Promise<void> {
  const checkpoint = (point: EtlCheckpoint) => {
    if (point.collection === collection && point.phase === 'logged') throw new Error('injected crash');
  };
  await assert.rejects(etl(db, schema, cycle, { checkpoint, batchSize }), /injected crash/);
}

/** Change-log entries of `collection` that claim a document the state does not hold. */
async function orphanEntries(db: Db, collection: string): Promise<string[]> {
  const entries = await db.collection('_ganymede_changes').find({ collection, op: { $ne: 'removed' } }).toArray();
  const present = new Set((await db.collection<{ _id: string }>(collection).find({}, { projection: { _id: 1 } }).toArray()).map((doc) => doc._id));
  return entries.filter((entry) => !present.has(entry.docId as string)).map((entry) => `${entry.docId as string} ${entry.op as string}`);
}

async function changesFeed(db: Db, cycle: Date, label: string): Promise<Array<Record<string, unknown>>> {
  const store = new FileTransport(join(spool, label));
  const manifest = await buildFeed({ db, cycleStart: cycle, geos: ['g1'], missingGeos: [], encoding: 'ndjson', mode: 'changes', store, spoolDir: join(spool, `${label}-work`) });
  return manifest.files.flatMap((file) => ndjsonRecords(join(spool, label, manifest.cycle, file.name)).map((record) => ({ ...record, collection: file.collection })));
}

test('a table whose first load never finished, then skipped by a mapping and run again: no running record, no entry without its document', async () => {
  const db = rig.freshDb('skip');
  await cutOffAfterLogging(db, first, cycle1, 'audit');
  assert.ok((await orphanEntries(db, 'audit')).length > 0, 'the cut-off run logged entries it never applied');

  const skip: Mapping[] = [{ table: 'audit', skip: true }];
  const lines: string[] = [];
  const retried = await etl(db, first, cycle1, { mappings: skip, log: (line) => lines.push(line) });
  assert.ok(!retried.collections.some((c) => c.name === 'audit'));
  const progress = await db.collection('_ganymede_etl').findOne({ _id: 'g1:audit' as never });
  assert.equal(progress?.state, 'abandoned');
  assert.equal(await db.collection('_ganymede_etl').countDocuments({ state: 'running' }), 0, 'nothing stays running');
  assert.deepEqual(await orphanEntries(db, 'audit'), []);
  assert.ok(lines.some((line) => /^audit: cycle 2026-03-01T10 never finished for this GEO .*: \d+ change-log entries it never applied removed, the run marked abandoned$/.test(line)), lines.join('\n'));

  const feed = await changesFeed(db, cycle1, 'skip');
  assert.deepEqual(feed.filter((record) => record.doc === null && record.op !== 'removed'), [], 'the feed reports no created document it does not have');
  assert.equal(feed.filter((record) => record.collection === 'accounts').length, 30, 'the other tables are fed whole');

  const again = await etl(db, first, cycle1, { mappings: skip });
  assert.equal(again.writeOps, 0, 'the next run has nothing left to close');
});

test('a cycle cut off after logging, then a newer cycle: the entries the cut-off one never applied are removed', async () => {
  const db = rig.freshDb('newer');
  await etl(db, first, cycle1);
  await cutOffAfterLogging(db, second, cycle2, 'accounts', 100);
  assert.deepEqual((await orphanEntries(db, 'accounts')).sort(), ['g1:31 created']);
  const updatedUnapplied = await db.collection('_ganymede_changes').countDocuments({ collection: 'accounts', cycle: cycle2, op: 'updated' });
  assert.equal(updatedUnapplied, 2, 'two updates logged, not applied');

  const lines: string[] = [];
  // The hour of cycle 2 is never run again (its transaction failed for good); cycle 3 brings the same data.
  await etl(db, second, cycle3, { log: (line) => lines.push(line) });
  assert.ok(lines.includes('accounts: cycle 2026-03-01T11 did not finish for this GEO; changes are logged against what it wrote, and its 3 change-log entries never applied are removed'), lines.join('\n'));
  assert.equal(await db.collection('_ganymede_changes').countDocuments({ collection: 'accounts', cycle: cycle2 }), 0);
  const cycle3Entries = await db.collection('_ganymede_changes').find({ collection: 'accounts', cycle: cycle3 }).toArray();
  assert.deepEqual(cycle3Entries.map((entry) => `${entry.docId as string} ${entry.op as string}`).sort(), ['g1:3 updated', 'g1:31 created', 'g1:4 updated']);
  assert.deepEqual(await orphanEntries(db, 'accounts'), []);
  assert.equal(await db.collection('_ganymede_etl').countDocuments({ state: 'running' }), 0);
});
