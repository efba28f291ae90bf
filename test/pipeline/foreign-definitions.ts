// Tables as MySQL 8.0/8.4 and MariaDB 10.11/11.4 GEOs deliver them: each server's SHOW CREATE TABLE text (the
// MariaDB 10.11 ones taken from the rig's 10.11 server; the others written from each server's reference
// manual, in the forms it prints: `/*!80023 INVISIBLE */`, `DEFAULT (uuid())`, `CHECK ((…))`, `KEY ((lower(…)))`,
// `/*!80003 SRID 4326 */`, `geomcollection`, language 0900 collations, Aria's table options), with rows as
// that server's text protocol gives them, so the centre's load can be tried on them end to end.
import { encodingFor, RowEncoder } from '../../src/dump/dump-format.js';
import { parseDumpManifest, type DumpManifest } from '../../src/dump/dump-manifest.js';
import { parseTableDefinition } from '../../src/dump/table-definition.js';
import { columnTypeText } from '../../src/dump/table-schema.js';

export interface ForeignTable {
  /** VERSION() of the GEO that wrote it. */
  server: string;
  createSql: string;
  /** One value per column, in table order: text as the server prints it, bytes, or null. */
  rows: Array<Array<string | Buffer | null>>;
}

/** MySQL's internal geometry: SRID (little-endian), then WKB. */
function pointBytes(srid: number, x: number, y: number): Buffer {
  const bytes = Buffer.alloc(25);
  bytes.writeUInt32LE(srid, 0);
  bytes.writeUInt8(1, 4);
  bytes.writeUInt32LE(1, 5);
  bytes.writeDoubleLE(x, 9);
  bytes.writeDoubleLE(y, 17);
  return bytes;
}

export const mysql80Customer: ForeignTable = {
  server: '8.0.36',
  createSql: [
    'CREATE TABLE `customer` (',
    '  `id` bigint unsigned NOT NULL AUTO_INCREMENT,',
    '  `ext_id` binary(16) NOT NULL DEFAULT (uuid_to_bin(uuid())),',
    '  `email` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_as_cs NOT NULL,',
    '  `code` varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_bin DEFAULT NULL,',
    '  `name` varchar(100) NOT NULL,',
    '  `created_at` datetime NOT NULL DEFAULT (now()),',
    '  `score` decimal(10,2) DEFAULT NULL,',
    '  `prefs` json DEFAULT NULL,',
    '  `note` varchar(20) DEFAULT NULL /*!80023 INVISIBLE */,',
    '  `version` int NOT NULL /*!80023 INVISIBLE */,',
    '  `loc` point NOT NULL /*!80003 SRID 4326 */,',
    '  `shapes` geomcollection DEFAULT NULL,',
    '  PRIMARY KEY (`id`),',
    '  UNIQUE KEY `email` (`email`),',
    '  UNIQUE KEY `code` (`code`),',
    '  KEY `name_lower` ((lower(`name`))),',
    '  SPATIAL KEY `loc` (`loc`),',
    '  CONSTRAINT `customer_chk_1` CHECK ((`score` >= 0))',
    ') ENGINE=InnoDB AUTO_INCREMENT=4 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci',
  ].join('\n'),
  rows: [
    // Two e-mails that differ only in case and two codes that differ only by a trailing space: the GEO's
    // unique keys hold them apart, and so must the centre's collations, or a row is lost.
    ['1', Buffer.from('11ef0c7a5b3a4e8c9d2f000000000001', 'hex'), 'ann@example.com', 'x', 'Ann', '2024-05-01 10:00:00', '12.50', '{"a": 1, "b": [1, 2]}', 'hidden', '3', pointBytes(4326, 13.4, 52.5), null],
    ['2', Buffer.from('11ef0c7a5b3a4e8c9d2f00000000090a', 'hex'), 'Ann@example.com', 'x ', 'ANN', '2024-05-01 10:00:01', null, null, null, '1', pointBytes(4326, -0.12, 51.5), null],
    ['3', Buffer.from('5c0900000000000000000000000000ff', 'hex'), 'bjørn@example.com', null, 'Bjørn', '2024-05-02 00:00:00', '0.00', '{}', null, '0', pointBytes(4326, 10.75, 59.91), null],
  ],
};

