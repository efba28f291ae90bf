// The schema a delivery's CREATE TABLEs give, as the feed manifest and the schema events name it, and every
// kind of change between two hours: table added or removed, column added, removed or retyped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeSchemaChange, diffSchemas, schemaOfDelivery } from '../../src/dump/table-schema.js';

const table = (name: string, createSql: string) => ({ name, createSql });

test('types as the centre parses them: lengths, members, UNSIGNED, MariaDB JSON alias; no charset or collation', () => {
  const schema = schemaOfDelivery({ tables: [
    table('z', 'CREATE TABLE `z` (\n  `id` int(10) unsigned NOT NULL,\n  `state` enum(\'on\',\'it\'\'s\') CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL,\n'
      + '  `doc` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`doc`)),\n  `name` varchar(60) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=latin1'),
    table('a', 'CREATE TABLE `a` (\n  `price` decimal(12,2) DEFAULT NULL,\n  `at` datetime(6) DEFAULT NULL\n) ENGINE=InnoDB'),
  ] } as never);
  assert.deepEqual(schema, [
    { table: 'a', columns: [{ name: 'price', type: 'DECIMAL(12,2)' }, { name: 'at', type: 'DATETIME(6)' }] },
    { table: 'z', columns: [{ name: 'id', type: 'INT(10) UNSIGNED' }, { name: 'state', type: "ENUM('on','it''s')" }, { name: 'doc', type: 'JSON' }, { name: 'name', type: 'VARCHAR(60)' }] },
  ]);
});

test('every kind of change, tables then columns by name; none between equal schemas', () => {
  const before = [
    { table: 'gone', columns: [{ name: 'id', type: 'INT' }] },
    { table: 't', columns: [{ name: 'a', type: 'INT' }, { name: 'b', type: 'VARCHAR(10)' }, { name: 'c', type: 'DATE' }] },
  ];
  const after = [
    { table: 'new', columns: [{ name: 'id', type: 'INT' }] },
    { table: 't', columns: [{ name: 'a', type: 'BIGINT' }, { name: 'c', type: 'DATE' }, { name: 'd', type: 'TEXT' }] },
  ];
  const changes = diffSchemas(before, after);
  assert.deepEqual(changes.map(describeSchemaChange), [
    'table removed: gone',
    'table added: new',
    'column retyped: t.a INT → BIGINT',
    'column removed: t.b (was VARCHAR(10))',
    'column added: t.d TEXT',
  ]);
  assert.deepEqual(diffSchemas(after, structuredClone(after)), []);
});
