// A compromised GEO holds its own signing key, so it can deliver any manifest, validly signed. These are the
// table definitions such a GEO was seen to use against the centre: a table created in the Ganymede database,
// another GEO's events copied into its scratch schema (and leaked back through error text), an XPATH error
// carrying a token hash, and a definition the server refuses (which once killed the load worker). Each is
// refused or fails on its own, touches nothing outside the GEO's own hour, and an honest GEO's hour of the
// same cycle goes through to the warehouse.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import * as tar from 'tar';
import type mysql from 'mysql2/promise';
import { startCentre, type Centre, type CentreGeo } from '../support/centre-fixture.js';
import { ApiClient } from '../../src/api/client.js';
import { readPrivateKeys, readPublicKey } from '../../src/openpgp/keys.js';
import { openDelivery } from '../../src/load/open-delivery.js';
import { assertWarehouseHoldsSource, attemptsOf, deliverByHand, schemaExists, sealedFor, sourceStatements, txnRow } from './support.js';

const cycle = '2026-04-02T07';
let centre: Centre;
let ganymedeDb: string;
let dumpDir: string;
/** The donor's plan.json and manifest.json as delivered, each attack starting from them. */
const originals = new Map<string, string>();
const txnIds = new Map<string, number>();

const fileName = (geo: string) => `${geo}_${cycle}_d1.tar.gz.gpg`;

/** The honest donor's dump with one table's definition replaced, packed, compressed and signed by `geo`. */
async function sealedWithDefinition(geo: CentreGeo, table: string, createSql: (name: string) => string): Promise<Buffer> {
  for (const entry of ['plan.json', 'manifest.json']) {
    const path = join(dumpDir, entry);
    const manifest = JSON.parse(originals.get(entry)!) as { tables: Array<{ name: string; createSql: string }> };
    const target = manifest.tables.find((candidate) => candidate.name === table)!;
    target.createSql = createSql(table);
    writeFileSync(path, JSON.stringify(manifest));
  }
  const data = readdirSync(join(dumpDir, 'data')).sort().map((name) => `data/${name}`);
  const tarBytes = await buffer(tar.c({ cwd: dumpDir, portable: true }, ['plan.json', ...data, 'manifest.json']) as unknown as Readable);
  return sealedFor(centre, geo, gzipSync(tarBytes));
}

const deliverBytes = (geo: CentreGeo, bytes: Buffer) => deliverByHand(centre, geo, cycle, fileName(geo.name), bytes);

const hostile: Array<{ geo: string; table: string; createSql: (name: string) => string }> = [
  { geo: 'pwn', table: 'audit', createSql: () => `CREATE TABLE \`${ganymedeDb}\`.\`pwned_by_emea\` (x INT)` },
  { geo: 'copycat', table: 'accounts', createSql: (name) => `CREATE TABLE \`${name}\` SELECT * FROM \`${ganymedeDb}\`.events WHERE geo_id = 1` },
  {
    geo: 'xpath',
    table: 'accounts',
    createSql: (name) =>
      `CREATE TABLE \`${name}\` (\`id\` int(11) NOT NULL, \`name\` varchar(60) NOT NULL, \`balance\` decimal(12,2) DEFAULT NULL, ` +
      `\`created_at\` datetime DEFAULT (extractvalue(1, concat(0x7e, (SELECT token_hash FROM \`${ganymedeDb}\`.geos LIMIT 1)))), ` +
      `\`note\` varchar(40) DEFAULT NULL, PRIMARY KEY (\`id\`))`,
  },
];

