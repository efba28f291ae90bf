// --dry-run on the commands that change a GEO, a transaction or a key: each says exactly what would change,
// and changes nothing — checked by comparing every table of the Ganymede database, and the files the
// command would write, before and after.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { openStateDb, type Db } from '../../src/state/db.js';
import { addGeo } from '../../src/state/geos.js';
import { recordHeartbeat } from '../../src/state/hosts.js';
import { ExitCode } from '../../src/exit-codes.js';
import { runCli } from '../support/cli.js';
import { tempDir, testCentre, writePrivateFile, type TestCentre } from '../support/ganymede.js';
import { generateKeyPair } from '../../src/openpgp/keys.js';
import { mysqlPasswordForTests, mysqlUrlFor } from '../support/mysql.js';
import { deliveredTransactions } from '../support/steps.js';

let made: TestCentre;
let db: Db;
let env: Record<string, string>;
const work = tempDir('dryruns');

before(async () => {
  made = await testCentre('dryruns');
  db = await openStateDb(made.loaded);
  await deliveredTransactions(db, 1, 2); // geo0, with two deliveries waiting at the centre
  await addGeo(db, { name: 'fresh', publicKey: 'k', keyFingerprint: 'E'.repeat(40) });
  const password = mysqlPasswordForTests();
  env = { GANYMEDE_MYSQL_URL: mysqlUrlFor(made.database), ...(password ? { GANYMEDE_MYSQL_PASSWORD: password } : {}) };
});
after(async () => {
  await db?.end();
  await made?.dispose();
  work.remove();
});

/** Every row of every table, as JSON: what "changed nothing" is compared on. */
async function everything(): Promise<string> {
  const [tables] = await db.query<mysql.RowDataPacket[]>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY table_name", [made.database]);
  const dump: Record<string, unknown> = {};
  for (const { name } of tables) dump[String(name)] = (await db.query(`SELECT * FROM \`${String(name)}\``))[0];
  return JSON.stringify(dump);
}

test('geo disable/enable/remove --dry-run say what would change and change nothing', async () => {
  const before = await everything();
  const disable = await runCli(['geo', 'disable', 'geo0', '--dry-run'], env);
  assert.equal(disable.code, 0, disable.stderr);
  assert.equal(disable.stdout.trim(), 'dry run: would disable GEO geo0: its token refused at once, and its 2 deliveries waiting at the centre refused (to quarantine) when their next step starts; nothing was changed');
  const enable = await runCli(['geo', 'enable', 'geo0', '--dry-run', '--json'], env);
  assert.deepEqual(JSON.parse(enable.stdout), { dryRun: true, geo: 'geo0', enabled: true, changes: false, waitingDeliveries: 2 });
  const remove = await runCli(['geo', 'remove', 'fresh', '--dry-run'], env);
  assert.equal(remove.code, 0, remove.stderr);
  assert.match(remove.stdout, /^dry run: would remove GEO fresh, which has no transactions; nothing was changed$/m);
  const kept = await runCli(['geo', 'remove', 'geo0', '--dry-run'], env);
  assert.equal(kept.code, ExitCode.refused);
  assert.match(kept.stderr, /GEO geo0 has transactions, so it would be kept/);
  assert.equal(await everything(), before, 'not one row changed');

  // And without --dry-run the same commands do change it: the comparison above can see a change.
  assert.equal((await runCli(['geo', 'disable', 'geo0'], env)).code, 0);
  assert.notEqual(await everything(), before);
});

test('txn retry and txn cancel --dry-run say what would change and change nothing', async () => {
  const [rows] = await db.query<mysql.RowDataPacket[]>("SELECT t.id FROM transactions t JOIN geos g ON g.id = t.geo_id WHERE g.name = 'geo0' ORDER BY t.id");
  const [failedId, waitingId] = rows.map((row) => Number(row.id)) as [number, number];
  await db.query("UPDATE steps SET state = 'failed', last_error = 'test' WHERE txn_id = ? AND name = 'decrypt'", [failedId]);
  await db.query("UPDATE transactions SET state = 'failed' WHERE id = ?", [failedId]);
  const before = await everything();
  const retry = await runCli(['txn', 'retry', String(failedId), '--dry-run'], env);
  assert.equal(retry.code, 0, retry.stderr);
  assert.equal(retry.stdout.trim(), `dry run: would make decrypt of transaction ${failedId} due again with a fresh attempt count; nothing was changed`);
  const cancel = await runCli(['txn', 'cancel', String(waitingId), '--dry-run', '--json'], env);
  assert.equal(cancel.code, 0, cancel.stderr);
  const planned = JSON.parse(cancel.stdout) as { dryRun: boolean; stepsCancelled: number; schemasDropped: string[] };
  assert.deepEqual([planned.dryRun, planned.stepsCancelled, planned.schemasDropped], [true, 1, []]);
  assert.equal(await everything(), before, 'not one row changed');
  assert.equal((await runCli(['txn', 'cancel', String(waitingId)], env)).code, 0);
  assert.notEqual(await everything(), before);
});

