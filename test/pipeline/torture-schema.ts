// A schema built to break a dump: every value MySQL stores that a text round trip could alter.
// Written with sql_mode '' so zero dates, ENUM error values and the like can exist, as on old GEOs.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Connection } from 'mysql2';

/** Base tables the torture schema creates (without the MariaDB-only types). */
export const tortureTables = [
  'auto_inc', 'binaries', 'bits', 'composite', 'decimals', 'empty_table', 'enums', 'fk_child', 'fk_parent',
  'floats', 'generated', 'huge', 'ints', 'json_docs', 'myisam_t', 'nopk', 'one_col', 'order', 'select',
  'spatial', 'temporal', 'texts', 'we`ird name', 'größe', '表',
];

/**
 * The table with generated columns. The centre creates them as plain columns holding the dumped values, which
 * CHECKSUM TABLE counts differently from generated ones: compare this query's rows instead (h is INVISIBLE).
 */
export const generatedTable = 'generated';
export const generatedTableValuesSql = (qualifiedName: string) => `SELECT id, a, v, s, h FROM ${qualifiedName} ORDER BY id`;

/** Over 16 MiB: larger than a MySQL packet, and than this server's max_allowed_packet. */
export const hugeBlobBytes = 17 * 1024 * 1024;

const controlChars = String.fromCharCode(...Array.from({ length: 32 }, (_, i) => i)) + '\x7f';
const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const decimalMax = `${'9'.repeat(35)}.${'9'.repeat(30)}`;
const setMembers = Array.from({ length: 64 }, (_, i) => `m${i}`);

