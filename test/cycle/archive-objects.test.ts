// `archive restore` gives back a GEO's Cloud Control database as it was at an hour: tables, then its
// functions and procedures, views over views, triggers and events, into a fresh database on a server the
// operator names (`--to`). The source: views over views (one calling a function), three triggers (two on
// one event, ordered), a procedure whose definer does not exist, an event. Checked as an operator would:
// `--dry-run` lists everything in order and creates nothing; the missing definer is reported before
// anything is created; `--definer` makes the restore work; once the user exists, every table's CHECKSUM
// TABLE and every object's SHOW CREATE are the source's. Nothing is normalised: SHOW CREATE runs with each
// schema selected (so a view names no schema), and only a trigger's `Created` time differs by nature.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { startCentre, type Centre, type CentreGeo } from '../support/centre-fixture.js';
import { mysqlPasswordForTests, mysqlUrlFor } from '../support/mysql.js';
import { missingDefiner, objectNames, objectsSql, schemaObjectStatements } from '../support/schema-objects-source.js';
import { cliWith, schemaChecksums, shown } from './support.js';

const cycle = '2026-06-02T05';
let centre: Centre;
let geo: CentreGeo;
let admin: mysql.Connection;
let rootDefiner = '';
const targets: string[] = [];

function target(label: string): string {
  const name = `gmdt_objs_${label}_${process.pid}`;
  targets.push(name);
  return name;
}

const restore = (args: string[]) =>
  cliWith(centre, ['archive', 'restore', '--geo', geo.name, '--cycle', cycle, ...args], mysqlPasswordForTests() ? { GANYMEDE_ARCHIVE_RESTORE_PASSWORD: mysqlPasswordForTests() } : {});

async function schemaExists(name: string): Promise<boolean> {
  const [rows] = await admin.query<mysql.RowDataPacket[]>('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name]);
  return rows.length > 0;
}

/**
 * SHOW CREATE of every object, by kind and name, the trigger's creation time left out; run with the schema
 * selected, as a view's definition then names no schema (from elsewhere it qualifies every table with it).
 */
async function definitions(schema: string): Promise<Record<string, Record<string, unknown>>> {
  const [objects] = await admin.query<mysql.RowDataPacket[]>(objectsSql, [schema, schema, schema, schema]);
  const out: Record<string, Record<string, unknown>> = {};
  await admin.query(`USE \`${schema}\``);
  for (const { kind, name } of objects as Array<{ kind: string; name: string }>) {
    const [[row]] = (await admin.query(`SHOW CREATE ${kind.toUpperCase()} \`${name}\``)) as unknown as [[Record<string, unknown>]];
    const { Created: _created, ...rest } = row;
    out[`${kind} ${name}`] = rest;
  }
  return out;
}

async function showCreateTable(schema: string, table: string): Promise<string> {
  await admin.query(`USE \`${schema}\``);
  const [[row]] = (await admin.query(`SHOW CREATE TABLE \`${table}\``)) as unknown as [[Record<string, string>]];
  return row['Create Table']!.replace(/ AUTO_INCREMENT=\d+/, '');
}

before(async () => {
  centre = await startCentre({ glassbeam: true });
  admin = await centre.admin();
  const [[current]] = (await admin.query('SELECT CURRENT_USER() AS user')) as unknown as [[{ user: string }]];
  rootDefiner = current.user;
  geo = await centre.addGeo('objs', await centre.addSource('objsrc', schemaObjectStatements()));
  await geo.deliver(cycle);
  const drained = await centre.cli(['jupiter', 'drain', '--timeout', '150']);
  assert.equal(drained.code, 0, shown(drained));
  const archived = await centre.cli(['archive']);
  assert.equal(archived.code, 0, shown(archived));
});
after(async () => {
  for (const name of targets) await admin?.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => undefined);
  await admin?.query(`DROP USER IF EXISTS '${missingDefiner().user}'@'%'`).catch(() => undefined);
  await centre?.dispose();
});

test('--dry-run lists the tables and then every object in an order that works, reports the missing definer, and creates nothing', async () => {
  const into = target('dry');
  const run = await restore(['--to', mysqlUrlFor(into), '--dry-run']);
  assert.equal(run.code, 0, shown(run));
  const lines = run.stdout.trim().split('\n');
  const created = lines.filter((line) => line.startsWith('would create ')).map((line) => line.replace(/^would create (\S+ [^\s,]+).*$/, '$1'));
  assert.deepEqual(created, [
    'table accounts', 'table audit_log',
    'function double_it', 'procedure open_account',
    // a_top sorts first but reads v_rich, which reads v_accounts
    'view v_accounts', 'view v_rich', 'view a_top',
    'trigger accounts_audit', 'trigger accounts_created', 'trigger accounts_named',
    'event purge_audit',
  ]);
  assert.match(run.stdout, new RegExp(`^would create procedure open_account, definer ${missingDefiner().text}$`, 'm'));
  assert.match(run.stdout, new RegExp(`^definer ${missingDefiner().text} does not exist on the target: give --definer user@host, or create that user first$`, 'm'));
  assert.match(run.stdout, new RegExp(`^dry run: 11 objects would be created in ${into}, in this order; nothing was created$`, 'm'));
  assert.equal(await schemaExists(into), false, 'no schema created');
});

