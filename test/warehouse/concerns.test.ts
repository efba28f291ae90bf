// Write and read concerns: the warehouse connection the workers open writes with mongodb.write_concern
// ("majority" unless configured), journaled, and reads with read concern "majority", on every command
// etl and the feed send. Seen here as the driver puts the commands on the wire (a standalone stand-in
// cannot show a rollback, but it shows what it was asked).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CommandStartedEvent, Document } from 'mongodb';
import { loadConfig } from '../../src/config/load.js';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { buildFeed } from '../../src/feed/build.js';
import { FileTransport } from '../../src/transport/file.js';
import { openWarehouse } from '../../src/warehouse/client.js';
import { baseStatements, connector, cycle1, cycle2, cycle2Changes, openRig, type Rig } from './fixture.js';
import { runEtl } from '../../src/warehouse/index.js';

let rig: Rig;
let first: string;
let second: string;
before(async () => {
  rig = await openRig();
  first = await rig.createSchema('whwc1', baseStatements());
  second = await rig.createSchema('whwc2', [...baseStatements(), ...cycle2Changes]);
});
after(async () => {
  await rig?.close();
});

function configWith(env: Record<string, string>) {
  return loadConfig({ configPath: null, env: { GANYMEDE_MONGODB_URL: rig.mongo.uri, ...env } });
}

/** The driver's ReadConcern and WriteConcern as the plain documents they are sent as. */
const plain = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

const writeCommands = new Set(['insert', 'update', 'delete', 'findAndModify', 'createIndexes']);
const readCommands = new Set(['find', 'distinct', 'aggregate', 'count']);

test('every write of etl waits for a journaled majority, and etl and the feed read majority-committed data', async () => {
  const database = rig.mongo.dbName('concerns');
  const warehouse = await openWarehouse(configWith({
    GANYMEDE_MONGODB_DATABASE: database,
    // Command monitoring, to see the commands as sent; it changes nothing else.
    GANYMEDE_MONGODB_URL: `${rig.mongo.uri}${rig.mongo.uri.includes('?') ? '&' : '?'}monitorCommands=true`,
  }));
  const commands: Document[] = [];
  warehouse.db.client.on('commandStarted', (event: CommandStartedEvent) => {
    if (event.databaseName === database) commands.push({ name: event.commandName, ...event.command });
  });
  const spool = await mkdtemp(join(tmpdir(), 'gmd-concerns-'));
  try {
    for (const [schema, cycleStart] of [[first, cycle1], [second, cycle2]] as const) {
      await runEtl({ mysql: connector(), schema, db: warehouse.db, geo: 'g1', cycleStart, batchSize: 7 });
    }
    await buildFeed({
      db: warehouse.db, cycleStart: cycle2, geos: ['g1'], missingGeos: [], encoding: 'ndjson', mode: 'changes',
      store: new FileTransport(join(spool, 'store')), spoolDir: join(spool, 'spool'),
    });
    const writes = commands.filter((command) => writeCommands.has(command.name as string));
    const reads = commands.filter((command) => readCommands.has(command.name as string));
    assert.ok(writes.length >= 20 && reads.length >= 20, `${writes.length} writes, ${reads.length} reads`);
    for (const command of writes) {
      assert.deepEqual(plain(command.writeConcern), { w: 'majority', j: true, wtimeout: 60_000 }, `${command.name} ${JSON.stringify(command[command.name as string])}`);
    }
    for (const command of reads) assert.deepEqual(plain(command.readConcern), { level: 'majority' }, `${command.name} ${JSON.stringify(command[command.name as string])}`);
  } finally {
    await warehouse.close();
    await rm(spool, { recursive: true, force: true });
  }
});

test('mongodb.write_concern takes a number of members (from the environment too); anything else is a configuration error', async () => {
  const warehouse = await openWarehouse(configWith({ GANYMEDE_MONGODB_WRITE_CONCERN: '2', GANYMEDE_MONGODB_WRITE_CONCERN_TIMEOUT_MS: '5000' }));
  try {
    assert.equal(warehouse.db.writeConcern?.w, 2);
    assert.equal(warehouse.db.writeConcern?.journal, true);
    assert.equal(warehouse.db.writeConcern?.wtimeoutMS, 5000);
    assert.equal(warehouse.db.readConcern?.level, 'majority');
  } finally {
    await warehouse.close();
  }
  assert.throws(() => configWith({ GANYMEDE_MONGODB_WRITE_CONCERN: 'all' }), (error: unknown) =>
    error instanceof GanymedeError && error.exitCode === ExitCode.config
    && [error.message, ...error.details].some((line) => /mongodb\.write_concern: expected "majority" or a number of replica set members/.test(line)));
});
