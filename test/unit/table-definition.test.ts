// A delivered CREATE TABLE is data: what the closed grammar refuses, and what the centre writes back from
// what it read. The statements a compromised GEO was seen to slip into a signed manifest come first.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createTableSql } from '../../src/load/create-table-sql.js';
import { TableDefinitionError, parseTableDefinition } from '../../src/dump/table-definition.js';
import { DumpManifestError, parseDumpManifest } from '../../src/dump/dump-manifest.js';

const refused: Array<[string, string, RegExp]> = [
  ['a table in the Ganymede database', 'CREATE TABLE `ganymede`.`pwned_by_emea` (x INT)', /must not name another schema/],
  ['CREATE … SELECT from another GEO', 'CREATE TABLE accounts SELECT * FROM ganymede.events WHERE geo_id=2', /"\(" expected, found "SELECT"/],
  ['columns, then SELECT', 'CREATE TABLE accounts (x INT) SELECT * FROM ganymede.events', /reaches outside the table/],
  ['columns, then AS SELECT', 'CREATE TABLE accounts (x INT) AS SELECT 1', /reaches outside the table/],
  ['LIKE another table', 'CREATE TABLE accounts LIKE ganymede.geos', /"\(" expected/],
  ['IF NOT EXISTS', 'CREATE TABLE IF NOT EXISTS t (x INT)', /a plain CREATE TABLE expected/],
  ['a second statement', 'CREATE TABLE t (x INT); DROP DATABASE ganymede', /a table option we know expected, found "DROP"/],
  ['DATA DIRECTORY', "CREATE TABLE t (x INT) ENGINE=MyISAM DATA DIRECTORY='/var/lib/ganymede'", /reaches outside the table/],
  ['INDEX DIRECTORY', "CREATE TABLE t (x INT) INDEX DIRECTORY='/tmp'", /reaches outside the table/],
  ['a FEDERATED connection', "CREATE TABLE t (x INT) ENGINE=FEDERATED CONNECTION='mysql://root@10.0.0.1/ganymede/geos'", /reaches outside the table/],
  ['a MERGE union', 'CREATE TABLE t (x INT) ENGINE=MRG_MyISAM UNION=(ganymede.geos)', /reaches outside the table/],
  ['partitions', 'CREATE TABLE t (x INT) ENGINE=InnoDB /*!50100 PARTITION BY HASH (x) PARTITIONS 4 */', /reaches outside the table/],
  ['system versioning', 'CREATE TABLE t (x INT) WITH SYSTEM VERSIONING', /reaches outside the table/],
  ['a type that is no type', 'CREATE TABLE t (x (SELECT 1))', /a MySQL column type expected/],
  ['an expression as a length', 'CREATE TABLE t (x VARCHAR(10+1))', /"\)" expected/],
  ['a length past MySQL\'s', 'CREATE TABLE t (x VARCHAR(99999999999))', /a whole number expected/],
  ['an unquoted ENUM member', 'CREATE TABLE t (x ENUM(a, b))', /a quoted ENUM member expected/],
  ['a key on a column that is not there', 'CREATE TABLE t (x INT, KEY k (`y`))', /names column `y`, which the table does not have/],
  ['a column twice', 'CREATE TABLE t (x INT, X INT)', /column `X` appears twice/],
  ['a NUL in a name', 'CREATE TABLE `t\0` (x INT)', /is not a MySQL name/],
  ['an unterminated string', "CREATE TABLE t (x INT COMMENT 'abc)", /not SQL we read: an unterminated string/],
  ['no columns', 'CREATE TABLE t ()', /a MySQL column type expected|a column name expected/],
];

describe('table definitions: what a delivery may not say', () => {
  for (const [what, sql, reason] of refused) {
    test(`refused: ${what}`, () => {
      assert.throws(() => parseTableDefinition(sql), (error: Error) => {
        assert.ok(error instanceof TableDefinitionError, `${error.name}: ${error.message}`);
        assert.match(error.message, reason);
        return true;
      });
    });
  }
});