export const mysql84Orders: ForeignTable = {
  server: '8.4.3',
  createSql: [
    'CREATE TABLE `orders` (',
    '  `id` int NOT NULL,',
    '  `ref` char(36) COLLATE utf8mb4_0900_bin NOT NULL DEFAULT (uuid()),',
    '  `note` text COLLATE utf8mb4_de_pb_0900_ai_ci,',
    '  `ja` varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_ja_0900_as_cs DEFAULT NULL,',
    '  `amount` decimal(12,4) NOT NULL,',
    "  `status` enum('new','paid','shipped') NOT NULL DEFAULT 'new',",
    '  `placed` timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),',
    '  `amount_x2` decimal(13,4) GENERATED ALWAYS AS ((`amount` * 2)) STORED,',
    '  PRIMARY KEY (`id`),',
    '  UNIQUE KEY `ref` (`ref`),',
    '  KEY `by_status` (`status`,`placed` DESC),',
    '  KEY `ref_prefix` ((left(`ref`,8))),',
    '  CONSTRAINT `orders_chk_1` CHECK ((`amount` >= 0))',
    ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci',
  ].join('\n'),
  rows: [
    ['1', '0b6a0f5e-2f1b-11ef-9a4c-0242ac120002', 'Straße', 'かな', '10.5000', '2', '2024-06-01 08:00:00.123456', '21.0000'],
    ['2', '0b6a0f5e-2f1b-11ef-9a4c-0242ac120003', 'Strasse', 'カナ', '0.0000', '1', '2024-06-01 08:00:00.000000', '0.0000'],
  ],
};

export const mariadb1011Device: ForeignTable = {
  server: '10.11.19-MariaDB-0+deb12u1',
  createSql: [
    'CREATE TABLE `device` (',
    '  `id` int(11) NOT NULL,',
    '  `addr` inet6 NOT NULL,',
    '  `guid` uuid NOT NULL DEFAULT uuid(),',
    '  `label` varchar(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_uca1400_as_cs DEFAULT NULL,',
    '  `meta` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`meta`)),',
    '  `seen` datetime NOT NULL DEFAULT current_timestamp(),',
    '  `rev` int(11) NOT NULL INVISIBLE DEFAULT 1,',
    '  `v4` inet4 DEFAULT NULL,',
    '  PRIMARY KEY (`id`),',
    '  UNIQUE KEY `guid` (`guid`),',
    '  CONSTRAINT `positive` CHECK (`id` > 0)',
    ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_ai_ci',
  ].join('\n'),
  rows: [
    ['1', '2001:db8::1', '93bbae97-ee56-11f1-8b4f-02fc00000001', 'Eins', '{"a": 1}', '2024-07-01 12:00:00', '2', '192.0.2.1'],
    ['2', '::ffff:192.0.2.128', '93bbae97-ee56-11f1-8b4f-02fc00000002', 'eins', null, '2024-07-01 12:00:01', '1', null],
  ],
};

export const mariadb114Audit: ForeignTable = {
  server: '11.4.5-MariaDB-ubu2404',
  createSql: [
    'CREATE TABLE `audit` (',
    '  `id` bigint(20) unsigned NOT NULL,',
    '  `who` varchar(64) NOT NULL,',
    '  `what` text DEFAULT NULL,',
    '  `at` timestamp(3) NOT NULL DEFAULT current_timestamp(3),',
    '  `sv` varchar(30) CHARACTER SET utf8mb4 COLLATE utf8mb4_uca1400_swedish_nopad_ai_ci DEFAULT NULL,',
    '  `trace` uuid DEFAULT NULL,',
    '  PRIMARY KEY (`id`),',
    '  KEY `who` (`who`)',
    ') ENGINE=Aria DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_ai_ci PAGE_CHECKSUM=1 ROW_FORMAT=PAGE TRANSACTIONAL=1',
  ].join('\n'),
  rows: [
    ['1', 'root@localhost', 'GRANT\tALL', '2024-08-01 00:00:00.001', 'Åsa', '00000000-0000-0000-0000-000000000000'],
    ['2', 'app@%', null, '2024-08-01 00:00:00.002', 'Asa', null],
  ],
};

export const foreignTables = [mysql80Customer, mysql84Orders, mariadb1011Device, mariadb114Audit];

/**
 * The fixture as a delivery's manifest describes it (through parseDumpManifest, as the centre reads it) and its
 * data file, encoded as the agent encodes rows.
 */
export function deliveredTable(fixture: ForeignTable): { manifest: DumpManifest; data: Buffer } {
  const definition = parseTableDefinition(fixture.createSql);
  const chunks: Buffer[] = [];
  const encoder = new RowEncoder((chunk) => chunks.push(Buffer.from(chunk)));
  for (const row of fixture.rows) encoder.encode(row.map((value) => (typeof value === 'string' ? Buffer.from(value) : value)));
  encoder.end();
  const data = Buffer.concat(chunks);
  const table = {
    name: definition.name,
    file: '0001.tsv',
    engine: definition.engine,
    createSql: fixture.createSql,
    columns: definition.columns.map((column) => ({ name: column.name, type: columnTypeText(column).toLowerCase(), encoding: encodingFor(column.type.base) })),
    rows: encoder.rows,
    bytes: data.length,
    checksum: encoder.checksum(),
    serverChecksum: null,
  };
  const manifest = parseDumpManifest({
    kind: 'manifest', format: 'ganymede-mysql-dump', formatVersion: 2, dataFormat: 'mysql-tsv-binary', rowChecksum: 'crc32-sum64',
    source: { serverVersion: fixture.server, database: 'cc', sqlMode: '', timeZone: '+00:00' }, snapshotAt: '2026-01-01T00:00:00Z', skipped: [],
    tables: [table],
  });
  return { manifest, data };
}
