// The centre set up by hand, as an operator would: keys, database, a GEO, the API, and `config check`
// against the real servers of the rig (MariaDB, sshd, the MongoDB-wire stand-in).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { ganymedeBin, runCli } from '../support/cli.js';
import { tempDir } from '../support/ganymede.js';
import { mysqlUrlFor, testDatabases } from '../support/mysql.js';
import { startSshd, type SshdServer } from '../support/sshd.js';
import { startMongo, type TestMongo } from '../support/mongo.js';
import { ExitCode } from '../../src/exit-codes.js';

const work = tempDir('centre');
const databases = await testDatabases();
let database: string;
let sshd: SshdServer;
let mongo: TestMongo;
let env: Record<string, string>;

before(async () => {
  database = await databases.create('e2e');
  [sshd, mongo] = await Promise.all([startSshd(), startMongo()]);
  env = { GANYMEDE_MYSQL_URL: mysqlUrlFor(database), GANYMEDE_LOGGING_LEVEL: 'warn' };
});
after(async () => {
  await Promise.all([sshd?.stop(), mongo?.stop(), databases.dropAll()]);
  work.remove();
});

test('keys generate writes an armored pair, the private file 0600, and never overwrites', async () => {
  const run = await runCli(['keys', 'generate', '--name', 'emea', '--out', join(work.path, 'keys')]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /key emea: [0-9A-F]{40}/);
  const privateFile = join(work.path, 'keys', 'emea.key.asc');
  assert.equal(statSync(privateFile).mode & 0o777, 0o600);
  assert.match(readFileSync(privateFile, 'utf8'), /BEGIN PGP PRIVATE KEY BLOCK/);
  assert.match(readFileSync(join(work.path, 'keys', 'emea.pub.asc'), 'utf8'), /BEGIN PGP PUBLIC KEY BLOCK/);
  const before = readFileSync(privateFile, 'utf8');
  const again = await runCli(['keys', 'generate', '--name', 'emea', '--out', join(work.path, 'keys')]);
  assert.equal(again.code, ExitCode.config);
  assert.match(again.stderr, /a key named emea exists already/);
  assert.equal(readFileSync(privateFile, 'utf8'), before, 'the existing key is untouched');
});

test('db migrate through the CLI: twice changes nothing the second time; two at once both succeed', async () => {
  const first = await runCli(['db', 'migrate'], env);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /applied migration 1/);
  const second = await runCli(['db', 'migrate'], env);
  assert.equal(second.code, 0);
  assert.match(second.stdout, /is up to date at schema version \d+; nothing to do/);

  const other = await databases.create('e2e2');
  const otherEnv = { ...env, GANYMEDE_MYSQL_URL: mysqlUrlFor(other) };
  const both = await Promise.all([runCli(['db', 'migrate', '--json'], otherEnv), runCli(['db', 'migrate', '--json'], otherEnv)]);
  assert.deepEqual(both.map((run) => run.code), [0, 0], both.map((run) => run.stderr).join('\n'));
  const applied = both.map((run) => (JSON.parse(run.stdout) as { applied: unknown[] }).applied.length).sort();
  assert.equal(applied[0], 0, 'one of them found nothing to do');
});

test('geo add prints nothing secret in logs, writes the token once; duplicates are refused; list shows it', async () => {
  const tokenFile = join(work.path, 'emea.token');
  const add = await runCli(['geo', 'add', 'emea', '--public-key', join(work.path, 'keys', 'emea.pub.asc'), '--token-file', tokenFile], env);
  assert.equal(add.code, 0, add.stderr);
  const token = readFileSync(tokenFile, 'utf8').trim();
  assert.match(token, /^gmd_emea_/);
  assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
  assert.ok(!add.stdout.includes(token) && !add.stderr.includes(token), 'the token went to the file only');

  const duplicate = await runCli(['geo', 'add', 'emea', '--public-key', join(work.path, 'keys', 'emea.pub.asc')], env);
  assert.equal(duplicate.code, ExitCode.refused);
  assert.match(duplicate.stderr, /a GEO named emea exists already/);

  const badKey = await runCli(['geo', 'add', 'apac', '--public-key', join(work.path, 'keys', 'emea.key.asc')], env);
  assert.equal(badKey.code, ExitCode.config);
  assert.match(badKey.stderr, /private key where a public key is expected/);

  const audit = await runCli(['audit', '--json'], env);
  assert.equal(audit.code, 0, audit.stderr);
  const entries = JSON.parse(audit.stdout) as Array<{ actor: string; action: string; target: string; detail: string }>;
  assert.deepEqual(entries.map((entry) => [entry.action, entry.target]), [['geo.add', 'geo:emea']], 'the add is audited, the refused ones are not');
  assert.match(entries[0]!.actor, /^os:/);
  assert.ok(!entries[0]!.detail.includes(token), 'the audit trail never holds the token');

  const list = await runCli(['geo', 'list', '--json'], env);
  assert.equal(list.code, 0);
  const geos = JSON.parse(list.stdout) as Array<{ name: string; enabled: boolean }>;
  assert.deepEqual(geos.map((geo) => [geo.name, geo.enabled]), [['emea', true]]);
});