/** Every file under the work dir with its bytes and mode: what "wrote nothing" is compared on. */
function filesUnder(dir: string): string {
  const walk = (at: string): string[] =>
    readdirSync(at, { withFileTypes: true }).flatMap((entry) => {
      const path = join(at, entry.name);
      return entry.isDirectory() ? [`${relative(dir, path)}/`, ...walk(path)] : [`${relative(dir, path)} ${statSync(path).mode.toString(8)} ${readFileSync(path, 'base64')}`];
    });
  return walk(dir).sort().join('\n');
}

test('geo add, rotate-token, rotate-key and keys generate, rotate --dry-run say what would change and change nothing', { timeout: 300_000 }, async () => {
  const [newGeo, nextKey, centreKey] = await Promise.all([generateKeyPair({ name: 'north' }), generateKeyPair({ name: 'geo0-next' }), generateKeyPair({ name: 'centre' })]);
  const northPub = writePrivateFile(join(work.path, 'north.pub.asc'), newGeo.publicKeyArmored);
  const nextPub = writePrivateFile(join(work.path, 'geo0-next.pub.asc'), nextKey.publicKeyArmored);
  const centreFile = writePrivateFile(join(work.path, 'centre.key.asc'), centreKey.privateKeyArmored);
  writeFileSync(join(work.path, 'taken.token'), 'an earlier token\n', { mode: 0o600 });
  const keysEnv = { ...env, GANYMEDE_CENTRE_PRIVATE_KEY_FILE: centreFile };
  const [[geo0]] = (await db.query("SELECT token_hint FROM geos WHERE name = 'geo0'")) as unknown as [[{ token_hint: string }]];
  const tables = await everything();
  const files = filesUnder(work.path);
  const run = async (args: string[], runEnv = env) => {
    const result = await runCli(args, runEnv);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    return result.stdout.trim();
  };

  const tokenFile = join(work.path, 'north.token');
  assert.equal(
    await run(['geo', 'add', 'north', '--public-key', northPub, '--token-file', tokenFile, '--dry-run']),
    `dry run: would add GEO north with signing key ${newGeo.fingerprint}; its new API token would be written to ${tokenFile} (a new file, 0600); nothing was changed`,
  );
  assert.deepEqual(JSON.parse(await run(['geo', 'add', 'north', '--public-key', northPub, '--dry-run', '--json'])), { dryRun: true, geo: 'north', keyFingerprint: newGeo.fingerprint, tokenFile: null });
  assert.equal(
    await run(['geo', 'rotate-token', 'geo0', '--token-file', join(work.path, 'geo0.token'), '--dry-run']),
    `dry run: would give GEO geo0 a new API token, written to ${join(work.path, 'geo0.token')} (a new file, 0600); its token in force (${geo0.token_hint}…) would stop working at once; nothing was changed`,
  );
  assert.equal(
    await run(['geo', 'rotate-key', 'geo0', '--public-key', nextPub, '--dry-run']),
    `dry run: would put key ${nextKey.fingerprint} in force for GEO geo0 and retire ${'F'.repeat(40)} (it still verifies the files delivered before the rotation); nothing was changed`,
  );
  assert.deepEqual(JSON.parse(await run(['geo', 'rotate-key', 'geo0', '--public-key', nextPub, '--revoke-old-key', '--dry-run', '--json'])), {
    dryRun: true, geo: 'geo0', currentKeyFingerprint: 'F'.repeat(40), keyFingerprint: nextKey.fingerprint, retires: 'F'.repeat(40), revokes: ['F'.repeat(40)],
  });
  const keysOut = join(work.path, 'keys', 'emea');
  assert.equal(
    await run(['keys', 'generate', '--name', 'emea', '--out', keysOut, '--dry-run']),
    `dry run: would make a key pair emea (curve25519): ${join(keysOut, 'emea.key.asc')} (0600) and ${join(keysOut, 'emea.pub.asc')}, creating ${keysOut} (0700); nothing was written`,
  );
  assert.equal(
    await run(['keys', 'rotate', '--dry-run'], keysEnv),
    `dry run: would make a new centre key, put it in front of ${centreFile} (the old keys stay in it), write its public key beside it (centre-<its fingerprint>.pub.asc) and publish it signed by ${centreKey.fingerprint}; agents would encrypt to it from their next run; nothing was changed`,
  );

  // What a real run would refuse, a dry run refuses alike: same exit code, same reason.
  const refusals: Array<[string[], number, RegExp]> = [
    [['geo', 'add', 'geo0', '--public-key', northPub], ExitCode.refused, /a GEO named geo0 exists already/],
    [['geo', 'add', 'north', '--public-key', northPub, '--token-file', join(work.path, 'taken.token')], ExitCode.config, /cannot write the token file .*taken\.token: it exists already/],
    [['geo', 'add', 'North!', '--public-key', northPub], ExitCode.usage, /"North!" is not a GEO name/],
    [['geo', 'rotate-token', 'nowhere'], ExitCode.notFound, /no GEO named nowhere/],
    [['geo', 'rotate-key', 'geo0', '--public-key', join(work.path, 'missing.asc')], ExitCode.config, /cannot read the public key file .*missing\.asc/],
    [['keys', 'generate', '--name', 'north', '--out', work.path], ExitCode.config, /a key named north exists already in/],
    [['keys', 'generate', '--name', 'x', '--out', join(work.path, 'taken.token', 'sub')], ExitCode.usage, /a part of this path is a file, not a directory; nothing was written/],
  ];
  for (const [args, code, message] of refusals) {
    for (const dryRun of [true, false]) {
      const refused = await runCli([...args, ...(dryRun ? ['--dry-run'] : [])], env);
      assert.equal(refused.code, code, `${args.join(' ')}${dryRun ? ' --dry-run' : ''}: ${refused.stderr}`);
      assert.match(refused.stderr, message, args.join(' '));
    }
  }
  assert.equal(await everything(), tables, 'not one row changed');
  assert.equal(filesUnder(work.path), files, 'not one file written, changed or removed');

  // And without --dry-run the same commands do change them: the comparisons above can see a change.
  await run(['geo', 'rotate-token', 'geo0', '--token-file', join(work.path, 'geo0.token')]);
  await run(['keys', 'rotate'], keysEnv);
  assert.notEqual(await everything(), tables);
  assert.notEqual(filesUnder(work.path), files);
});