before(async () => {
  centre = await startCentre({ settings: { 'centre.max_attempts': 2, 'centre.retry_base_ms': 1000 } });
  ganymedeDb = new URL(centre.loaded.config.mysql.url!).pathname.slice(1);
  const source = await centre.addSource('hostilesql', sourceStatements(7));
  const honest = await centre.addGeo('honest', source);
  const donor = await honest.deliver(cycle);
  txnIds.set('honest', donor.transactionId);
  const opened = await openDelivery({
    file: join(honest.inboxDir, donor.file.name),
    decryptionKeys: await readPrivateKeys(centre.keys.privateArmored, 'centre'),
    expectedSigningKeys: await readPublicKey(honest.keys.publicArmored, 'honest'),
    dir: join(centre.dir, 'donor-dump'),
  });
  dumpDir = opened.dir;
  for (const entry of ['plan.json', 'manifest.json']) originals.set(entry, readFileSync(join(dumpDir, entry), 'utf8'));
  for (const attack of hostile) {
    const geo = await centre.addGeo(attack.geo, source);
    txnIds.set(attack.geo, await deliverBytes(geo, await sealedWithDefinition(geo, attack.table, attack.createSql)));
  }
  // Reads through the grammar, but no server takes a DECIMAL of 70 digits: the load fails, it does not crash.
  const refusedByServer = await centre.addGeo('toowide', source);
  const sealed = await sealedWithDefinition(refusedByServer, 'accounts', (name) =>
    `CREATE TABLE \`${name}\` (\`id\` int(11) NOT NULL, \`name\` varchar(60) NOT NULL, \`balance\` decimal(70,2) DEFAULT NULL, ` +
    `\`created_at\` datetime DEFAULT NULL, \`note\` varchar(40) DEFAULT NULL, PRIMARY KEY (\`id\`))`);
  txnIds.set('toowide', await deliverBytes(refusedByServer, sealed));
  // Names the honest GEO's file, with its size and sha256, as its own delivery.
  const thief = await centre.addGeo('namethief', source);
  const thiefApi = new ApiClient({ baseUrl: centre.apiUrl, token: thief.token, as: 'GEO namethief' });
  const { transaction: stolen } = await thiefApi.openTransaction(thief.name, cycle);
  await thiefApi.closeTransaction(stolen.id, { name: donor.file.name, size: donor.file.size, sha256: donor.file.sha256 });
  txnIds.set('namethief', stolen.id);
  await centre.cli(['jupiter', 'drain', '--json', '--timeout', '150']);
});
after(async () => {
  await centre?.dispose();
});

for (const attack of ['pwn', 'copycat']) {
  test(`refused at decrypt, once, and quarantined: ${attack}`, async () => {
    const id = txnIds.get(attack)!;
    const txn = await txnRow(centre, id);
    assert.equal(txn.state, 'refused');
    assert.match(txn.error ?? '', /malformed dump plan: tables\[\d+\] \("(audit|accounts)"\)\.createSql: the table definition is not allowed/);
    assert.deepEqual((await attemptsOf(centre, id)).map((a) => [a.step, a.outcome]), [['decrypt', 'failed']], 'decrypt ran once, nothing after it');
    assert.ok(existsSync(join(centre.paths.quarantine(attack), fileName(attack))), 'the file is in quarantine');
    assert.equal(await schemaExists(centre, centre.paths.scratchSchema(id)), false, 'no scratch schema');
  });
}

test('what the GEO reads of its hour through the API says why, but names no path or server of the centre', async () => {
  const read = async (geo: string) => {
    const api = new ApiClient({ baseUrl: centre.apiUrl, token: centre.geos.get(geo)!.token, as: `GEO ${geo}` });
    return (await api.request<{ transaction: { state: string; error: string | null } }>('GET', `/v1/transactions/${txnIds.get(geo)}`)).transaction;
  };
  const refused = await read('pwn');
  assert.equal(refused.state, 'refused');
  assert.match(refused.error ?? '', /the table definition is not allowed: .*another schema, found "\."; moved to …\/pwn_2026-04-02T07_d1\.tar\.gz\.gpg$/);
  assert.ok(!(refused.error ?? '').includes(centre.dir), 'no centre path');
  assert.ok((await txnRow(centre, txnIds.get('pwn')!)).error?.includes(centre.dir), 'the operator still sees where the file went');
  const failed = await read('toowide');
  assert.equal(failed.state, 'failed');
  assert.match(failed.error ?? '', /^the centre could not finish step load; its operators have the details/);
  assert.doesNotMatch(failed.error ?? '', /gmd_|precision|127\.0\.0\.1/);
});

test('nothing was created in the Ganymede database or anywhere else', async () => {
  const admin = await centre.admin();
  const [rows] = await admin.query<mysql.RowDataPacket[]>("SELECT TABLE_SCHEMA FROM information_schema.TABLES WHERE TABLE_NAME = 'pwned_by_emea'");
  assert.deepEqual(rows, []);
});

