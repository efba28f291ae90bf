// A GEO's table definition as the centre's server can create it: what changes for each server, what does not,
// and what is refused. The fixtures are the SHOW CREATE TABLE text of MySQL 8.0/8.4 and MariaDB 10.11/11.4
// tables; a real load of them is in test/pipeline/definition-translation.test.ts. The MySQL 8 side cannot run
// here, so it is checked as far as the CREATE TABLE text goes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DefinitionTranslationError, describeTranslation, translateDefinition } from '../../src/load/definition-translation.js';
import { parseServerVersion } from '../../src/mysql-server.js';
import { createTableSql } from '../../src/load/create-table-sql.js';
import { parseTableDefinition } from '../../src/dump/table-definition.js';
import { mariadb1011Device, mariadb114Audit, mysql80Customer, mysql84Orders, type ForeignTable } from '../pipeline/foreign-definitions.js';

const translate = (fixture: ForeignTable | string, server: string) =>
  translateDefinition(parseTableDefinition(typeof fixture === 'string' ? fixture : fixture.createSql), parseServerVersion(server));
const described = (fixture: ForeignTable | string, server: string) => translate(fixture, server).translations.map(describeTranslation);
const created = (fixture: ForeignTable | string, server: string) => createTableSql(translate(fixture, server).definition);

describe('server identity, from VERSION()', () => {
  test('MariaDB, MySQL and the forms in between', () => {
    assert.deepEqual(parseServerVersion('10.11.19-MariaDB-0+deb12u1'), { flavor: 'mariadb', version: [10, 11, 19], text: '10.11.19-MariaDB-0+deb12u1' });
    assert.deepEqual(parseServerVersion('5.5.5-10.6.18-MariaDB-log').version, [10, 6, 18]);
    assert.equal(parseServerVersion('5.5.5-10.6.18-MariaDB-log').flavor, 'mariadb');
    assert.deepEqual(parseServerVersion('8.0.36-0ubuntu0.22.04.1'), { flavor: 'mysql', version: [8, 0, 36], text: '8.0.36-0ubuntu0.22.04.1' });
    assert.deepEqual(parseServerVersion('mysql 8.4.3').version, [8, 4, 3]);
  });
});

