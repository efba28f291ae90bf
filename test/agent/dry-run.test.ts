// `agent run --dry-run`: the tables a run would take, with estimates from the source's statistics; no
// transaction, no file, no work dir. A close an earlier run kept (the API was down as it delivered) is
// named first, as the run would send it first, and stays kept.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { describeAgentDryRun, runAgentDryRun } from '../../src/commands/agent/dry-run.js';
import { ApiClient } from '../../src/api/client.js';
import { keepPendingClose, pendingClosePath } from '../../src/agent/pending-close.js';
import { ExitCode } from '../../src/exit-codes.js';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { runCli } from '../support/cli.js';
import { agentEnv, filesIn, inSource, isGanymedeError, transactions, workDirOf } from './support.js';

describe('agent run --dry-run', { timeout: 300_000 }, () => {
  let fixture: AgentFixture;

  before(async () => {
    fixture = await agentFixture('oce');
    await inSource(fixture, [
      'CREATE TABLE big (id INT PRIMARY KEY, pad CHAR(200))',
      "INSERT INTO big VALUES (1, 'x')",
      // 2048 rows by doubling
      ...Array.from({ length: 11 }, () => 'INSERT INTO big SELECT id + (SELECT MAX(id) FROM big), pad FROM big'),
      'CREATE TABLE small (id INT PRIMARY KEY)',
      'INSERT INTO small VALUES (1)',
      'CREATE TABLE tmp_scratch (id INT)',
      'CREATE TABLE legacy (id INT) ENGINE=MyISAM',
      'CREATE VIEW v_big AS SELECT id FROM big',
      'ANALYZE TABLE big, small',
    ]);
  });
  after(async () => {
    await fixture?.dispose();
  });

  test('lists the base tables with engine and estimates, honouring include/exclude, and changes nothing', async () => {
    const result = await runAgentDryRun({ loaded: fixture.config({ 'agent.source.exclude': 'tmp_*' }) });
    assert.equal(result.database, fixture.sourceDatabase);
    assert.deepEqual(
      result.tables.map((table) => [table.name, table.engine]),
      [['big', 'InnoDB'], ['legacy', 'MyISAM'], ['small', 'InnoDB']],
    );
    const big = result.tables.find((table) => table.name === 'big')!;
    // InnoDB's row count is a sampled estimate: only its order of magnitude is promised.
    assert.ok(big.estimatedRows > 200 && big.estimatedRows < 20_000, `big: ~${big.estimatedRows} rows`);
    assert.ok(big.estimatedDataBytes > 0);
    const text = describeAgentDryRun(result);
    assert.match(text, /^dry run: would extract 3 tables of /);
    assert.match(text, /\bbig\s+InnoDB\s+\d+/);
    assert.match(text, /\btotal\b/);

    assert.deepEqual(await transactions(fixture), [], 'no transaction');
    assert.deepEqual(filesIn(fixture.inboxDir), [], 'no file in the inbox');
    assert.ok(!existsSync(workDirOf(fixture)), 'not even the work dir');
  });

  test('needs no API, keys nor inbox: only the source', async () => {
    const loaded = fixture.config({ 'api.url': 'http://127.0.0.1:1', 'agent.source.include': 'small' });
    const result = await runAgentDryRun({ loaded });
    assert.deepEqual(result.tables.map((table) => table.name), ['small']);
  });

  test('an unreachable source is unreachable (exit 4)', async () => {
    await assert.rejects(runAgentDryRun({ loaded: fixture.config({ 'agent.source.url': `mysql://root@127.0.0.1:1/${fixture.sourceDatabase}` }) }), isGanymedeError(ExitCode.unreachable, /127\.0\.0\.1:1/));
  });

  test('through the CLI: the table on stdout, --json for scripts, exit 0, nothing opened', async () => {
    const run = await runCli(['agent', 'run', '--dry-run'], agentEnv(fixture));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /dry run: would extract 4 tables/);
    const json = await runCli(['agent', 'run', '--dry-run', '--json'], agentEnv(fixture));
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { tables: Array<{ name: string }> };
    assert.deepEqual(parsed.tables.map((table) => table.name), ['big', 'legacy', 'small', 'tmp_scratch']);
    assert.deepEqual(await transactions(fixture), []);
    assert.deepEqual(filesIn(fixture.inboxDir), []);
  });

  test('a close kept by an earlier run comes first: name, size, sha256 abbreviated; it is neither sent nor removed', async () => {
    const client = new ApiClient({ baseUrl: fixture.api.url, token: fixture.token, as: 'GEO oce' });
    const hour = (await client.openTransaction('oce', '2026-11-22T07')).transaction;
    const file = { name: 'oce_2026-11-22T07_d1.tar.zst.gpg', size: 48_213, sha256: '3f9a0c41d2e7'.padEnd(64, '5') };
    const workDir = workDirOf(fixture);
    mkdirSync(workDir, { recursive: true, mode: 0o700 }); // as the earlier run left it
    const kept = await keepPendingClose(workDir, { geo: 'oce', cycle: '2026-11-22T07', transactionId: hour.id, file, deliveredAt: '2026-11-22T07:09:12.000Z' });
    const keptBefore = readFileSync(kept, 'utf8');
    const before = await transactions(fixture);

    const run = await runCli(['agent', 'run', '--dry-run', '--cycle', '2026-11-22T08'], agentEnv(fixture));
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.equal(
      lines[0],
      `dry run: would first send the close an earlier run kept: ${file.name} (48213 bytes, sha256 3f9a0c41d2e7…) of 2026-11-22T07, transaction ${hour.id}, kept in ${pendingClosePath(workDir, hour.id)} since 2026-11-22T07:09:12.000Z`,
    );
    assert.match(lines[1] ?? '', /^dry run: would extract 4 tables of .* for 2026-11-22T08/, 'then the hour');
    const json = await runCli(['agent', 'run', '--dry-run', '--json'], agentEnv(fixture));
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { keptCloses: Array<{ transactionId: number; file: typeof file; wouldSend: boolean }> };
    assert.deepEqual(parsed.keptCloses.map((close) => [close.transactionId, close.file, close.wouldSend]), [[hour.id, file, true]]);

    assert.equal(readFileSync(kept, 'utf8'), keptBefore, 'the close is still kept, as it was');
    assert.deepEqual(filesIn(workDir), [`pending-close.${hour.id}.json`], 'nothing else in the work dir');
    assert.deepEqual(await transactions(fixture), before, 'the hour is still open: nothing was sent');
    assert.equal(before.find((row) => row.id === hour.id)?.state, 'open');
  });
});
