// The MySQL dump round trip against the real server: extract → bytes → load-tables into a second
// database, then CHECKSUM TABLE and COUNT(*) must agree for every table.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import mysql, { type Connection } from 'mysql2';
import { mysqlOptions, testDatabases, type TestDatabases } from '../support/mysql.js';
import { estimateTables, matchesTableFilter, openSnapshot, type OpenSnapshotOptions } from '../../src/extract/extract.js';
import { loadTable, verifyTable, TableMismatchError } from '../../src/load/load-tables.js';
import { parseDumpManifest, parseDumpPlan, DumpManifestError, type DumpManifest } from '../../src/dump/dump-manifest.js';
import { createTortureSchema, generatedTable, generatedTableValuesSql, hugeBlobBytes } from './torture-schema.js';

interface Dump {
  manifest: DumpManifest;
  files: Map<string, Buffer>;
}

function connect(database: string): Connection {
  return mysql.createConnection(mysqlOptions(database));
}

async function dumpToMemory(conn: Connection, options: OpenSnapshotOptions, beforeRead?: () => Promise<void>): Promise<Dump> {
  const snapshot = await openSnapshot(conn, options);
  try {
    parseDumpPlan(JSON.stringify(snapshot.plan));
    await beforeRead?.();
    const files = new Map<string, Buffer>();
    for (const table of snapshot.plan.tables) {
      const chunks: Buffer[] = [];
      for await (const chunk of snapshot.dumpTable(table)) chunks.push(chunk as Buffer);
      files.set(table.file, Buffer.concat(chunks));
    }
    // Through JSON and the parser, as the centre will see it.
    return { manifest: parseDumpManifest(JSON.stringify(snapshot.manifest())), files };
  } finally {
    await snapshot.close();
  }
}

async function loadFromMemory(conn: Connection, { manifest, files }: Dump): Promise<void> {
  for (const table of manifest.tables) {
    const data = files.get(table.file)!;
    // Odd-sized pieces, so rows and escapes straddle chunk boundaries as they will after decompression.
    const pieces = Array.from({ length: Math.ceil(data.length / 99_991) }, (_, i) => data.subarray(i * 99_991, (i + 1) * 99_991));
    const loaded = await loadTable(conn, table, Readable.from(pieces));
    assert.equal(loaded.rows, table.rows, `rows loaded into ${table.name}`);
    const verified = await verifyTable(conn, table, { sourceServerVersion: manifest.source.serverVersion, loadWarnings: loaded.warningSamples });
    // A table with generated columns is compared by its row checksum only: the centre stores them as plain columns.
    assert.equal(verified.serverChecksumCompared, table.serverChecksum !== null && table.name !== generatedTable);
  }
}

async function tableFacts(admin: Connection, database: string, table: string): Promise<string> {
  const name = `\`${database}\`.\`${table.replaceAll('`', '``')}\``;
  if (table === generatedTable) {
    const [rows] = await admin.promise().query({ sql: generatedTableValuesSql(name), rowsAsArray: true });
    return JSON.stringify(rows);
  }
  const [[checksum]] = (await admin.promise().query({ sql: `CHECKSUM TABLE ${name}`, rowsAsArray: true })) as unknown as [[[string, number]]];
  const [[count]] = (await admin.promise().query({ sql: `SELECT COUNT(*) FROM ${name}`, rowsAsArray: true })) as unknown as [[[number]]];
  return `checksum ${checksum[1]}, ${count[0]} rows`;
}

async function end(conn: Connection): Promise<void> {
  await conn.promise().end();
}