test('a definer missing on the target is named before anything is created (exit 2); --definer makes the restore work', async () => {
  const into = target('definer');
  const refused = await restore(['--to', mysqlUrlFor(into)]);
  assert.equal(refused.code, 2, shown(refused));
  assert.match(refused.stderr, new RegExp(`has no user ${missingDefiner().text}, the definer of 1 of the GEO's views, routines, triggers or events; nothing was created`));
  assert.match(refused.stderr, /--definer user@host/);
  assert.equal(await schemaExists(into), false, 'nothing created');

  const run = await restore(['--to', mysqlUrlFor(into), '--definer', rootDefiner]);
  assert.equal(run.code, 0, shown(run));
  assert.match(run.stdout, new RegExp(`^restored agent/${cycle}/objs/\\S+ into ${into}: 2 tables, \\d+ rows, verified; signed by ${geo.keys.fingerprint}$`, 'im'));
  assert.match(run.stdout, /^created 9 views, routines, triggers and events: /m);
  assert.deepEqual(await schemaChecksums(admin, into), await schemaChecksums(admin, geo.sourceDatabase));
  const [[procedure]] = (await admin.query(`SHOW CREATE PROCEDURE \`${into}\`.open_account`)) as unknown as [[Record<string, string>]];
  const [user, host] = rootDefiner.split('@');
  assert.match(procedure['Create Procedure']!, new RegExp(`^CREATE DEFINER=\`${user}\`@\`${host!.replace(/\./g, '\\.')}\` PROCEDURE \`open_account\``));
});

test("with every definer present, the restore's tables and every object's SHOW CREATE are the source's", async () => {
  const gone = missingDefiner();
  await admin.query(`CREATE USER IF NOT EXISTS '${gone.user}'@'${gone.host}'`);
  const into = target('exact');
  const run = await restore(['--to', mysqlUrlFor(into), '--json']);
  assert.equal(run.code, 0, shown(run));
  const result = JSON.parse(run.stdout) as { objects: Array<{ kind: string; name: string }>; missingDefiners: string[] };
  assert.deepEqual(result.missingDefiners, []);
  assert.equal(result.objects.length, Object.values(objectNames).flat().length);
  assert.deepEqual(await schemaChecksums(admin, into), await schemaChecksums(admin, geo.sourceDatabase), 'every table');
  const source = await definitions(geo.sourceDatabase);
  assert.deepEqual(Object.keys(source).sort(), Object.entries(objectNames).flatMap(([kind, names]) => names.map((name) => `${kind} ${name}`)).sort());
  assert.deepEqual(await definitions(into), source, 'every object: definition, sql_mode, character set, collations, definer');
  for (const table of ['accounts', 'audit_log']) assert.deepEqual(await showCreateTable(into, table), await showCreateTable(geo.sourceDatabase, table), `table ${table}: as dumped, defaults kept`);
  // The restored code works: the view over views calls the function; the trigger fires on a new row.
  const [top] = await admin.query<mysql.RowDataPacket[]>(`SELECT name, twice FROM \`${into}\`.a_top`);
  assert.deepEqual(top.map((row) => [row.name, row.twice]), [['alpha', 2], ['gamma', 6]]);
  await admin.query(`INSERT INTO \`${into}\`.accounts (id, name) VALUES (9, 'new')`);
  const [[fresh]] = (await admin.query(`SELECT created IS NOT NULL AS stamped FROM \`${into}\`.accounts WHERE id = 9`)) as unknown as [[{ stamped: number }]];
  assert.equal(fresh.stamped, 1, 'the BEFORE INSERT trigger ran');
});

test('--into (the scratch MySQL) restores the tables only and says the objects were left out: the GEO\'s code is not run there', async () => {
  const into = `gmd_restore_objs_${process.pid}`;
  targets.push(into);
  const run = await restore(['--into', into]);
  assert.equal(run.code, 0, shown(run));
  assert.match(run.stdout, /^left out: the GEO's 9 views, routines, triggers and events \(they are its own code: restore with --to mysql:\/\/… to create them\)$/m);
  assert.deepEqual(await schemaChecksums(admin, into), await schemaChecksums(admin, geo.sourceDatabase));
  const [objects] = await admin.query<mysql.RowDataPacket[]>(objectsSql, [into, into, into, into]);
  assert.deepEqual(objects, []);
});

test('--to with a password in the URL, or with --into, is a usage error naming the fix', async () => {
  const withPassword = await restore(['--to', 'mysql://root:secret@127.0.0.1:3306/x']);
  assert.equal(withPassword.code, 2, shown(withPassword));
  assert.match(withPassword.stderr, /--to mysql:\/\/root:\*\*\*@127\.0\.0\.1:3306\/x: not mysql:\/\/user@host\[:port\]\/database/);
  assert.match(withPassword.stderr, /archive\.restore_password_file or GANYMEDE_ARCHIVE_RESTORE_PASSWORD/);
  assert.doesNotMatch(withPassword.stderr + withPassword.stdout, /secret/, 'the password is not repeated');
  const both = await restore(['--to', mysqlUrlFor('x'), '--into', 'gmd_x']);
  assert.equal(both.code, 2, shown(both));
  assert.match(both.stderr, /give --into <schema> \(on the scratch MySQL\) or --to mysql:\/\/user@host:port\/database, one of them/);
});