const statements: [string, unknown[]?][] = [
  [`CREATE TABLE ints (id INT PRIMARY KEY, t TINYINT, tu TINYINT UNSIGNED, s SMALLINT, su SMALLINT UNSIGNED,
     m MEDIUMINT, mu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, b BIGINT, bu BIGINT UNSIGNED, z INT(5) ZEROFILL)`],
  [`INSERT INTO ints VALUES
     (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, 0),
     (2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615, 42),
     (3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 99999),
     (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`],
  ['CREATE TABLE auto_inc (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10))'],
  ["SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'"],
  ["INSERT INTO auto_inc VALUES (0, 'zero'), (5, 'five'), (-3, 'minus')"],
  ["SET SESSION sql_mode = ''"],
  ['CREATE TABLE decimals (id INT PRIMARY KEY, d DECIMAL(65,30), du DECIMAL(10,0) UNSIGNED, f DECIMAL(5,5))'],
  [`INSERT INTO decimals VALUES (1, ${decimalMax}, 9999999999, 0.99999), (2, -${decimalMax}, 0, -0.99999),
     (3, 0.${'0'.repeat(29)}1, 1, 0.00001), (4, -0.${'0'.repeat(29)}1, NULL, 0), (5, 0, 0, NULL)`],
  ['CREATE TABLE floats (id INT PRIMARY KEY, f FLOAT, d DOUBLE, fmd FLOAT(7,4), dmd DOUBLE(20,10), fu FLOAT UNSIGNED)'],
  [`INSERT INTO floats VALUES
     (1, -0e0, -0e0, -0e0, -0e0, 0),
     (2, 1.401298464324817e-45, 4.9406564584124654e-324, 0.0001, 0.0000000001, 1e-40),
     (3, 1.1754943508222875e-38, 2.2250738585072014e-308, 999.9999, 9999999999.9999999999, 1.1754942e-38),
     (4, 3.4028234663852886e38, 1.7976931348623157e308, -999.9999, -9999999999.9999999999, 3.4028234663852886e38),
     (5, -3.4028234663852886e38, -1.7976931348623157e308, 3.14159, 3.1415926535, 16777217),
     (6, 0.1, 0.1, 0.1, 0.1, 0.1), (7, 123456.789, 2.225073858507201e-308, 1.2346, 1e-10, 0.333333333333),
     (8, 3.141592653589793, 3.141592653589793, NULL, NULL, NULL), (9, NULL, NULL, NULL, NULL, NULL)`],
  ['CREATE TABLE bits (id INT PRIMARY KEY, b1 BIT(1), b8 BIT(8), b13 BIT(13), b64 BIT(64))'],
  [`INSERT INTO bits VALUES (1, b'0', 0x00, 0, 0), (2, b'1', 0x09, 8191, 0xFFFFFFFFFFFFFFFF),
     (3, 1, 0x0A, 92, 0x5C0A09005C0A0900), (4, 0, 0x5C, 10, 0x8000000000000000), (5, 1, 0xFF, 0, 1),
     (6, NULL, NULL, NULL, NULL)`],
  [`CREATE TABLE temporal (id INT PRIMARY KEY, d DATE, t TIME, t6 TIME(6), dt DATETIME, dt6 DATETIME(6),
     ts TIMESTAMP NULL DEFAULT NULL, ts6 TIMESTAMP(6) NULL DEFAULT NULL, y YEAR)`],
  // Inserted in +05:30, so the stored UTC values are the TIMESTAMP range's ends.
  ["SET SESSION time_zone = '+05:30'"],
  [`INSERT INTO temporal VALUES
     (1, '1000-01-01', '-838:59:59', '-838:59:58.999999', '1000-01-01 00:00:00', '1000-01-01 00:00:00.000000',
      '1970-01-01 05:30:01', '1970-01-01 05:30:01.000001', 1901),
     (2, '9999-12-31', '838:59:59', '838:59:58.999999', '9999-12-31 23:59:59', '9999-12-31 23:59:59.999999',
      '2038-01-19 08:44:07', '2038-01-19 08:44:07.999999', 2155),
     (3, '0000-00-00', '00:00:00', '-00:00:00.000001', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000',
      '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000', 0000),
     (4, '2020-00-15', '-00:00:01', '100:00:00.5', '2021-02-00 12:00:00', '2024-10-27 02:30:00.123456',
      '2024-03-31 02:30:00', '2024-10-27 02:30:00.5', '0000'),
     (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`],
  ["SET SESSION sql_mode = 'ALLOW_INVALID_DATES'"],
  ["INSERT INTO temporal (id, d, dt) VALUES (6, '2021-02-30', '2021-04-31 23:59:59')"],
  ["SET SESSION sql_mode = ''"],
  [`CREATE TABLE texts (id INT PRIMARY KEY, c CHAR(20), v VARCHAR(300), t TEXT, lt LONGTEXT,
     l1 VARCHAR(300) CHARACTER SET latin1, sj VARCHAR(50) CHARACTER SET sjis, u16 VARCHAR(50) CHARACTER SET utf16)
     DEFAULT CHARSET utf8mb4`],
  ['INSERT INTO texts VALUES (1, ?, ?, ?, ?, _latin1 ?, ?, ?)', [
    'abc   ', controlChars, `a\tb\nc\\d\\\\e\r\nf\\`, `😀🇩🇪👩‍👩‍👧‍👦 größe 表 ñ ${controlChars}`,
    allBytes.subarray(32), '表ソ能\\', 'A😀\u095c\u0a09'],
  ],
  ['INSERT INTO texts VALUES (2, ?, ?, ?, ?, ?, ?, ?)', ['NULL', '\\N', '\\\\N', 'N', 'NULL', '\\N', '\\N']],
  ['INSERT INTO texts VALUES (3, ?, ?, ?, ?, ?, ?, ?)', ['', '', '', '', '', '', '']],
  ['INSERT INTO texts VALUES (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL)'],
  ['INSERT INTO texts VALUES (5, ?, ?, ?, ?, ?, ?, ?)', [' ', 'trailing   ', '\t', '\n', '\\', '\t\n', ' ']],
  ['CREATE TABLE binaries (id INT PRIMARY KEY, b BINARY(16), vb VARBINARY(300), bl BLOB, lb LONGBLOB)'],
  ['INSERT INTO binaries VALUES (1, ?, ?, ?, ?)', [Buffer.alloc(16), allBytes, allBytes, Buffer.concat([allBytes, allBytes])]],
  ['INSERT INTO binaries VALUES (2, ?, ?, ?, ?)', [Buffer.from('ab'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0x5c, 0x4e])]],
  ['INSERT INTO binaries VALUES (3, ?, ?, ?, ?)', [Buffer.from('ab\0\0'), Buffer.alloc(0), Buffer.from('NULL'), Buffer.from('\\N')]],
  ['INSERT INTO binaries VALUES (4, NULL, NULL, NULL, NULL)'],
  [`CREATE TABLE enums (id INT PRIMARY KEY, e ENUM('a','','b c','2','1'), s SET('x','y','z'),
     s64 SET(${setMembers.map((m) => `'${m}'`).join(',')}), e_nn ENUM('p','q') NOT NULL)`],
  [`INSERT INTO enums VALUES (1, 'bogus', 'x,z', ?, 'nope'), (2, '', '', '', 'q'), (3, '2', 'x,y,z', 'm63', 'p'),
     (4, 2, 7, 18446744073709551615, 2), (5, NULL, NULL, NULL, 'p'), (6, '1', 'z,x', 'm0,m31,m32', 1)`, [setMembers.join(',')]],
  ['CREATE TABLE json_docs (id INT PRIMARY KEY, j JSON)'],
  ['INSERT INTO json_docs VALUES (1, ?), (2, ?), (3, ?), (4, ?), (5, NULL), (6, ?)', [
    JSON.stringify({ a: [1, 2.5, -0.0, 1e308, 5e-324], big: 123456789012345678901234567890, s: `tab\t nl\n "q" \\ é 😀 \u0000` }),
    '[]', '"string"', 'null', '{"nested": {"deeper": [{"x": null}, true, false]}, "e": ""}'],
  ],
  [`CREATE TABLE \`spatial\` (id INT PRIMARY KEY, p POINT, poly POLYGON, g GEOMETRY, pnn POINT NOT NULL,
     SPATIAL INDEX (pnn))`],
  [`INSERT INTO \`spatial\` VALUES
     (1, ST_GeomFromText('POINT(1.5 -2.25)'), ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))'),
      ST_GeomFromText('LINESTRING(0 0,1 1,2 0.5)'), ST_GeomFromText('POINT(0 0)')),
     (2, ST_GeomFromText('POINT(8.5 47.4)', 4326), NULL,
      ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 0,9 9))'), ST_GeomFromText('POINT(1e300 -1e-300)')),
     (3, NULL, NULL, ST_GeomFromText('MULTIPOLYGON(((0 0,1 0,1 1,0 0)),((5 5,6 5,6 6,5 5)))'), ST_GeomFromText('POINT(-0 0)'))`],
  ['CREATE TABLE nopk (a INT, b VARCHAR(10))'],
  ["INSERT INTO nopk VALUES (1, 'x'), (1, 'x'), (1, 'x'), (NULL, NULL), (NULL, NULL), (2, 'y')"],
  ['CREATE TABLE composite (a INT, b VARCHAR(20), c INT, PRIMARY KEY (a, b), UNIQUE KEY (c))'],
  ["INSERT INTO composite VALUES (1, 'a', 1), (1, 'b', 2), (2, 'a', NULL), (2, 'b', NULL)"],
  ['CREATE TABLE `order` (`select` INT PRIMARY KEY, `from` VARCHAR(10), `größe` DECIMAL(5,2), `表` TEXT, `we``ird col` INT)'],
  ["INSERT INTO `order` VALUES (1, 'where', 12.5, '列', 3), (2, NULL, -0.01, '', NULL)"],
  ['CREATE TABLE `select` (id INT PRIMARY KEY, `key` VARCHAR(5))'],
  ["INSERT INTO `select` VALUES (1, 'group')"],
  ['CREATE TABLE `größe` (id INT, wert VARCHAR(10)) DEFAULT CHARSET latin1'],
  ["INSERT INTO `größe` VALUES (1, 'ÄÖÜß')"],
  ['CREATE TABLE `表` (`列` VARCHAR(10) PRIMARY KEY)'],
  ["INSERT INTO `表` VALUES ('値'), ('😀')"],
  ['CREATE TABLE `we``ird name` (x INT)'],
  ['INSERT INTO `we``ird name` VALUES (1), (1)'],
  ['CREATE TABLE empty_table (id INT PRIMARY KEY, v VARCHAR(10))'],
  ['CREATE TABLE one_col (v VARCHAR(10))'],
  ["INSERT INTO one_col VALUES (''), (NULL), (''), ('x')"],
  [`CREATE TABLE \`generated\` (id INT PRIMARY KEY, a INT, v INT AS (a * 2) VIRTUAL,
     s VARCHAR(20) AS (CONCAT('a=', a)) STORED, h INT INVISIBLE DEFAULT 7)`],
  ['INSERT INTO `generated` (id, a, h) VALUES (1, 5, 8), (2, NULL, NULL), (3, -1, 7)'],
  ['CREATE TABLE fk_parent (id INT PRIMARY KEY)'],
  ['CREATE TABLE fk_child (id INT PRIMARY KEY, parent INT, FOREIGN KEY (parent) REFERENCES fk_parent (id))'],
  ['INSERT INTO fk_parent VALUES (1), (2)'],
  ['INSERT INTO fk_child VALUES (10, 1), (11, 2), (12, NULL)'],
  ['CREATE TABLE myisam_t (id INT, v VARCHAR(10)) ENGINE=MyISAM'],
  ["INSERT INTO myisam_t VALUES (1, 'not'), (2, 'innodb')"],
  ['CREATE TABLE huge (id INT PRIMARY KEY, b LONGBLOB, t LONGTEXT)'],
  ['CREATE VIEW v_ints AS SELECT id, b FROM ints'],
];