describe('table definitions: rebuilt by the centre from what was read', () => {
  test('expressions in defaults, generated columns, checks and foreign keys never reach the statement', () => {
    const sql = [
      'CREATE TABLE `accounts` (',
      "  `id` int(11) NOT NULL DEFAULT (extractvalue(1, concat(0x7e, (SELECT token_hash FROM ganymede.geos LIMIT 1)))),",
      "  `v` int(11) GENERATED ALWAYS AS ((SELECT COUNT(*) FROM ganymede.events)) VIRTUAL,",
      "  `n` varchar(10) DEFAULT 'x' COMMENT 'DROP DATABASE ganymede' CHECK (`n` <> (SELECT 1)),",
      '  PRIMARY KEY (`id`),',
      '  KEY `f` ((`id` + (SELECT 1))),',
      '  CONSTRAINT `fk` FOREIGN KEY (`id`) REFERENCES `ganymede`.`geos` (`id`) ON DELETE CASCADE,',
      '  CONSTRAINT `c` CHECK (sleep(100))',
      ") ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci COMMENT='; DROP TABLE x'",
    ].join('\n');
    const definition = parseTableDefinition(sql);
    assert.deepEqual(definition.columns.map((c) => [c.name, c.generated]), [['id', false], ['v', true], ['n', false]]);
    assert.equal(
      createTableSql(definition),
      'CREATE TABLE `accounts` (\n  `id` INT(11) NOT NULL,\n  `v` INT(11) NULL,\n  `n` VARCHAR(10) NULL,\n  PRIMARY KEY (`id`)\n) ' +
        'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci',
    );
  });

  test('an SRID is a whole number on a spatial column', () => {
    assert.throws(() => parseTableDefinition('CREATE TABLE t (x int SRID 4326)'), /column `x`: a INT has no SRID/);
    assert.throws(() => parseTableDefinition('CREATE TABLE t (p point SRID (4326))'), /an SRID: a whole number expected/);
  });

  test('names and ENUM members are quoted again by the centre, whatever they hold', () => {
    const sql = "CREATE TABLE `we``ird` (`a``b` enum('it''s','back\\\\slash','x\\0y','') CHARACTER SET latin1 NOT NULL, `表` set('a','b'))";
    const built = createTableSql(parseTableDefinition(sql));
    assert.match(built, /^CREATE TABLE `we``ird` \(/);
    assert.match(built, /`a``b` ENUM\('it''s','back\\\\slash','x\\0y',''\) CHARACTER SET latin1 NOT NULL/);
    assert.match(built, /`表` SET\('a','b'\) NULL/);
  });

  test('an engine that reaches elsewhere is loaded as InnoDB; MyISAM and Aria are kept', () => {
    assert.equal(parseTableDefinition('CREATE TABLE t (x INT) ENGINE=CONNECT').engine, 'InnoDB');
    assert.equal(parseTableDefinition('CREATE TABLE t (x INT) ENGINE=myisam').engine, 'MyISAM');
    assert.equal(parseTableDefinition('CREATE TABLE t (x INT) ENGINE=Aria PAGE_CHECKSUM=1 TRANSACTIONAL=1').engine, 'Aria');
  });

  test("MariaDB's JSON check is the one CHECK kept, written by us", () => {
    const definition = parseTableDefinition(
      'CREATE TABLE `j` (`a` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`a`)), `b` longtext, ' +
        'CONSTRAINT `b` CHECK (json_valid(`b`)), CONSTRAINT `x` CHECK (json_valid(`a`) and 1))',
    );
    assert.deepEqual(definition.columns.map((c) => [c.name, c.jsonCheck]), [['a', true], ['b', true]]);
    assert.match(createTableSql(definition), /`a` LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL CHECK \(json_valid\(`a`\)\)/);
  });

  test('MySQL 8 forms: version comments, invisible columns, SRID, functional keys', () => {
    const definition = parseTableDefinition(
      'CREATE TABLE `m` (\n  `id` int NOT NULL,\n  `h` int DEFAULT NULL /*!80023 INVISIBLE */,\n  `p` point NOT NULL /*!80003 SRID 4326 */,\n' +
        '  `d` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),\n  PRIMARY KEY (`id`),\n' +
        '  KEY `fn` ((`id` * 2)),\n  SPATIAL KEY `p` (`p`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci',
    );
    assert.deepEqual(definition.columns.map((c) => [c.name, c.invisible, c.srid]), [['id', false, null], ['h', true, null], ['p', false, 4326], ['d', false, null]]);
    assert.deepEqual(definition.indexes.map((index) => [index.kind, index.name]), [['primary', null], ['spatial', 'p']]);
  });
});

describe('the manifest: a definition must describe the data it comes with', () => {
  const manifest = (table: Record<string, unknown>, formatVersion = 2) => ({
    kind: 'manifest', format: 'ganymede-mysql-dump', formatVersion, dataFormat: 'mysql-tsv-binary', rowChecksum: 'crc32-sum64',
    source: { serverVersion: '10.11', database: 'cc', sqlMode: '', timeZone: '+00:00' }, snapshotAt: '2026-01-01T00:00:00Z', skipped: [],
    tables: [{ name: 't', file: '0001.tsv', engine: 'InnoDB', rows: 0, bytes: 0, checksum: '0000000000000000', serverChecksum: null, ...table }],
  });
  const column = (name: string, encoding = 'raw') => ({ name, type: 'int(11)', encoding });
  const refusedManifest = (value: unknown, reason: RegExp) =>
    assert.throws(() => parseDumpManifest(value), (error: Error) => error instanceof DumpManifestError && reason.test(error.message));

  test('SQL that is not a plain table definition refuses the whole manifest, naming the table', () => {
    refusedManifest(manifest({ createSql: 'CREATE TABLE `ganymede`.`t` (x INT)', columns: [column('x')] }), /tables\[0\] \("t"\)\.createSql: .*another schema/);
  });
  test('a definition of another table than the one named', () => {
    refusedManifest(manifest({ createSql: 'CREATE TABLE `geos` (x INT)', columns: [column('x')] }), /it defines table "geos", not "t"/);
  });
  test('columns in the data that the definition lacks, or the other way round', () => {
    refusedManifest(manifest({ createSql: 'CREATE TABLE `t` (x INT)', columns: [column('x'), column('y')] }), /"y" is in the data but not in the table's definition/);
    refusedManifest(manifest({ createSql: 'CREATE TABLE `t` (x INT, y INT)', columns: [column('x')] }), /column "y" is defined but not in the data/);
  });
  test('a column that would travel in another encoding than its type needs', () => {
    refusedManifest(manifest({ createSql: 'CREATE TABLE `t` (x FLOAT)', columns: [column('x', 'raw')] }), /"x" is a FLOAT, which travels as float-as-double, not raw/);
  });
  test('format 1 left generated columns out: such a delivery asks for a newer agent', () => {
    const table = { createSql: 'CREATE TABLE `t` (x INT, v INT AS (x * 2) VIRTUAL)', columns: [column('x')] };
    refusedManifest(manifest(table, 1), /generated column "v" is not in the data .*upgrade the GEO's agent/);
    assert.equal(parseDumpManifest(manifest({ ...table, columns: [column('x'), column('v')] })).tables[0]!.columns.length, 2);
  });
});
