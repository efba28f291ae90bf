// `ganymede purge` for the warehouse: change-log entries older than the retention go once a feed has sent
// them (every old one when the feed is `full`, which never reads the log); what is not fed yet stays,
// whatever its age; a dry run only counts; every filter names the GEO.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildFeed } from '../../src/feed/build.js';
import { FileTransport } from '../../src/transport/file.js';
import { changesCollection } from '../../src/warehouse/index.js';
import { purgeChangeLog } from '../../src/warehouse/purge.js';
import { baseStatements, cycle1, cycle2, cycle2Changes, etl, openRig, type Rig } from './fixture.js';

let rig: Rig;
let first: string;
let second: string;
let spool: string;

before(async () => {
  rig = await openRig();
  first = await rig.createSchema('whpurge1', baseStatements());
  second = await rig.createSchema('whpurge2', [...baseStatements(), ...cycle2Changes]);
  spool = await mkdtemp(join(tmpdir(), 'gmd-purge-'));
});
after(async () => {
  await rig?.close();
  if (spool) await rm(spool, { recursive: true, force: true });
});

test('fed entries past retention go, unfed ones stay; --dry-run counts the same and deletes nothing', async () => {
  const db = rig.freshDb('purgelog');
  for (const geo of ['g1', 'g2']) {
    await etl(db, first, cycle1, { geo });
    await etl(db, second, cycle2, { geo });
  }
  // g1's first hour is fed; g2's is not (a GEO left out of a partial feed), nor is anyone's second hour.
  await buildFeed({ db, cycleStart: cycle1, geos: ['g1'], missingGeos: ['g2'], encoding: 'ndjson', mode: 'changes', store: new FileTransport(join(spool, 'f')), spoolDir: join(spool, 's') });
  const changes = db.collection(changesCollection);
  const fedFirst = await changes.countDocuments({ geo: 'g1', cycle: cycle1 });
  assert.ok(fedFirst > 5);
  const total = await changes.countDocuments({ geo: { $in: ['g1', 'g2'] } });
  const secondHour = await changes.countDocuments({ cycle: cycle2, geo: { $in: ['g1', 'g2'] } });
  assert.ok(secondHour > 0);

  const dry = await purgeChangeLog(db, { before: cycle2, feedMode: 'changes', batchSize: 3, dryRun: true });
  assert.equal(dry.entries, fedFirst);
  assert.equal(await changes.countDocuments({ geo: { $in: ['g1', 'g2'] } }), total, 'a dry run deletes nothing');

  const purged = await purgeChangeLog(db, { before: cycle2, feedMode: 'changes', batchSize: 3 });
  assert.equal(purged.entries, fedFirst, 'in batches of 3, every fed entry before the cutoff');
  assert.equal(await changes.countDocuments({ geo: 'g1', cycle: cycle1 }), 0);
  assert.equal(await changes.countDocuments({ geo: 'g2', cycle: cycle1 }), await changes.countDocuments({ geo: 'g2', cycle: cycle1, fedIn: null }), "g2's unfed first hour stays");
  assert.ok(await changes.countDocuments({ geo: 'g2', cycle: cycle1 }) > 0);
  assert.equal(await changes.countDocuments({ cycle: cycle2, geo: { $in: ['g1', 'g2'] } }), secondHour, 'the second hour, not past retention, stays');

  const full = await purgeChangeLog(db, { before: cycle2, feedMode: 'full', batchSize: 3 });
  assert.equal(await changes.countDocuments({ geo: 'g2', cycle: cycle1 }), 0, 'with a full feed, nothing waits for the log');
  assert.ok(full.entries > 0);
});

test('every purge filter names the GEO', { skip: process.env.MONGODB_URI ? 'commands are recorded by the stand-in only' : false }, async () => {
  const db = rig.freshDb('purgegeo');
  await etl(db, first, cycle1, { geo: 'g1' });
  const before = (await rig.mongo.commands()).length;
  await purgeChangeLog(db, { before: cycle2, feedMode: 'full', batchSize: 4 });
  const sent = (await rig.mongo.commands()).slice(before).filter((command) => command.db === db.databaseName && command.collection === changesCollection && command.filters.length > 0);
  assert.ok(sent.some((command) => command.name === 'delete'));
  for (const command of sent) for (const filter of command.filters) assert.ok('geo' in filter, `${command.name} without geo: ${JSON.stringify(filter)}`);
});
