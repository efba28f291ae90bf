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

test('upgrading to retired_deliveries puts on record the files refused before it, in quarantine under the name their refusal gives', async () => {
  const database = await databases.create('retired');
  const loaded = testConfig({ 'mysql.url': mysqlUrlFor(database) });
  await runDbMigrate({ loaded });
  const db = await openStateDb(loaded);
  try {
    const { addGeo } = await import('../../src/state/geos.js');
    const { closeTransaction, openTransaction } = await import('../../src/state/transactions.js');
    const geo = (await addGeo(db, { name: 'emea', publicKey: 'k', keyFingerprint: 'F'.repeat(40) }))!.geo;
    const refusals = [
      ['emea_2026-01-01T00_d1.tar.zst.gpg', 'emea_2026-01-01T00_d1.tar.zst.gpg refused: its sha256 is 00…; moved to /var/lib/ganymede/quarantine/emea/emea_2026-01-01T00_d1.tar.zst.gpg.txn-1-d1'],
      ['emea_2026-01-01T01_d1.tar.zst.gpg', 'transaction 2 refused: GEO emea is disabled; its file was moved to swift://inbox/_quarantine/emea/emea_2026-01-01T01_d1.tar.zst.gpg'],
      // A configuration problem refuses too, and moves nothing: that file is still in the inbox.
      ['emea_2026-01-01T02_d1.tar.zst.gpg', 'centre.private_key_file: cannot read /etc/ganymede/centre.key.asc: ENOENT'],
    ];
    for (const [hour, [name, error]] of refusals.entries()) {
      const opened = await openTransaction(db, geo.id, new Date(Date.UTC(2026, 0, 1, hour)));
      assert.equal(opened.kind, 'opened');
      await closeTransaction(db, opened.txn.id, { name: name!, size: 10, sha256: 'a'.repeat(64) });
      await db.query("UPDATE transactions SET state = 'refused', error = ? WHERE id = ?", [error, opened.txn.id]);
    }
    // As a database of the version before: no table of retired deliveries yet (nor anything of later versions,
    // whose statements run again harmlessly).
    await db.query('DROP TABLE retired_deliveries');
    await db.query('DELETE FROM schema_migrations WHERE version >= 10');
    const upgraded = await runDbMigrate({ loaded });
    assert.equal(upgraded.applied[0]?.version, 10);
    const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT file_name, reason, location FROM retired_deliveries ORDER BY cycle_start');
    assert.deepEqual(rows.map((row) => [row.file_name, row.reason, row.location]), [
      [refusals[0]![0], 'quarantined', `emea/${refusals[0]![0]}.txn-1-d1`],
      [refusals[1]![0], 'quarantined', `emea/${refusals[1]![0]}`],
    ]);
  } finally {
    await db.end();
  }
});
