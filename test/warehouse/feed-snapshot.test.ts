// The feed carries exactly what it read: a changes feed marks fed only the change-log entries it wrote
// (one logged while the feed was being read waits for the next feed), a CSV feed reads the warehouse once
// (its header and its rows come from the same read), and the change log has the index the feed's query
// of unfed entries needs.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createGunzip } from 'node:zlib';
import { text } from 'node:stream/consumers';
import type { Db } from 'mongodb';
import { buildFeed } from '../../src/feed/build.js';
import { FileTransport } from '../../src/transport/file.js';
import { changesCollection, type ChangeDocument } from '../../src/warehouse/index.js';
import { baseStatements, cycle1, cycle2, cycle2Changes, etl, openRig, type Rig } from './fixture.js';

let rig: Rig;
let first: string;
let second: string;
let spool: string;

before(async () => {
  rig = await openRig();
  first = await rig.createSchema('whsnap1', baseStatements());
  second = await rig.createSchema('whsnap2', [...baseStatements(), ...cycle2Changes]);
  spool = await mkdtemp(join(tmpdir(), 'gmd-snapshot-'));
});
after(async () => {
  await rig?.close();
  if (spool) await rm(spool, { recursive: true, force: true });
});

const lines = async (path: string) => (await text(createReadStream(path).pipe(createGunzip()))).split('\n').filter(Boolean);

function feed(db: Db, label: string, cycleStart: Date, extra: Partial<Parameters<typeof buildFeed>[0]> = {}) {
  return buildFeed({
    db, cycleStart, geos: ['g1'], missingGeos: [], encoding: 'ndjson', mode: 'changes',
    store: new FileTransport(join(spool, label)), spoolDir: join(spool, `${label}-spool`), ...extra,
  });
}

test('a change logged while the feed was read is not marked fed: the next feed carries it', async () => {
  const db = rig.freshDb('snapmark');
  await etl(db, first, cycle1);
  const changes = db.collection<ChangeDocument & { fedIn?: Date | null }>(changesCollection);
  const late: ChangeDocument & { fedIn: null } = {
    _id: '2026-03-01T10:accounts:g1:late', cycle: cycle1, geo: 'g1', collection: 'accounts', docId: 'g1:late', op: 'removed', fedIn: null,
  };
  const manifest = await feed(db, 'first', cycle1, {
    // As an etl run by hand would, between the feed's read and its manifest.
    beforePublishing: async () => void (await changes.insertOne(late)),
  });
  const accounts = manifest.files.find((file) => file.collection === 'accounts')!;
  const written = await lines(join(spool, 'first', '2026-03-01T10', 'accounts.ndjson.gz'));
  assert.equal(written.length, accounts.rows);
  assert.ok(!written.some((line) => line.includes('g1:late')), 'the late entry is not in this feed');
  assert.equal((await changes.findOne({ geo: 'g1', _id: late._id }))!.fedIn, null, 'and not marked fed by it');
  assert.equal(await changes.countDocuments({ geo: 'g1', cycle: cycle1, fedIn: cycle1 }), accounts.rows + manifest.files.filter((file) => file.collection !== 'accounts').reduce((sum, file) => sum + file.rows, 0),
    'every entry written, and only those, is marked fed by the hour');

  await etl(db, second, cycle2);
  await feed(db, 'second', cycle2);
  const next = await lines(join(spool, 'second', '2026-03-01T11', 'accounts.ndjson.gz'));
  assert.equal(next.filter((line) => line.includes('"id":"g1:late"')).length, 1, 'the next feed carries the late entry, once');
  assert.deepEqual((await changes.findOne({ geo: 'g1', _id: late._id }))!.fedIn, cycle2);
});

test('a re-run of a changes feed gives the same lines, the entries it marked included', async () => {
  const db = rig.freshDb('snaprerun');
  await etl(db, first, cycle1);
  await feed(db, 'rerun-a', cycle1);
  await feed(db, 'rerun-b', cycle1);
  for (const file of ['accounts.ndjson.gz']) {
    assert.deepEqual(await lines(join(spool, 'rerun-b', '2026-03-01T10', file)), await lines(join(spool, 'rerun-a', '2026-03-01T10', file)));
  }
});

test('a CSV feed reads each collection of the warehouse once', { skip: !process.env.MONGODB_URI ? false : 'commands are recorded by the stand-in only' }, async () => {
  const db = rig.freshDb('snapcsv');
  await etl(db, first, cycle1);
  const before = (await rig.mongo.commands()).length;
  const manifest = await feed(db, 'csv', cycle1, { encoding: 'csv', mode: 'full' });
  const reads = (await rig.mongo.commands()).slice(before).filter((command) => command.db === db.databaseName && command.name === 'find' && command.collection === 'accounts');
  assert.equal(reads.length, 1, `one find on accounts, not one per pass: ${JSON.stringify(reads.map((read) => read.filters))}`);
  const csv = await lines(join(spool, 'csv', '2026-03-01T10', 'accounts.csv.gz'));
  assert.equal(manifest.files.find((file) => file.collection === 'accounts')!.rows, csv.length - 1, 'a header, then every row');
});

test("the change log has an index for the feed's query of what is not fed yet", async () => {
  const db = rig.freshDb('snapindex');
  await etl(db, first, cycle1);
  const keys = (await db.collection(changesCollection).listIndexes().toArray()).map((index) => JSON.stringify(index.key));
  assert.ok(keys.includes(JSON.stringify({ fedIn: 1, geo: 1, collection: 1, _id: 1 })), keys.join(' '));
});
