// `agent run --dry-run`: the tables a run would take, with estimates from the source's statistics; no
// transaction, no file, no work dir.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { describeAgentDryRun, runAgentDryRun } from '../../src/commands/agent/dry-run.js';
import { ExitCode } from '../../src/exit-codes.js';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { runCli } from '../support/cli.js';
import { agentEnv, filesIn, inSource, isGanymedeError, transactions, workDirOf } from './support.js';

describe('agent run --dry-run', { timeout: 120_000 }, () => {
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
});
