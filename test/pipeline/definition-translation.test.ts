// MySQL 8.0/8.4 and MariaDB 10.11/11.4 GEOs' tables loaded on the rig's server through the load's own path
// (loadDump: create, LOAD DATA, read back against the manifest), into throwaway schemas: what the server
// could not create is created otherwise, said, and every row still proves exact. On the rig's MariaDB 10.11
// that is the MySQL 8 direction; the other is checked as text in test/unit/definition-translation.test.ts.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mysql, { type Connection } from 'mysql2';
import { DefinitionTranslationError, describeTranslation, translateDefinition } from '../../src/load/definition-translation.js';
import { dataDir } from '../../src/dump/dump-archive.js';
import type { DumpManifest } from '../../src/dump/dump-manifest.js';
import { loadDump } from '../../src/load/load-dump.js';
import { serverOf, TableMismatchError } from '../../src/load/load-tables.js';
import type { ServerIdentity } from '../../src/mysql-server.js';
import { parseTableDefinition } from '../../src/dump/table-definition.js';
import { recordTranslations } from '../../src/worker/translation-events.js';
import { mysqlOptions, testDatabases, type TestDatabases } from '../support/mysql.js';
import { deliveredTable, foreignTables, mysql80Customer, type ForeignTable } from './foreign-definitions.js';