async function startApi(apiEnv: Record<string, string>): Promise<{ process: ResultPromise; url: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('GANYMEDE_')));
  const child = execa(ganymedeBin, ['api'], { env: { ...base, ...apiEnv, GANYMEDE_LOGGING_LEVEL: 'info' }, extendEnv: false, reject: false, stdin: 'ignore' });
  const url = apiEnv.GANYMEDE_API_URL!;
  for (let tries = 0; tries < 100; tries++) {
    const up = await fetch(`${url}/v1/health`).then((response) => response.ok, () => false);
    if (up) return { process: child, url };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`the API did not come up: ${String((await child).stderr)}`);
}

test('config check connects to every configured server and reports each; exit code tells whether all passed', async () => {
  const port = 20000 + (process.pid % 20000);
  const apiEnv = { ...env, GANYMEDE_API_LISTEN: `127.0.0.1:${port}`, GANYMEDE_API_URL: `http://127.0.0.1:${port}` };
  const api = await startApi(apiEnv);
  const checkEnv = {
    ...apiEnv,
    GANYMEDE_MONGODB_URL: mongo.uri,
    GANYMEDE_AGENT_GEO: 'emea',
    GANYMEDE_AGENT_TOKEN_FILE: join(work.path, 'emea.token'),
    GANYMEDE_AGENT_SOURCE_URL: mysqlUrlFor(database),
    GANYMEDE_AGENT_INBOX: `sftp://${sshd.username}@127.0.0.1:${sshd.port}${sshd.root}`,
    GANYMEDE_AGENT_SFTP_KEY_FILE: sshd.privateKeyPath,
    GANYMEDE_GLASSBEAM_URL: `sftp://${sshd.username}@127.0.0.1:${sshd.port}${sshd.root}`,
    GANYMEDE_GLASSBEAM_KEY_FILE: sshd.privateKeyPath,
    GANYMEDE_AGENT_INBOX_HOST_KEY: sshd.hostKeyFingerprint,
    GANYMEDE_GLASSBEAM_HOST_KEY: sshd.hostKeyFingerprint,
  };
  try {
    const check = await runCli(['config', 'check'], checkEnv);
    assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
    for (const target of ['ganymede mysql', 'mongodb', 'api', 'cloud control mysql', 'central inbox', 'glassbeam sftp']) {
      assert.match(check.stdout, new RegExp(`^${target} +\\S+ +ok +\\d+ ms`, 'm'), `${target} is checked and ok`);
    }
    assert.match(check.stdout, /GEO emea token accepted/);
    assert.match(check.stdout, /all 6 targets ok/);

    const json = await runCli(['config', 'check', '--json'], checkEnv);
    const result = JSON.parse(json.stdout) as { ok: boolean; rows: Array<{ target: string; ok: boolean; note: string }> };
    assert.equal(result.ok, true);
    if (mongo.standIn) assert.ok(result.rows.some((row) => row.target === 'mongodb'), 'the MongoDB-wire stand-in was reached');
  } finally {
    api.process.kill('SIGTERM');
    const ended = await api.process;
    assert.equal(ended.exitCode, 0, 'the API exits 0 on SIGTERM');
    assert.match(String(ended.stderr), /stopping \(SIGTERM\)/);
    assert.match(String(ended.stderr), /GET \/v1\/geos\/emea 200 \d+ms geo=emea/, 'each request is one log line with the GEO');
  }

  const down = await runCli(['config', 'check'], { ...checkEnv, GANYMEDE_AGENT_SFTP_KEY_FILE: join(work.path, 'keys', 'emea.key.asc') });
  assert.equal(down.code, ExitCode.unreachable);
  assert.match(down.stdout, /^api +\S+ +FAILED .*cannot reach the API: ECONNREFUSED/m);
  assert.match(down.stdout, /^central inbox +\S+ +FAILED/m);
  assert.match(down.stdout, /^ganymede mysql +\S+ +ok/m);
  assert.match(down.stderr, /config check: 2 targets failed: api, central inbox/);
});

test('geo remove: a GEO without history goes; an unknown one is not found (7)', async () => {
  const removed = await runCli(['geo', 'remove', 'emea'], env);
  assert.equal(removed.code, 0, removed.stderr);
  const again = await runCli(['geo', 'remove', 'emea'], env);
  assert.equal(again.code, ExitCode.notFound);
  assert.match(again.stderr, /no GEO named emea/);
});
