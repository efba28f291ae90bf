// On a sharded cluster a state collection is sharded on { geo, _id } and the change log on
// { geo, collection, cycle, _id } (README, "The warehouse on a replica set or a sharded cluster"): a filter
// without `geo` goes to every shard, and an upsert without the whole key is refused. The stand-in records
// every command it answers; after etl of two cycles (creates, updates, removals) for two GEOs and a feed
// of each mode, every filter sent to a state collection or the change log must name `geo`.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MongoClient, type CommandStartedEvent, type Document } from 'mongodb';
import { buildFeed } from '../../src/feed/build.js';
import { FileTransport } from '../../src/transport/file.js';
import { changesCollection, progressCollection } from '../../src/warehouse/index.js';
import type { RecordedCommand } from '../support/mongo.js';
import { baseStatements, cycle1, cycle2, cycle2Changes, etl, openRig, type Rig } from './fixture.js';

let rig: Rig;
let first: string;
let second: string;
const mappings = [{ table: 'accounts', nest: [{ field: 'instances', table: 'instances', on: { account_id: 'id' } }] }];

before(async () => {
  rig = await openRig();
  first = await rig.createSchema('whshard1', baseStatements());
  second = await rig.createSchema('whshard2', [...baseStatements(), ...cycle2Changes]);
});
after(async () => {
  await rig?.close();
});

const shardKeys: Record<string, string[]> = { state: ['geo', '_id'], [changesCollection]: ['geo', 'collection', 'cycle', '_id'] };

/** A real server (MONGODB_URI) records nothing for us: there, the driver's own account of what it sent, in the stand-in's terms. */
function recordedByDriver(event: CommandStartedEvent): RecordedCommand {
  const command: Document = event.command;
  const statements = (key: string): Document[] => (Array.isArray(command[key]) ? command[key] : []);
  const filters = event.commandName === 'update' ? statements('updates').map((u) => u.q ?? {})
    : event.commandName === 'delete' ? statements('deletes').map((d) => d.q ?? {})
      : event.commandName === 'find' ? [command.filter ?? {}]
        : ['count', 'distinct', 'findAndModify'].includes(event.commandName) ? [command.query ?? {}]
          : event.commandName === 'aggregate' ? [statements('pipeline')[0]?.$match ?? {}] : [];
  const upserts = event.commandName === 'update' ? statements('updates').map((u) => Boolean(u.upsert))
    : event.commandName === 'findAndModify' ? [Boolean(command.upsert)] : [];
  return { name: event.commandName, db: event.databaseName, collection: String(command[event.commandName]), filters, upserts };
}

test('every filter etl and the feed send to a state collection or the change log names geo; no upsert lacks the shard key', async () => {
  const monitored = rig.mongo.standIn ? undefined : await new MongoClient(rig.mongo.uri, { monitorCommands: true }).connect();
  const seenByDriver: RecordedCommand[] = [];
  monitored?.on('commandStarted', (event) => seenByDriver.push(recordedByDriver(event)));
  const db = (monitored ?? rig.client).db(rig.mongo.dbName('shardkeys'));
  const spool = await mkdtemp(join(tmpdir(), 'gmd-shard-'));
  try {
    for (const geo of ['g1', 'g2']) {
      await etl(db, first, cycle1, { geo, mappings });
      const next = await etl(db, second, cycle2, { geo, mappings });
      assert.ok(next.collections.some((c) => c.inserted > 0) && next.collections.some((c) => c.updated > 0) && next.collections.some((c) => c.removed > 0),
        'cycle 2 creates, updates and removes');
    }
    for (const mode of ['changes', 'full'] as const) {
      await buildFeed({
        db, cycleStart: cycle2, geos: ['g1', 'g2'], missingGeos: [], encoding: 'ndjson', mode,
        store: new FileTransport(join(spool, mode)), spoolDir: join(spool, `${mode}-spool`),
      });
    }

    const sent = (monitored ? seenByDriver : await rig.mongo.commands()).filter((c) => c.db === db.databaseName && c.collection !== progressCollection && !c.collection.startsWith('system.'));
    const filtered = sent.filter((c) => c.filters.length > 0);
    for (const name of ['find', 'update', 'delete', 'distinct']) assert.ok(filtered.some((c) => c.name === name), `no ${name} was recorded`);
    assert.ok(filtered.some((c) => c.collection === changesCollection) && filtered.some((c) => c.collection === 'accounts'));
    for (const command of filtered) {
      for (const filter of command.filters) {
        assert.ok('geo' in filter, `${command.name} on ${command.collection} without geo: ${JSON.stringify(filter)}`);
      }
      command.upserts.forEach((upsert, index) => {
        if (!upsert) return;
        const key = shardKeys[command.collection] ?? shardKeys.state!;
        assert.deepEqual(key.filter((field) => !(field in command.filters[index]!)), [], `${command.name} on ${command.collection} upserts without the whole shard key`);
      });
    }
  } finally {
    await monitored?.close();
    await rm(spool, { recursive: true, force: true });
  }
});