describe('MySQL dump round trip (torture schema)', () => {
  let dbs: TestDatabases;
  let admin: Connection;
  let source: string;
  let target: string;
  let dump: Dump;
  let tortureTables: string[];

  before(async () => {
    dbs = await testDatabases();
    source = await dbs.create('torture_src');
    target = await dbs.create('torture_dst');
    admin = connect(source);
    tortureTables = await createTortureSchema(admin, { mariadbTypes: true });
    const conn = connect(source);
    try {
      // A source session in another time zone and sql_mode: the extract must not inherit either.
      await conn.promise().query("SET time_zone = '+05:30', sql_mode = 'ANSI_QUOTES,PAD_CHAR_TO_FULL_LENGTH'");
      dump = await dumpToMemory(conn, { database: source, serverChecksum: true });
    } finally {
      await end(conn);
    }
  });

  after(async () => {
    await end(admin);
    await dbs.dropAll();
  });

  test('plans every base table, notes the view, and names files safely', () => {
    assert.deepEqual(dump.manifest.tables.map((t) => t.name).sort(), [...tortureTables].sort());
    assert.deepEqual(dump.manifest.skipped, [{ name: 'v_ints', type: 'VIEW' }]);
    assert.ok(dump.manifest.tables.every((t, i) => t.file === `${String(i + 1).padStart(4, '0')}.tsv`));
    const columns = (name: string) => dump.manifest.tables.find((t) => t.name === name)!.columns;
    assert.deepEqual(columns('generated').map((c) => c.name), ['id', 'a', 'v', 's', 'h'], 'generated columns travel with the data');
    assert.equal(columns('floats').find((c) => c.name === 'f')!.encoding, 'float-as-double');
    assert.equal(columns('enums').find((c) => c.name === 's64')!.encoding, 'index');
    assert.match(dump.manifest.snapshotAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const huge = dump.manifest.tables.find((t) => t.name === 'huge')!;
    assert.ok(huge.bytes > hugeBlobBytes && huge.rows === 2, `huge: ${huge.bytes} bytes, ${huge.rows} rows`);
  });

  test('loads into a second database with every table bit-exact', async () => {
    const conn = connect(target);
    try {
      // A hostile target session: the loader must set up its own.
      await conn.promise().query("SET time_zone = '-08:00', sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,ANSI_QUOTES'");
      await loadFromMemory(conn, dump);
    } finally {
      await end(conn);
    }
    for (const table of tortureTables) {
      assert.equal(await tableFacts(admin, target, table), await tableFacts(admin, source, table), `table ${table}`);
    }
    const [[hugeLength]] = (await admin.promise().query({ sql: `SELECT LENGTH(b) FROM \`${target}\`.huge WHERE id = 1`, rowsAsArray: true })) as unknown as [[[number]]];
    assert.equal(hugeLength[0], hugeBlobBytes);
  });

  test('a changed value or a missing row fails verification, naming the table', async () => {
    const conn = connect(target);
    try {
      const texts = dump.manifest.tables.find((t) => t.name === 'texts')!;
      await conn.promise().query("UPDATE texts SET v = CONCAT(v, 'x') WHERE id = 5");
      await assert.rejects(verifyTable(conn, texts), (error: Error) => {
        assert.ok(error instanceof TableMismatchError);
        assert.match(error.message, /table `texts` does not match the dump after loading: same 5 rows but different values/);
        return true;
      });
      const nopk = dump.manifest.tables.find((t) => t.name === 'nopk')!;
      await conn.promise().query('DELETE FROM nopk WHERE a = 2');
      await assert.rejects(verifyTable(conn, nopk), /table `nopk` does not match the dump after loading: it has 5 rows, the dump 6/);
    } finally {
      await end(conn);
    }
  });

  test('the manifest parser names what is wrong', () => {
    const broken = JSON.parse(JSON.stringify(dump.manifest)) as Record<string, unknown> & { tables: Record<string, unknown>[] };
    delete broken.tables[1]!.rows;
    broken.tables[2]!.file = '../etc/passwd';
    assert.throws(() => parseDumpManifest(broken), (error: Error) => {
      assert.ok(error instanceof DumpManifestError);
      assert.match(error.message, /tables\[1\]\.rows: /);
      assert.match(error.message, /tables\[2\]\.file: .*0001\.tsv/);
      return true;
    });
    assert.throws(() => parseDumpManifest('{"format": "nope"'), /malformed dump manifest: not JSON/);
    assert.throws(() => parseDumpPlan(dump.manifest), /malformed dump plan: kind: /);
  });
});

describe('MySQL dump snapshot', () => {
  let dbs: TestDatabases;
  let admin: Connection;
  let source: string;

  before(async () => {
    dbs = await testDatabases();
    source = await dbs.create('snap_src');
    admin = connect(source);
    const db = admin.promise();
    for (const sql of [
      'CREATE TABLE accounts (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))',
      'CREATE TABLE a1 (id INT)', 'CREATE TABLE a2 (id INT)', 'CREATE TABLE b1 (id INT)', 'CREATE TABLE `a.x` (id INT)',
      'INSERT INTO a1 VALUES (1), (2), (3)',
    ]) {
      await db.query(sql);
    }
    await db.query('INSERT INTO accounts (v) VALUES ?', [Array.from({ length: 100 }, (_, i) => [`account ${i}`])]);
  });

  after(async () => {
    await end(admin);
    await dbs.dropAll();
  });

  test('rows written by another connection after the snapshot started are not in the extract', async () => {
    const before = await tableFacts(admin, source, 'accounts');
    const writer = connect(source);
    const conn = connect(source);
    try {
      const dump = await dumpToMemory(conn, { database: source, include: ['accounts'], serverChecksum: true }, async () => {
        // Writers are not locked out: these would time out in 2 s if the snapshot held row locks.
        const w = writer.promise();
        await w.query('SET SESSION innodb_lock_wait_timeout = 2');
        await w.query("INSERT INTO accounts (v) VALUES ('late 1'), ('late 2')");
        await w.query("UPDATE accounts SET v = 'changed' WHERE id = 1");
        await w.query('DELETE FROM accounts WHERE id = 2');
      });
      assert.equal(dump.manifest.tables[0]!.rows, 100);
      assert.notEqual(await tableFacts(admin, source, 'accounts'), before);
      // CHECKSUM TABLE inside the snapshot answers for the snapshot, not for the latest data.
      assert.equal(`checksum ${dump.manifest.tables[0]!.serverChecksum}, 100 rows`, before);
      const target = await dbs.create('snap_dst');
      const loader = connect(target);
      try {
        await loadFromMemory(loader, dump);
      } finally {
        await end(loader);
      }
      assert.equal(await tableFacts(admin, target, 'accounts'), before);
    } finally {
      await end(writer);
      await end(conn);
    }
  });

  test('include and exclude choose the tables, and unknown includes are reported', async () => {
    const conn = connect(source);
    try {
      const snapshot = await openSnapshot(conn, { database: source, include: ['a*', 'b1', 'nope'], exclude: ['a2', 'accounts'] });
      await snapshot.close();
      assert.deepEqual(snapshot.plan.tables.map((t) => t.name), ['a.x', 'a1', 'b1']);
      assert.deepEqual(snapshot.unmatchedIncludes, ['nope']);
      const estimates = await estimateTables(conn, { database: source, include: ['a?'] });
      assert.deepEqual(estimates.map((t) => t.name), ['a1', 'a2']);
      assert.ok(estimates.every((t) => t.engine === 'InnoDB' && Number.isFinite(t.estimatedRows)));
    } finally {
      await end(conn);
    }
    assert.equal(matchesTableFilter('a.x', { include: ['a?x'] }), true);
    assert.equal(matchesTableFilter('abx', { include: ['a.x'] }), false);
    assert.equal(matchesTableFilter('表', { include: ['?'] }), true);
  });

  test('a database that does not exist is a clear error', async () => {
    const conn = connect(source);
    try {
      await assert.rejects(openSnapshot(conn, { database: 'gmdt_no_such_db' }), /database `gmdt_no_such_db` does not exist/);
    } finally {
      await end(conn);
    }
  });
});