// Types that only MariaDB has (INET6 since 10.5, UUID since 10.7), which refuse binary-charset text.
const mariadbStatements: [string, unknown[]?][] = [
  ['CREATE TABLE mariadb_types (id INT PRIMARY KEY, ip INET6, u UUID)'],
  ["INSERT INTO mariadb_types VALUES (1, '::1', '123e4567-e89b-12d3-a456-426655440000'), (2, '::ffff:10.0.0.1', NULL), (3, NULL, NULL)"],
];

/**
 * Creates the torture tables in the connection's default database (which must be empty) and returns
 * the names of the base tables it made; `mariadbTypes` adds a table of them when the server has them.
 */
export async function createTortureSchema(conn: Connection, options: { mariadbTypes?: boolean } = {}): Promise<string[]> {
  const db = conn.promise();
  await db.query("SET SESSION sql_mode = '', time_zone = '+00:00'");
  for (const [sql, values] of statements) await db.query(sql, values);
  await insertHugeRow(conn);
  const [[version]] = (await db.query({ sql: 'SELECT VERSION()', rowsAsArray: true })) as unknown as [[[string]]];
  const [, major = 0, minor = 0] = /^(\d+)\.(\d+)/.exec(version[0])?.map(Number) ?? [];
  if (!options.mariadbTypes || !version[0].includes('MariaDB') || major * 100 + minor < 1007) return tortureTables;
  for (const [sql, values] of mariadbStatements) await db.query(sql, values);
  return [...tortureTables, 'mariadb_types'];
}

