import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type mysql from 'mysql2/promise';
import { runDbMigrate } from '../../src/commands/db/migrate.js';
import { openStateDb } from '../../src/state/db.js';
import { latestSchemaVersion } from '../../src/state/migrate.js';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { mysqlUrlFor, testDatabases } from '../support/mysql.js';
import { testConfig } from '../support/ganymede.js';

const databases = await testDatabases();
after(() => databases.dropAll());

async function tablesOf(database: string): Promise<string[]> {
  const [rows] = await (await databases.admin()).query<mysql.RowDataPacket[]>(
    'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name',
    [database],
  );
  return rows.map((row) => String(row.name));
}

test('db migrate creates a missing database, applies every migration, and a second run changes nothing', async () => {
  const database = `gmdt_migrate_${process.pid}_${Date.now() % 100000}`;
  const loaded = testConfig({ 'mysql.url': mysqlUrlFor(database) });
  try {
    const first = await runDbMigrate({ loaded });
    assert.equal(first.created, true);
    assert.equal(first.from, 0);
    assert.equal(first.to, latestSchemaVersion);
    assert.ok(first.applied.length >= 1);
    const tables = await tablesOf(database);
    for (const table of ['geos', 'cycles', 'transactions', 'steps', 'step_attempts', 'events', 'metric_points', 'archive_records', 'hosts', 'schema_migrations']) {
      assert.ok(tables.includes(table), `table ${table} exists`);
    }
    const [before] = await (await databases.admin()).query<mysql.RowDataPacket[]>(`SELECT * FROM \`${database}\`.schema_migrations`);

    const second = await runDbMigrate({ loaded });
    assert.equal(second.created, false);
    assert.deepEqual(second.applied, []);
    assert.equal(second.from, latestSchemaVersion);
    assert.deepEqual(await tablesOf(database), tables);
    const [afterRows] = await (await databases.admin()).query<mysql.RowDataPacket[]>(`SELECT * FROM \`${database}\`.schema_migrations`);
    assert.deepEqual(afterRows, before, 'the migration log is unchanged');
  } finally {
    await (await databases.admin()).query(`DROP DATABASE IF EXISTS \`${database}\``);
  }
});

test('two migrations at once both succeed and apply each migration exactly once', async () => {
  const database = await databases.create('concurrent');
  const loaded = testConfig({ 'mysql.url': mysqlUrlFor(database) });
  const results = await Promise.all([runDbMigrate({ loaded }), runDbMigrate({ loaded }), runDbMigrate({ loaded })]);
  const appliedCounts = results.map((result) => result.applied.length).sort();
  assert.deepEqual(appliedCounts.slice(0, 2), [0, 0], 'the runs that waited for the lock found nothing to do');
  assert.equal(appliedCounts[2], latestSchemaVersion);
  const [rows] = await (await databases.admin()).query<mysql.RowDataPacket[]>(`SELECT version FROM \`${database}\`.schema_migrations`);
  assert.equal(rows.length, latestSchemaVersion);
});

test('a command on a database that was never migrated says to run db migrate (configuration error)', async () => {
  const database = await databases.create('unmigrated');
  const loaded = testConfig({ 'mysql.url': mysqlUrlFor(database) });
  await assert.rejects(openStateDb(loaded), (error: unknown) => {
    assert.ok(error instanceof GanymedeError);
    assert.equal(error.exitCode, ExitCode.config);
    assert.match(error.message, /schema version 0, this ganymede needs/);
    assert.match(error.hint ?? '', /ganymede db migrate/);
    return true;
  });
});

test('an unreachable MySQL is a one-line "unreachable" error naming the address', async () => {
  const loaded = testConfig({ 'mysql.url': 'mysql://root@127.0.0.1:1/ganymede', 'mysql.connect_timeout_ms': 2000 });
  await assert.rejects(runDbMigrate({ loaded }), (error: unknown) => {
    assert.ok(error instanceof GanymedeError);
    assert.equal(error.exitCode, ExitCode.unreachable);
    assert.match(error.message, /cannot reach the Ganymede database at 127\.0\.0\.1:1: ECONNREFUSED/);
    return true;
  });
});
