// What an operator gets wrong on a GEO: each is one line with the right exit code, and the hour is
// marked agent_failed when the API could be told; key and token problems stop the run before it opens.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { after, before, describe, test } from 'node:test';
import { runAgent } from '../../src/commands/agent/run.js';
import { ExitCode } from '../../src/exit-codes.js';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { writePrivateFile } from '../support/ganymede.js';
import { startFaultyMysql } from '../support/net.js';
import { runCli } from '../support/cli.js';
import { adminApi, agentConfig, agentEnv, filesIn, inSource, isGanymedeError, transactions } from './support.js';

describe('agent run with bad input', { timeout: 300_000 }, () => {
  let fixture: AgentFixture;
  const sourceUser = `gmdt_agent_${randomBytes(3).toString('hex')}`;
  const sourcePassword = randomBytes(12).toString('base64url');
  let hour = 0;
  // The GEO's live token: the fixture's, until a test rotates it.
  let token = '';
  const nextCycle = () => `2026-11-18T${String(hour++).padStart(2, '0')}`;
  const txnOf = async (cycle: string) => (await transactions(fixture)).find((txn) => txn.cycle === cycle);

  before(async () => {
    fixture = await agentFixture('sam');
    token = fixture.token;
    await inSource(fixture, ['CREATE TABLE t (id INT PRIMARY KEY)', 'INSERT INTO t VALUES (1)']);
    const admin = await fixture.admin();
    for (const host of ['localhost', '127.0.0.1', '%']) {
      await admin.query(`CREATE USER '${sourceUser}'@'${host}' IDENTIFIED BY '${sourcePassword}'`);
      await admin.query(`GRANT SELECT, SHOW VIEW ON \`${fixture.sourceDatabase}\`.* TO '${sourceUser}'@'${host}'`);
    }
  });
  after(async () => {
    const admin = await fixture?.admin();
    for (const host of ['localhost', '127.0.0.1', '%']) await admin?.query(`DROP USER IF EXISTS '${sourceUser}'@'${host}'`);
    await fixture?.dispose();
  });

  test('the source user with its password delivers (the control case)', async () => {
    const loaded = fixture.config({ 'agent.source.url': `mysql://${sourceUser}@127.0.0.1:3306/${fixture.sourceDatabase}`, 'agent.source.password': sourcePassword });
    const result = await runAgent({ loaded, cycle: nextCycle(), retryBaseDelayMs: 10 });
    assert.equal(result.rows, 1);
  });

  test('agent.inbox "api" while the centre\'s inbox is no object store: refused, naming the setting, the hour agent_failed', async () => {
    const cycle = nextCycle();
    const reason = /the centre's inbox \(centre\.inbox\) is not an object store, so it hands out no uploads; set agent\.inbox to the sftp:\/\/ \(or file:\/\/\) inbox/;
    await assert.rejects(runAgent({ loaded: fixture.config({ 'agent.inbox': 'api' }), cycle, retryBaseDelayMs: 10 }), isGanymedeError(ExitCode.refused, reason));
    const txn = await txnOf(cycle);
    assert.equal(txn?.state, 'agent_failed');
    assert.match(txn?.error ?? '', reason);
  });

  test('an unreachable source (port 1): unreachable, the hour agent_failed with that reason', async () => {
    const cycle = nextCycle();
    const loaded = fixture.config({ 'agent.source.url': `mysql://root@127.0.0.1:1/${fixture.sourceDatabase}` });
    await assert.rejects(runAgent({ loaded, cycle, retryBaseDelayMs: 10 }), isGanymedeError(ExitCode.unreachable, /cannot reach the Cloud Control database at 127\.0\.0\.1:1/));
    const txn = await txnOf(cycle);
    assert.equal(txn?.state, 'agent_failed');
    assert.match(txn?.error ?? '', /cannot reach the Cloud Control database at 127\.0\.0\.1:1/);
  });

  test('the source connection lost in the middle of a table: unreachable, one line naming the source, no spool, the hour agent_failed', async () => {
    await inSource(fixture, [
      'CREATE TABLE big (id INT AUTO_INCREMENT PRIMARY KEY, pad VARCHAR(200) NOT NULL)',
      "INSERT INTO big (pad) VALUES (REPEAT('x', 200))",
      ...Array.from({ length: 16 }, () => 'INSERT INTO big (pad) SELECT pad FROM big'),
    ]);
    // The connection is cut after 2 MB of results: mid-table.
    const proxy = await startFaultyMysql({ cutAfterServerBytes: 2_000_000 });
    const { port } = proxy;
    try {
      const cycle = nextCycle();
      const loaded = fixture.config({ 'agent.source.url': `mysql://root@127.0.0.1:${port}/${fixture.sourceDatabase}` });
      await assert.rejects(runAgent({ loaded, cycle, retryBaseDelayMs: 10 }), isGanymedeError(ExitCode.unreachable, new RegExp(`cannot reach the Cloud Control database ${fixture.sourceDatabase} at 127\\.0\\.0\\.1:${port}: PROTOCOL_CONNECTION_LOST`)));
      const txn = await txnOf(cycle);
      assert.equal(txn?.state, 'agent_failed');
      assert.match(txn?.error ?? '', /PROTOCOL_CONNECTION_LOST/);
      assert.deepEqual(filesIn(fixture.inboxDir).filter((name) => name.includes(cycle)), [], 'nothing delivered');
    } finally {
      proxy.close();
      await inSource(fixture, ['DROP TABLE big']);
    }
  });

  test('a wrong source password: a config error, the password never shown, the hour agent_failed', async () => {
    const cycle = nextCycle();
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    const loaded = fixture.config({ 'agent.source.url': `mysql://${sourceUser}@127.0.0.1:3306/${fixture.sourceDatabase}`, 'agent.source.password': wrong });
    await assert.rejects(runAgent({ loaded, cycle, retryBaseDelayMs: 10 }), (error) => {
      isGanymedeError(ExitCode.config, new RegExp(`the Cloud Control database at 127\\.0\\.0\\.1:3306 refused the login: .*${sourceUser}`))(error);
      assert.ok(!(error as Error).message.includes(wrong) && !(error as Error).message.includes(sourcePassword));
      return true;
    });
    assert.equal((await txnOf(cycle))?.state, 'agent_failed');
  });

  test('a source database that does not exist: a config error naming it, not a hint to create it with db migrate', async () => {
    const cycle = nextCycle();
    const loaded = fixture.config({ 'agent.source.url': 'mysql://root@127.0.0.1:3306/gmdt_no_such_source' });
    await assert.rejects(runAgent({ loaded, cycle, retryBaseDelayMs: 10 }), (error) => {
      isGanymedeError(ExitCode.config, /the Cloud Control database at 127\.0\.0\.1:3306: Unknown database 'gmdt_no_such_source'/)(error);
      // `db migrate` creates the Ganymede database, never a GEO's Cloud Control database.
      assert.doesNotMatch((error as { hint?: string }).hint ?? '', /db migrate/);
      return true;
    });
    assert.equal((await txnOf(cycle))?.state, 'agent_failed');
  });

  test('a centre public key file that holds a private key: a config error before any transaction is opened', async () => {
    const cycle = nextCycle();
    const loaded = fixture.config({ 'agent.centre_public_key_file': fixture.keys.centrePrivate });
    await assert.rejects(runAgent({ loaded, cycle, retryBaseDelayMs: 10 }), isGanymedeError(ExitCode.config, /agent\.centre_public_key_file .*centre\.key\.asc: holds a private key where a public key is expected/));
    assert.equal(await txnOf(cycle), undefined);
  });

  test('a centre public key file of garbage: a config error before any transaction is opened', async () => {
    const cycle = nextCycle();
    const garbage = writePrivateFile(join(fixture.dir, 'garbage.asc'), 'this is not a key\n');
    await assert.rejects(runAgent({ loaded: fixture.config({ 'agent.centre_public_key_file': garbage }), cycle, retryBaseDelayMs: 10 }), isGanymedeError(ExitCode.config, /agent\.centre_public_key_file .*garbage\.asc/));
    assert.equal(await txnOf(cycle), undefined);
  });

  test('a signing key file holding the public key: a config error before any transaction is opened', async () => {
    const cycle = nextCycle();
    await assert.rejects(runAgent({ loaded: fixture.config({ 'agent.signing_key_file': fixture.keys.geoPublic }), cycle, retryBaseDelayMs: 10 }), isGanymedeError(ExitCode.config, /agent\.signing_key_file /));
    assert.equal(await txnOf(cycle), undefined);
  });

  test('a work dir where a file stands: a config error naming the work dir, nothing opened', async () => {
    const cycle = nextCycle();
    const file = join(fixture.dir, 'not-a-dir');
    writeFileSync(file, '');
    const workDir = join(file, 'agent');
    await assert.rejects(runAgent({ loaded: fixture.config({ 'agent.work_dir': workDir }), cycle, retryBaseDelayMs: 10 }), isGanymedeError(ExitCode.config, new RegExp(`agent work dir ${workDir}`)));
    assert.equal(await txnOf(cycle), undefined);
  });

  test('a work dir on a read-only filesystem: a config error naming the work dir, no spool', async (t) => {
    // Root ignores modes, so a read-only mount it is (a tmpfs, mounted for this test only).
    const mountPoint = join(fixture.dir, 'read-only');
    mkdirSync(mountPoint);
    const mounted = await execa('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mountPoint], { reject: false });
    if (mounted.exitCode !== 0) {
      t.skip(`cannot mount a read-only tmpfs here: ${String(mounted.stderr)}`);
      return;
    }
    try {
      // The work dir itself on the read-only mount: it exists, but nothing can be written in it.
      const existing = nextCycle();
      await assert.rejects(runAgent({ loaded: fixture.config({ 'agent.work_dir': mountPoint }), cycle: existing, retryBaseDelayMs: 10 }), isGanymedeError(ExitCode.config, new RegExp(`agent work dir ${mountPoint}: EROFS`)));
      const txn = await txnOf(existing);
      assert.ok(txn === undefined || txn.state === 'agent_failed', `left ${txn?.state}`);
      // A work dir still to be created there.
      const toCreate = nextCycle();
      const workDir = join(mountPoint, 'agent');
      await assert.rejects(runAgent({ loaded: fixture.config({ 'agent.work_dir': workDir }), cycle: toCreate, retryBaseDelayMs: 10 }), isGanymedeError(ExitCode.config, new RegExp(`agent work dir ${workDir}`)));
      assert.equal(await txnOf(toCreate), undefined);
    } finally {
      await execa('umount', [mountPoint]);
    }
  });

  test('a rotated (revoked) token: a config error naming the token, nothing opened; the new token works', async () => {
    const cycle = nextCycle();
    const rotated = await adminApi(fixture, 'POST', `/v1/geos/${fixture.geo}/rotate-token`);
    assert.equal(rotated.status, 200);
    await assert.rejects(runAgent({ loaded: fixture.config(), cycle, retryBaseDelayMs: 10 }), (error) => {
      isGanymedeError(ExitCode.config, /the status API answered 401 /)(error);
      assert.match((error as { hint?: string }).hint ?? '', /token of GEO sam \(agent\.token_file\)/);
      assert.ok(!(error as Error).message.includes(fixture.token), 'the token is not repeated');
      return true;
    });
    assert.equal(await txnOf(cycle), undefined);
    token = String(rotated.json.token);
    const fresh = agentConfig(fixture, { 'agent.token': token });
    assert.equal((await runAgent({ loaded: fresh, cycle, retryBaseDelayMs: 10 })).cycle, cycle);
  });

  test('through the CLI: one line (and a hint), the exit code, no stack', async () => {
    const inboxBefore = filesIn(fixture.inboxDir);
    const cases: Array<[Record<string, string>, number, RegExp]> = [
      [{ 'agent.source.url': `mysql://root@127.0.0.1:1/${fixture.sourceDatabase}` }, ExitCode.unreachable, /^ganymede: cannot reach the Cloud Control database at 127\.0\.0\.1:1/],
      [{ 'agent.centre_public_key_file': fixture.keys.centrePrivate }, ExitCode.config, /^ganymede: agent\.centre_public_key_file /],
      [{ 'agent.token': 'gmd_sam_not-the-token' }, ExitCode.config, /^ganymede: the status API answered 401 /],
    ];
    for (const [settings, code, pattern] of cases) {
      const run = await runCli(['agent', 'run', '--cycle', nextCycle()], agentEnv(fixture, { 'logging.level': 'error', 'agent.token': token, ...settings }));
      assert.equal(run.code, code, run.stderr);
      assert.match(run.stderr, pattern);
      const lines = run.stderr.split('\n');
      assert.ok(lines.length <= 2 && (lines.length === 1 || lines[1]!.startsWith('  hint: ')), run.stderr);
      assert.doesNotMatch(run.stderr, /internal error|    at /);
    }
    assert.deepEqual(filesIn(fixture.inboxDir), inboxBefore, 'nothing delivered');
  });
});