test('db migrate, cycle feed and hosts forget --dry-run say what would change and change nothing', async () => {
  // A dead host (its last heartbeat an hour ago) and a collecting hour with one GEO in the warehouse.
  await recordHeartbeat(db, { host: 'gone-host', version: 'test', by: 'tick' });
  await db.query("UPDATE hosts SET last_seen_at = UTC_TIMESTAMP(3) - INTERVAL 1 HOUR WHERE name = 'gone-host'");
  const [[txn]] = await db.query<mysql.RowDataPacket[]>('SELECT id, cycle_start FROM transactions ORDER BY id LIMIT 1');
  await db.query('UPDATE transactions SET warehoused_at = UTC_TIMESTAMP(3) WHERE id = ?', [txn!.id]);
  await db.query("INSERT IGNORE INTO cycles (cycle_start, state, created_at, updated_at) VALUES (?, 'collecting', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))", [txn!.cycle_start]);
  await db.query("UPDATE cycles SET state = 'collecting' WHERE cycle_start = ?", [txn!.cycle_start]);
  const hour = (txn!.cycle_start as Date).toISOString().slice(0, 13);
  const before = await everything();

  const migrate = await runCli(['db', 'migrate', '--dry-run'], env);
  assert.equal(migrate.code, 0, migrate.stderr);
  assert.match(migrate.stdout, /^dry run: database \S+ is up to date at schema version \d+; nothing would change$/m);
  const feed = await runCli(['cycle', 'feed', hour, '--allow-missing', '--dry-run', '--json'], env);
  assert.equal(feed.code, 0, feed.stderr);
  const planned = JSON.parse(feed.stdout) as { cycle: string; dryRun: boolean; missingGeos: string[] };
  assert.deepEqual([planned.cycle, planned.dryRun], [hour, true]);
  assert.ok(Array.isArray(planned.missingGeos), JSON.stringify(planned));
  const forget = await runCli(['hosts', 'forget', 'gone-host', '--dry-run'], env);
  assert.equal(forget.code, 0, forget.stderr);
  assert.equal(forget.stdout.trim(), 'dry run: would forget host gone-host (it is dead); nothing was changed');
  assert.equal(await everything(), before, 'not one row changed');

  const forgotten = await runCli(['hosts', 'forget', 'gone-host', '--json'], env);
  assert.deepEqual(JSON.parse(forgotten.stdout), { forgotten: 'gone-host' });
  assert.notEqual(await everything(), before, 'without --dry-run it does change');
});

test('db migrate --dry-run on a database not created yet: it would be created with every migration', async () => {
  const missing = { ...env, GANYMEDE_MYSQL_URL: env.GANYMEDE_MYSQL_URL!.replace(/\/[^/?]+(\?|$)/, '/gmd_never_created_dryrun$1') };
  const plan = await runCli(['db', 'migrate', '--dry-run', '--json'], missing);
  assert.equal(plan.code, 0, plan.stderr);
  const result = JSON.parse(plan.stdout) as { created: boolean; dryRun: boolean; from: number; applied: unknown[] };
  assert.deepEqual([result.created, result.dryRun, result.from], [true, true, 0]);
  assert.ok(result.applied.length >= 10);
  const [[exists]] = await db.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'gmd_never_created_dryrun'");
  assert.equal(Number(exists!.n), 0, 'not created');
});
