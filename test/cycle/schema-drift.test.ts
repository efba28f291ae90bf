// Schema drift, announced: a GEO's Cloud Control upgrade between two hours (a column added, a DECIMAL
// widened, a table added) is named in the second hour's feed manifest (`schemaChanges`, exactly those), both
// manifests list every table's columns with their MySQL types, `txn show` has one `schema` event per change,
// and `check` warns on it only with check.warn_on_schema_change. The accounts mapping stores balance as a
// double (warehouse.mappings[].types), through the real etl and feed.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import mysqlPromise from 'mysql2/promise';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { mysqlOptions } from '../support/mysql.js';
import { cliWith, hoursAgo, ndjsonRecords, nextCycle, readManifest, shown, smallSource } from './support.js';

interface ManifestSchemas {
  schemas: Array<{ geo: string; previousCycle: string | null; tables: Array<{ table: string; collection: string | null; columns: Array<{ name: string; type: string }> }> }>;
  schemaChanges: Array<Record<string, unknown>>;
}

const first = hoursAgo(3);
const second = nextCycle(first);
let centre: Centre;
const feedDir = (cycle: string) => join(centre.dataDir, 'feed', cycle);
const manifestOf = (cycle: string) => readManifest(feedDir(cycle)) as unknown as ManifestSchemas;

async function drain(): Promise<void> {
  const drained = await centre.cli(['jupiter', 'drain', '--timeout', '150']);
  assert.equal(drained.code, 0, shown(drained));
}

async function txnOf(cycle: string): Promise<number> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>('SELECT id FROM transactions WHERE cycle_start = ?', [new Date(`${cycle}:00:00Z`)]);
  return Number(rows[0]!.id);
}

before(async () => {
  centre = await startCentre({ glassbeam: true, settings: { 'warehouse.mappings': [{ table: 'accounts', types: { balance: 'double' } }] } });
  const geo = await centre.addGeo('emea', await centre.addSource('srcdrift', smallSource(1)));
  await geo.deliver(first);
  await drain();
  // The upgrade: a column added, a DECIMAL widened, a table added.
  const conn = await mysqlPromise.createConnection(mysqlOptions(geo.sourceDatabase));
  try {
    await conn.query('ALTER TABLE accounts ADD COLUMN region VARCHAR(20) NULL');
    await conn.query('ALTER TABLE accounts MODIFY balance DECIMAL(14,4)');
    await conn.query('CREATE TABLE orders (id INT PRIMARY KEY, total DECIMAL(8,2) NOT NULL)');
    await conn.query('INSERT INTO orders VALUES (1, 9.99)');
  } finally {
    await conn.end();
  }
  await geo.deliver(second);
  await drain();
});
after(async () => {
  await centre?.dispose();
});

test('both manifests list every table with its columns and MySQL types; the first has no schema changes', () => {
  const before = manifestOf(first);
  assert.equal(before.schemas.length, 1);
  assert.deepEqual([before.schemas[0]!.geo, before.schemas[0]!.previousCycle], ['emea', null]);
  const accounts = before.schemas[0]!.tables.find((table) => table.table === 'accounts')!;
  assert.equal(accounts.collection, 'accounts');
  assert.deepEqual(accounts.columns.map((column) => column.name), ['id', 'name', 'balance', 'created_at', 'note']);
  assert.deepEqual(Object.fromEntries(accounts.columns.slice(1).map((column) => [column.name, column.type])),
    { name: 'VARCHAR(60)', balance: 'DECIMAL(10,2)', created_at: 'DATETIME', note: 'VARCHAR(40)' });
  assert.match(accounts.columns[0]!.type, /^INT(\(11\))?$/);
  assert.deepEqual(before.schemas[0]!.tables.map((table) => table.table), ['accounts', 'tags']);
  assert.deepEqual(before.schemaChanges, []);

  const after = manifestOf(second);
  assert.deepEqual([after.schemas[0]!.geo, after.schemas[0]!.previousCycle], ['emea', first]);
  assert.deepEqual(after.schemas[0]!.tables.map((table) => table.table), ['accounts', 'orders', 'tags']);
  const widened = after.schemas[0]!.tables.find((table) => table.table === 'accounts')!;
  assert.deepEqual(widened.columns.slice(1).map((column) => `${column.name} ${column.type}`),
    ['name VARCHAR(60)', 'balance DECIMAL(14,4)', 'created_at DATETIME', 'note VARCHAR(40)', 'region VARCHAR(20)']);
  assert.deepEqual(after.schemas[0]!.tables.find((table) => table.table === 'orders')!.columns.map((column) => column.type.replace(/\(11\)$/, '')), ['INT', 'DECIMAL(8,2)']);
});