describe('a MySQL 8 GEO on a MariaDB centre', () => {
  test('MariaDB 10.11: 0900 collations become uca1400 NO PAD of the same sensitivity, SRID and GEOMCOLLECTION go, each said', () => {
    assert.deepEqual(described(mysql80Customer, '10.11.19-MariaDB'), [
      'table `customer`: COLLATE=utf8mb4_0900_ai_ci → utf8mb4_uca1400_nopad_ai_ci (MariaDB has no MySQL 0900 collations: UCA 14.0.0, NO PAD, same accent and case sensitivity)',
      'table `customer`: column `email`: COLLATE utf8mb4_0900_as_cs → utf8mb4_uca1400_nopad_as_cs (MariaDB has no MySQL 0900 collations: UCA 14.0.0, NO PAD, same accent and case sensitivity)',
      'table `customer`: column `code`: COLLATE utf8mb4_0900_bin → utf8mb4_nopad_bin (MariaDB has no 0900 collations; binary and NO PAD alike)',
      'table `customer`: column `version`: INVISIBLE NOT NULL → INVISIBLE NULL (MariaDB wants a DEFAULT for an invisible NOT NULL column, and the load writes none)',
      'table `customer`: column `loc`: SRID 4326 → (dropped) (MariaDB 10.11.19 has no SRID column attribute; each value keeps its own SRID)',
      'table `customer`: column `shapes`: GEOMCOLLECTION → GEOMETRYCOLLECTION (MariaDB 10.11.19 does not know MySQL 8\'s GEOMCOLLECTION name for it)',
    ]);
    const sql = created(mysql80Customer, '10.11.19-MariaDB');
    assert.doesNotMatch(sql, /0900|SRID|GEOMCOLLECTION|DEFAULT \(|CHECK|lower/);
    assert.match(sql, /`note` VARCHAR\(20\) NULL INVISIBLE,\n {2}`version` INT NULL INVISIBLE,/);
  });

  test('language collations keep their tailoring where MariaDB has it, and say so where it has not', () => {
    const changes = translate(mysql84Orders, '10.11.19-MariaDB').translations;
    assert.deepEqual(changes.map((change) => [change.column, change.to]), [
      [null, 'utf8mb4_uca1400_nopad_ai_ci'],
      ['ref', 'utf8mb4_nopad_bin'],
      ['note', 'utf8mb4_uca1400_german2_nopad_ai_ci'],
      ['ja', 'utf8mb4_uca1400_nopad_as_cs'],
    ]);
    assert.match(changes[3]!.why, /no "ja" tailoring: root order/);
  });

  test('before 10.10 (no uca1400): UCA 5.2.0 for ai_ci, binary for what tells accents or case apart', () => {
    assert.deepEqual(translate(mysql80Customer, '10.6.18-MariaDB').translations.filter((change) => /COLLATE/.test(change.from)).map((change) => change.to), [
      'utf8mb4_unicode_520_nopad_ci', 'utf8mb4_nopad_bin', 'utf8mb4_nopad_bin',
    ]);
  });

  test("MariaDB 11.4.5 has utf8mb4_0900_ai_ci (an alias of uca1400_nopad_ai_ci): it is kept there", () => {
    const tables = translate(mysql80Customer, '11.4.5-MariaDB').translations.filter((change) => change.column === null);
    assert.deepEqual(tables, []);
  });

  test('a character set MariaDB does not have is refused in one line naming the table and the clause', () => {
    const sql = 'CREATE TABLE `cn` (`id` int NOT NULL, `name` varchar(20) CHARACTER SET gb18030 COLLATE gb18030_chinese_ci DEFAULT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4';
    assert.throws(() => translate(sql, '10.11.19-MariaDB'), (error: Error) => {
      assert.ok(error instanceof DefinitionTranslationError);
      assert.equal(error.message, 'table `cn`: column `name`: CHARACTER SET gb18030 cannot be created on MariaDB 10.11.19, which has no gb18030, and the column\'s bytes cannot be kept in another character set');
      return true;
    });
    assert.deepEqual(translate(sql, '8.0.36').translations, []);
  });
});

describe('a MariaDB GEO on a MySQL 8 centre (the CREATE TABLE text)', () => {
  test('MySQL 8.0.36: uca1400 becomes 0900, INET6/INET4/UUID their text form in ASCII, the JSON check stays', () => {
    assert.deepEqual(described(mariadb1011Device, 'mysql 8.0.36'), [
      'table `device`: COLLATE=utf8mb4_uca1400_ai_ci → utf8mb4_0900_ai_ci (MySQL has no uca1400 collations: UCA 9.0.0, NO PAD)',
      'table `device`: column `addr`: INET6 → VARCHAR(39) CHARACTER SET ascii COLLATE ascii_bin (MySQL 8.0.36 has no INET6 type (MariaDB 10.5+): its text form, as the GEO delivered it)',
      'table `device`: column `guid`: UUID → CHAR(36) CHARACTER SET ascii COLLATE ascii_bin (MySQL 8.0.36 has no UUID type (MariaDB 10.7+): its text form, as the GEO delivered it)',
      'table `device`: column `label`: COLLATE utf8mb4_uca1400_as_cs → utf8mb4_0900_as_cs (MySQL has no uca1400 collations: UCA 9.0.0, NO PAD)',
      'table `device`: column `v4`: INET4 → VARCHAR(15) CHARACTER SET ascii COLLATE ascii_bin (MySQL 8.0.36 has no INET4 type (MariaDB 10.10+): its text form, as the GEO delivered it)',
    ]);
    assert.equal(
      created(mariadb1011Device, 'mysql 8.0.36'),
      [
        'CREATE TABLE `device` (',
        '  `id` INT(11) NOT NULL,',
        '  `addr` VARCHAR(39) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,',
        '  `guid` CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,',
        '  `label` VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_as_cs NULL,',
        '  `meta` LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL CHECK (json_valid(`meta`)),',
        '  `seen` DATETIME NOT NULL,',
        '  `rev` INT(11) NOT NULL INVISIBLE,',
        '  `v4` VARCHAR(15) CHARACTER SET ascii COLLATE ascii_bin NULL,',
        '  PRIMARY KEY (`id`),',
        '  UNIQUE KEY `guid` (`guid`)',
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci',
      ].join('\n'),
    );
  });

  test('MariaDB 11.4: Aria becomes InnoDB without its PAGE row format; a language tailoring MySQL has is kept', () => {
    const sql = created(mariadb114Audit, 'mysql 8.4.3');
    assert.match(sql, /\) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci$/);
    assert.match(sql, /`sv` VARCHAR\(30\) CHARACTER SET utf8mb4 COLLATE utf8mb4_sv_0900_ai_ci NULL/);
    assert.match(sql, /`trace` CHAR\(36\) CHARACTER SET ascii COLLATE ascii_bin NULL/);
    assert.deepEqual(translate(mariadb114Audit, 'mysql 8.4.3').translations.filter((change) => change.column === null).map((change) => change.from), [
      'COLLATE=utf8mb4_uca1400_ai_ci', 'ENGINE=Aria', 'ROW_FORMAT=PAGE',
    ]);
  });

  test("MariaDB's other NO PAD collations become MySQL's PAD ones (utf8mb4_nopad_bin its 0900_bin); VECTOR its bytes", () => {
    const sql = 'CREATE TABLE `n` (`a` varchar(5) COLLATE utf8mb4_nopad_bin, `b` varchar(5) COLLATE utf8mb4_unicode_520_nopad_ci, `c` varchar(5) CHARACTER SET latin1 COLLATE latin1_swedish_nopad_ci, `v` vector(3) NOT NULL)';
    assert.deepEqual(translate(sql, '8.0.36').translations.map((change) => change.to), ['utf8mb4_0900_bin', 'utf8mb4_unicode_520_ci', 'latin1_swedish_ci', 'VARBINARY(12)']);
  });

  test('MySQL before 8.0.23 has no invisible columns: made visible, and said', () => {
    assert.deepEqual(described(mariadb1011Device, '8.0.22').filter((line) => /INVISIBLE/.test(line)), [
      'table `device`: column `rev`: INVISIBLE → (dropped) (MySQL has invisible columns since 8.0.23)',
    ]);
  });
});

describe('what the centre server has is left alone', () => {
  test('a MySQL 8 table on MySQL 8 keeps its collations, invisible columns and SRID', () => {
    assert.deepEqual(translate(mysql80Customer, '8.0.36').translations, []);
    const sql = created(mysql80Customer, '8.0.36');
    assert.match(sql, /`loc` POINT NOT NULL SRID 4326,/);
    assert.match(sql, /`email` VARCHAR\(255\) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_as_cs NOT NULL/);
    assert.match(sql, /`version` INT NOT NULL INVISIBLE/);
  });

  test('a MariaDB 10.11 table on MariaDB 10.11 changes only its invisible NOT NULL column', () => {
    assert.deepEqual(translate(mariadb1011Device, '10.11.19-MariaDB').translations.map((change) => [change.column, change.from, change.to]), [['rev', 'INVISIBLE NOT NULL', 'INVISIBLE NULL']]);
  });
});