describe('a GEO of the other kind, loaded on this server', () => {
  let dbs: TestDatabases;
  let work: string;
  let server: ServerIdentity;
  const connections: Connection[] = [];

  /** A fresh schema and a connection to it. */
  async function connectFresh(label: string): Promise<{ schema: string; conn: Connection }> {
    const schema = await dbs.create(label);
    const conn = mysql.createConnection(mysqlOptions(schema));
    connections.push(conn);
    return { schema, conn };
  }

  /** The fixture delivered as an unpacked dump, loaded by loadDump. */
  async function load(conn: Connection, fixture: ForeignTable, manifestOf: (manifest: DumpManifest) => DumpManifest = (manifest) => manifest, definition?: 'as-dumped') {
    const { manifest, data } = deliveredTable(fixture);
    const dir = await mkdtemp(join(work, 'dump-'));
    await mkdir(join(dir, dataDir));
    await writeFile(join(dir, dataDir, `${manifest.tables[0]!.file}.000001`), data);
    return loadDump(conn, dir, manifestOf(manifest), { definition });
  }

  async function columnCollations(conn: Connection, schema: string, table: string): Promise<Map<string, string | null>> {
    const [rows] = (await conn.promise().query({
      sql: 'SELECT COLUMN_NAME, COLLATION_NAME, TABLE_COLLATION FROM information_schema.COLUMNS JOIN information_schema.TABLES USING (TABLE_SCHEMA, TABLE_NAME) WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      values: [schema, table],
      rowsAsArray: true,
    })) as unknown as [Array<Array<Buffer | string | null>>];
    // The load session reads results as binary.
    const text = rows.map((row) => row.map((value) => (value === null ? null : String(value))));
    return new Map([...text.map(([column, collation]) => [column!, collation ?? null] as [string, string | null]), [':table', text[0]?.[2] ?? null]]);
  }

  before(async () => {
    dbs = await testDatabases();
    work = await mkdtemp(join(tmpdir(), 'gmd-translate-'));
    const probe = await connectFresh('probe');
    server = await serverOf(probe.conn);
  });
  after(async () => {
    for (const conn of connections) conn.destroy();
    await dbs?.dropAll();
    await rm(work, { recursive: true, force: true });
  });

  for (const fixture of foreignTables) {
    const name = parseTableDefinition(fixture.createSql).name;
    test(`${name} from ${fixture.server}: created as this server can, every row verified, each change said`, async () => {
      const { schema, conn } = await connectFresh(name);
      const expected = translateDefinition(parseTableDefinition(fixture.createSql), server).translations;
      const loaded = await load(conn, fixture);
      assert.equal(loaded.tables.length, 1);
      const [table] = loaded.tables;
      assert.equal(table!.rows, fixture.rows.length);
      assert.equal(table!.warnings, 0);
      assert.deepEqual(table!.translations.map(describeTranslation), expected.map(describeTranslation));
      // What the server created is what was said.
      const collations = await columnCollations(conn, schema, name);
      for (const change of table!.translations.filter((translation) => /COLLATE/.test(translation.from))) {
        assert.equal(collations.get(change.column ?? ':table'), change.to, describeTranslation(change));
      }
    });
  }

  test('on MariaDB, the MySQL 8 tables change as documented, and the unique keys keep rows that differ by case or a trailing space', async (t) => {
    if (server.flavor !== 'mariadb') return t.skip(`the rig's server is ${server.text}`);
    const { schema, conn } = await connectFresh('customer_again');
    const loaded = await load(conn, mysql80Customer);
    assert.ok(loaded.tables[0]!.translations.some((change) => change.from === 'COLLATE=utf8mb4_0900_ai_ci'));
    const [rows] = (await conn.promise().query({ sql: 'SELECT email, HEX(code), ST_SRID(loc) FROM customer ORDER BY id', rowsAsArray: true })) as unknown as [unknown[][]];
    // The load session reads results as binary.
    const text = rows.map((row) => row.map((value) => (Buffer.isBuffer(value) ? value.toString() : value)));
    assert.deepEqual(text, [['ann@example.com', '78', 4326], ['Ann@example.com', '7820', 4326], ['bjørn@example.com', null, 4326]]);
    const [[visible]] = (await conn.promise().query({ sql: 'SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND EXTRA LIKE ?', values: [schema, 'customer', '%INVISIBLE%'], rowsAsArray: true })) as unknown as [[[number]]];
    assert.equal(Number(visible[0]), 2, 'both invisible columns stay invisible');
  });

  test('why NO PAD: the same rows under PAD collations collide in the unique key, and the load does not pass', async () => {
    const { conn } = await connectFresh('customer_pad');
    const padded: ForeignTable = {
      ...mysql80Customer,
      // As a careless translation would have it: utf8mb4_bin pads, so 'x' and 'x ' are one key.
      createSql: 'CREATE TABLE `customer` (`id` bigint unsigned NOT NULL, `ext_id` binary(16) NOT NULL, `email` varchar(255) COLLATE utf8mb4_bin NOT NULL, ' +
        '`code` varchar(20) COLLATE utf8mb4_bin DEFAULT NULL, `name` varchar(100) NOT NULL, `created_at` datetime NOT NULL, `score` decimal(10,2) DEFAULT NULL, ' +
        '`prefs` json DEFAULT NULL, `note` varchar(20) DEFAULT NULL, `version` int NOT NULL, `loc` point NOT NULL, `shapes` geometrycollection DEFAULT NULL, ' +
        'PRIMARY KEY (`id`), UNIQUE KEY `email` (`email`), UNIQUE KEY `code` (`code`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
    };
    // MariaDB's bulk load into an empty InnoDB table (unique_checks=0) fails at COMMIT; a server that skips the
    // duplicate instead leaves 2 rows of 3, which the read-back refuses.
    await assert.rejects(load(conn, padded, (manifest) => manifest, 'as-dumped'), (error: Error) => {
      if (error instanceof TableMismatchError) assert.match(error.message, /^table `customer` does not match the dump after loading: it has 2 rows, the dump 3/);
      else assert.match(error.message, /^loading table `customer`: /);
      return true;
    });
  });

  test('a clause this server has no equivalent for stops the table, naming it', async (t) => {
    if (server.flavor !== 'mariadb') return t.skip(`gb18030 is MySQL's; the rig's server is ${server.text}`);
    const { conn } = await connectFresh('gb18030');
    const chinese: ForeignTable = {
      server: '8.0.36',
      createSql: 'CREATE TABLE `cn` (\n  `id` int NOT NULL,\n  `name` varchar(20) CHARACTER SET gb18030 COLLATE gb18030_chinese_ci DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci',
      rows: [['1', Buffer.from('d6d0', 'hex')]],
    };
    await assert.rejects(load(conn, chinese), (error: Error) => {
      assert.ok(error instanceof DefinitionTranslationError, error.message);
      assert.match(error.message, /^table `cn`: column `name`: CHARACTER SET gb18030 cannot be created on MariaDB \d+\.\d+\.\d+, which has no gb18030/);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
  });

  test("the step's events: one per table that changed, the first few only, the log all", async () => {
    const events: Array<{ phase: string; table?: string | undefined; message?: string | undefined }> = [];
    const lines: string[] = [];
    const context = { event: async (event: (typeof events)[number]) => void events.push(event), log: { info: (line: string) => void lines.push(line) } };
    const translations = translateDefinition(parseTableDefinition(mysql80Customer.createSql), { flavor: 'mariadb', version: [10, 11, 19], text: '10.11.19-MariaDB' }).translations;
    const tables = Array.from({ length: 23 }, (_, i) => ({ table: `t${String(i).padStart(2, '0')}`, translations: translations.map((change) => ({ ...change, table: `t${String(i).padStart(2, '0')}` })) }));
    tables.push({ table: 'plain', translations: [] });
    assert.equal(await recordTranslations(context as never, tables), 23);
    assert.equal(events.length, 21);
    assert.equal(events[0]!.table, 't00');
    assert.match(events[0]!.message!, /^created otherwise than the GEO defined it: table `t00`: COLLATE=utf8mb4_0900_ai_ci → utf8mb4_uca1400_nopad_ai_ci \(MariaDB has no MySQL 0900 collations/);
    assert.equal(events[20]!.message, 'and 3 more tables created otherwise than the GEO defined them (all of them: the log)');
    assert.equal(lines.length, 23 * translations.length);
  });
});