// INSERT cannot carry a value over max_allowed_packet, and CONCAT/UNHEX return NULL past it: LOAD DATA
// is how such a row gets in without raising the server's limit.
async function insertHugeRow(conn: Connection): Promise<void> {
  const blob = randomBytes(hugeBlobBytes);
  const text = Buffer.from('😀 tab\t nl\n bs\\ '.repeat(64 * 1024));
  const line = Buffer.concat([Buffer.from('1\t'), escapeForLoadData(blob), Buffer.from('\t'), escapeForLoadData(text), Buffer.from('\n2\t\\N\t\\N\n')]);
  await new Promise<void>((resolve, reject) => {
    const chunks = Array.from({ length: Math.ceil(line.length / 65536) }, (_, i) => line.subarray(i * 65536, (i + 1) * 65536));
    conn.query(
      { sql: "LOAD DATA LOCAL INFILE 'huge' INTO TABLE huge CHARACTER SET binary", infileStreamFactory: () => Readable.from(chunks) },
      (error: Error | null) => (error ? reject(error) : resolve()),
    );
  });
}

/** A deliberately naive escaper, independent of the one under test. */
function escapeForLoadData(value: Buffer): Buffer {
  const out = Buffer.alloc(value.length * 2);
  let n = 0;
  for (const byte of value) {
    const escaped = byte === 0 ? 0x30 : byte === 9 ? 0x74 : byte === 10 ? 0x6e : byte === 0x5c ? 0x5c : -1;
    if (escaped >= 0) out[n++] = 0x5c;
    out[n++] = escaped >= 0 ? escaped : byte;
  }
  return out.subarray(0, n);
}
