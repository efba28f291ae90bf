// The pure parts of a GEO's schema objects: which name a definition creates (and that it creates nothing
// in another schema), the order a restore creates them in, and the DEFINER clause `--definer` puts in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { orderSchemaObjects, orderViews, withDefiner } from '../../src/archive/restore-objects.js';
import { createdName, definerClause, maxObjectSqlBytes, schemaObjectProblems, schemaObjectRefusal, type SchemaObject } from '../../src/dump/schema-objects.js';

const object = (kind: SchemaObject['kind'], name: string, createSql: string, extra: Partial<SchemaObject> = {}): SchemaObject => ({
  kind, name, createSql, definer: 'app@%', sqlMode: kind === 'view' ? null : '', characterSetClient: 'utf8mb4', collationConnection: 'utf8mb4_general_ci',
  databaseCollation: kind === 'view' ? null : 'utf8mb4_general_ci', timeZone: kind === 'event' ? 'SYSTEM' : null, table: kind === 'trigger' ? 't' : null, actionOrder: kind === 'trigger' ? 1 : null,
  ...extra,
});
const view = (name: string, body: string) => object('view', name, `CREATE ALGORITHM=UNDEFINED DEFINER=\`app\`@\`%\` SQL SECURITY DEFINER VIEW \`${name}\` AS ${body}`);

test('createdName reads the one object a definition creates, backticked or bare, and refuses one in another schema', () => {
  assert.equal(createdName('view', 'CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `we``ird` AS select 1'), 'we`ird');
  assert.equal(createdName('trigger', 'CREATE DEFINER=`root`@`127.0.0.1` TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1'), 'trg');
  assert.equal(createdName('function', "CREATE DEFINER='a'@'%' AGGREGATE FUNCTION `f`() RETURNS INT RETURN 1"), 'f');
  assert.equal(createdName('event', 'CREATE DEFINER=`x`@`%` EVENT IF NOT EXISTS `e` ON SCHEDULE EVERY 1 DAY DO SELECT 1'), 'e');
  assert.equal(createdName('view', 'CREATE VIEW `mysql`.`user_copy` AS select 1'), undefined, 'another schema');
  assert.equal(createdName('view', 'CREATE VIEW mysql . user_copy AS select 1'), undefined, 'another schema, bare');
  assert.equal(createdName('procedure', 'CREATE FUNCTION `p`() RETURNS INT RETURN 1'), undefined, 'another kind');
  assert.equal(createdName('view', 'DROP TABLE accounts; CREATE VIEW `v` AS select 1'), undefined, 'not a CREATE');
});

test('schemaObjectProblems names a duplicate, a definition of another name, and a trigger without its table', () => {
  const problems = schemaObjectProblems([
    view('v', 'select 1'),
    view('v', 'select 2'),
    object('procedure', 'p', 'CREATE DEFINER=`a`@`%` PROCEDURE `q`() SELECT 1'),
    object('trigger', 'trg', 'CREATE DEFINER=`a`@`%` TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1', { table: null }),
  ]);
  assert.deepEqual(problems, [
    'objects[1] (view "v"): appears twice',
    'objects[2] (procedure "p").createSql: it creates "q", not "p"',
    'objects[3] (trigger "trg").table: a trigger names its table',
  ]);
});

test('views come after the views they read, whatever their names; routines before views, triggers and events after', () => {
  const views = [view('a_top', 'select `v_rich`.`x` AS `x` from `v_rich`'), view('v_base', 'select 1 AS `x`'), view('v_rich', 'select `v_base`.`x` AS `x` from `v_base`')];
  assert.deepEqual(orderViews(views).map((v) => v.name), ['v_base', 'v_rich', 'a_top']);
  const all = orderSchemaObjects([
    object('event', 'e', 'CREATE DEFINER=`a`@`%` EVENT `e` ON SCHEDULE EVERY 1 DAY DO SELECT 1'),
    object('trigger', 't2', 'CREATE TRIGGER t2 BEFORE INSERT ON t FOR EACH ROW FOLLOWS t1 SET NEW.a = 2', { actionOrder: 2 }),
    object('trigger', 't1', 'CREATE TRIGGER t1 BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1', { actionOrder: 1 }),
    ...views,
    object('procedure', 'p', 'CREATE PROCEDURE `p`() SELECT 1'),
    object('function', 'f', 'CREATE FUNCTION `f`() RETURNS INT RETURN 1'),
  ]);
  assert.deepEqual(all.map((o) => `${o.kind} ${o.name}`), ['function f', 'procedure p', 'view v_base', 'view v_rich', 'view a_top', 'trigger t1', 'trigger t2', 'event e']);
});

test('withDefiner replaces the DEFINER clause, or adds one, and never changes what is created', () => {
  assert.equal(withDefiner(view('v', 'select 1'), 'ops@localhost'), 'CREATE ALGORITHM=UNDEFINED DEFINER=`ops`@`localhost` SQL SECURITY DEFINER VIEW `v` AS select 1');
  assert.equal(withDefiner(object('procedure', 'p', "CREATE DEFINER='x'@'%' PROCEDURE `p`() SELECT 1"), 'o`d@%'), 'CREATE DEFINER=`o``d`@`%` PROCEDURE `p`() SELECT 1');
  assert.equal(withDefiner(object('trigger', 'trg', 'CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1'), 'ops@%'), 'CREATE DEFINER=`ops`@`%` TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1');
  assert.equal(definerClause('user@with@at@host'), 'DEFINER=`user@with@at`@`host`');
});

test('the agent\'s own check: an object the centre would refuse is named with the reason, a good one passes', () => {
  assert.equal(schemaObjectRefusal(view('v', 'select 1')), undefined);
  assert.equal(schemaObjectRefusal(view('big', `select '${'x'.repeat(maxObjectSqlBytes)}' AS \`a\``)), `createSql: at most ${maxObjectSqlBytes} bytes`);
  assert.equal(schemaObjectRefusal(object('procedure', 'p', 'CREATE PROCEDURE `q`() SELECT 1')), 'createSql: it creates "q", not "p"');
  assert.equal(schemaObjectRefusal(view('a/b', 'select 1')), undefined, 'a name MySQL allows is carried: it is never a path');
});
