// One agent run per host and work dir: a run that finds the lock held exits "already running" (11, not
// a failure) and opens nothing, whether the holder is this process or another one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runAgent } from '../../src/commands/agent/run.js';
import { ExitCode } from '../../src/exit-codes.js';
import { acquireHostLock } from '../../src/lock.js';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { runCli } from '../support/cli.js';
import { agentEnv, filesIn, inSource, isGanymedeError, transactions, workDirOf } from './support.js';

describe('agent run while another run holds the lock', { timeout: 300_000 }, () => {
  let fixture: AgentFixture;

  before(async () => {
    fixture = await agentFixture('eu');
    await inSource(fixture, ['CREATE TABLE t (id INT PRIMARY KEY)', 'INSERT INTO t VALUES (1), (2), (3)']);
  });
  after(async () => {
    await fixture?.dispose();
  });

  test('with the lock held, runAgent is already running and opens no transaction', async () => {
    const lock = await acquireHostLock('agent', workDirOf(fixture), 'the test');
    try {
      await assert.rejects(runAgent({ loaded: fixture.config(), cycle: '2026-11-22T01', retryBaseDelayMs: 10 }), isGanymedeError(ExitCode.alreadyRunning, /already running/));
    } finally {
      await lock.release();
    }
    assert.deepEqual(await transactions(fixture), []);
    assert.deepEqual(filesIn(fixture.inboxDir), []);
  });

  test('the CLI exits 11 with one line on stderr, and nothing is opened', async () => {
    const lock = await acquireHostLock('agent', workDirOf(fixture), 'the test');
    let run;
    try {
      run = await runCli(['agent', 'run', '--cycle', '2026-11-22T02'], agentEnv(fixture));
    } finally {
      await lock.release();
    }
    assert.equal(run.code, ExitCode.alreadyRunning, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^ganymede: the agent is already running on this host; this run does nothing$/);
    assert.deepEqual(await transactions(fixture), []);
  });

  test('two runs at once in one process: one delivers, the other is already running', async () => {
    const cycle = '2026-11-22T03';
    const outcomes = await Promise.allSettled([1, 2].map(() => runAgent({ loaded: fixture.config(), cycle, retryBaseDelayMs: 10 })));
    const delivered = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const refused = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    assert.equal(delivered.length, 1, outcomes.map((outcome) => (outcome.status === 'rejected' ? String(outcome.reason) : 'ok')).join('; '));
    assert.equal(refused.length, 1);
    isGanymedeError(ExitCode.alreadyRunning)(refused[0]!.reason);
    assert.deepEqual((await transactions(fixture)).map((txn) => [txn.cycle, txn.state]), [[cycle, 'delivered']]);
  });

  test('the lock is free again once a run ends, failed or not', async () => {
    const lock = await acquireHostLock('agent', workDirOf(fixture), 'the test');
    await lock.release();
    const result = await runAgent({ loaded: fixture.config(), cycle: '2026-11-22T04', retryBaseDelayMs: 10 });
    assert.equal(result.rows, 3);
  });
});