test("the scratch user README documents, which loads ran as, cannot read or create anything in the Ganymede database", async () => {
  const { connectScratch } = await import('../../src/worker/scratch-db.js');
  const scratch = await connectScratch(centre.loaded);
  try {
    const attempt = (sql: string) => scratch.promise().query(sql);
    await assert.rejects(attempt(`SELECT token_hash FROM \`${ganymedeDb}\`.geos`), /denied/i);
    await assert.rejects(attempt(`CREATE TABLE \`${ganymedeDb}\`.pwned (x INT)`), /denied/i);
    await attempt('CREATE DATABASE `gmd_probe_scratch_rights`');
    await attempt('DROP DATABASE `gmd_probe_scratch_rights`');
  } finally {
    scratch.destroy();
  }
});

test('an expression hidden in a default is dropped, never evaluated: that hour loads and nothing leaks', async () => {
  const id = txnIds.get('xpath')!;
  const txn = await txnRow(centre, id);
  assert.equal(txn.state, 'done', txn.error ?? '');
  const [geos] = await centre.db.query<mysql.RowDataPacket[]>('SELECT token_hash FROM geos');
  const attempts = await attemptsOf(centre, id);
  const logs = readdirSync(join(centre.dir, 'data', 'log'), { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
  const text = JSON.stringify(attempts) + logs.map((entry) => readFileSync(join(entry.parentPath, entry.name), 'utf8')).join('\n');
  assert.ok(logs.length > 0, 'the workers wrote logs');
  for (const { token_hash: hash } of geos) assert.ok(!text.includes(String(hash).slice(0, 8)), 'no token hash in attempts or logs');
});

test('a definition the server refuses fails the load with the server\'s reason, every attempt, and the worker survives to say so', async () => {
  const id = txnIds.get('toowide')!;
  const attempts = (await attemptsOf(centre, id)).filter((attempt) => attempt.step === 'load');
  assert.equal(attempts.length, 2, 'both attempts ran');
  for (const attempt of attempts) {
    assert.equal(attempt.outcome, 'failed');
    assert.match(attempt.error ?? '', /creating table `accounts`: .*(precision|70)/i, 'the CREATE error, reported by the worker, not a lost lease');
  }
  assert.equal((await txnRow(centre, id)).state, 'failed');
});

test("a failed attempt's last log lines are kept in MySQL: txn show and the API show them without the host's log files", async () => {
  const id = txnIds.get('toowide')!;
  rmSync(join(centre.dir, 'data', 'log'), { recursive: true, force: true });
  const shown = await centre.cli(['txn', 'show', String(id)]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /last log lines of load attempt #2 on centre-test:\n(  .*\n)*  .*ERROR +worker load: failed for good \(failed\): creating table `accounts`/);
  assert.match(shown.stdout, /  .*INFO +worker load: started \(attempt 2\)/, 'the lines before the error too');
  const admin = new ApiClient({ baseUrl: centre.apiUrl, token: centre.adminToken, as: 'admin' });
  const { steps } = await admin.request<{ steps: Array<{ name: string; attemptLog: Array<{ attempt: number; host: string; logTail: string[] | null }> }> }>('GET', `/v1/transactions/${id}/steps`);
  const load = steps.find((step) => step.name === 'load')!;
  assert.deepEqual(load.attemptLog.map((attempt) => [attempt.attempt, attempt.host]), [[1, 'centre-test'], [2, 'centre-test']]);
  assert.ok(load.attemptLog.every((attempt) => attempt.logTail?.some((line) => line.includes('creating table `accounts`'))));
  const asGeo = new ApiClient({ baseUrl: centre.apiUrl, token: centre.geos.get('toowide')!.token, as: 'GEO toowide' });
  await assert.rejects(asGeo.request('GET', `/v1/transactions/${id}/steps`), /403|admin/);
});

test("a GEO naming another GEO's file as its own reaches only its own inbox: refused there, the other's file untouched", async () => {
  const txn = await txnRow(centre, txnIds.get('namethief')!);
  assert.equal(txn.state, 'refused');
  assert.match(txn.error ?? '', /not in the inbox/);
  const honest = centre.geos.get('honest')!;
  const honestFile = (await txnRow(centre, txnIds.get('honest')!)).file_name;
  assert.equal(txn.file_name, honestFile, 'it named that file');
  assert.ok(existsSync(join(honest.inboxDir, honestFile)), "the honest GEO's file is still in its inbox");
});

test("the honest GEO's hour of the same cycle lands in the warehouse", async () => {
  const honest = centre.geos.get('honest')!;
  assert.equal((await txnRow(centre, txnIds.get('honest')!)).state, 'done');
  await assertWarehouseHoldsSource(await centre.warehouse(), honest.name, honest.sourceDatabase);
});