test("the second hour's manifest lists exactly the three schema changes", () => {
  assert.deepEqual(manifestOf(second).schemaChanges, [
    { geo: 'emea', previousCycle: first, change: 'column retyped', table: 'accounts', column: 'balance', oldType: 'DECIMAL(10,2)', newType: 'DECIMAL(14,4)' },
    { geo: 'emea', previousCycle: first, change: 'column added', table: 'accounts', column: 'region', newType: 'VARCHAR(20)' },
    { geo: 'emea', previousCycle: first, change: 'table added', table: 'orders' },
  ]);
});

test('the configured type holds through etl and the feed: balance is a number in both hours, DECIMAL(10,2) or (14,4)', () => {
  for (const cycle of [first, second]) {
    const emea2 = ndjsonRecords(join(feedDir(cycle), 'accounts.ndjson.gz')).find((record) => record._id === 'emea:2')!;
    assert.equal(emea2.balance, 11.5, `${cycle}: a double, not the DECIMAL text "11.50"`);
  }
});

test('txn show of the second hour shows each change as a schema event; the first hour has none', async () => {
  const show = async (cycle: string) => {
    const run = await centre.cli(['txn', 'show', String(await txnOf(cycle)), '--json']);
    assert.equal(run.code, 0, shown(run));
    return (JSON.parse(run.stdout) as { events: Array<{ phase: string; level: string; table?: string; message?: string }> }).events.filter((event) => event.phase === 'schema');
  };
  assert.deepEqual(await show(first), []);
  const events = await show(second);
  assert.deepEqual(events.map((event) => [event.level, event.table, event.message]), [
    ['warn', 'accounts', `column retyped: accounts.balance DECIMAL(10,2) → DECIMAL(14,4) (since ${first})`],
    ['warn', 'accounts', `column added: accounts.region VARCHAR(20) (since ${first})`],
    ['warn', 'orders', `table added: orders (since ${first})`],
  ]);
  const text = await centre.cli(['txn', 'show', String(await txnOf(second))]);
  assert.match(text.stdout, /schema .*column added: accounts\.region VARCHAR\(20\)/);
});

test('check warns on the schema change only with check.warn_on_schema_change', async () => {
  const findings = async (env: Record<string, string>) => {
    const run = await cliWith(centre, ['check', '--json'], env);
    assert.ok([0, 1, 2].includes(run.code), shown(run));
    return (JSON.parse(run.stdout) as { findings: Array<{ level: string; kind: string; geo?: string; what: string }> }).findings.filter((finding) => finding.kind === 'schema-change');
  };
  assert.deepEqual(await findings({}), [], 'off by default');
  assert.deepEqual(await findings({ GANYMEDE_CHECK_WARN_ON_SCHEMA_CHANGE: 'true' }), [{
    level: 'warning',
    kind: 'schema-change',
    geo: 'emea',
    what: `GEO emea hour ${second}: schema changed since ${first}: column retyped: accounts.balance DECIMAL(10,2) → DECIMAL(14,4); column added: accounts.region VARCHAR(20); table added: orders`,
  }]);
  const text = await cliWith(centre, ['check'], { GANYMEDE_CHECK_WARN_ON_SCHEMA_CHANGE: 'true' });
  assert.match(text.stdout, new RegExp(`^WARNING: GEO emea hour ${second}: schema changed`, 'm'));
});
