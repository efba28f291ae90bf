// What cron keeps and mails. With crontab.example's lines the log file holds every fact once, whichever
// stream it came on, and a failure also says one line on stderr, which cron mails; `jupiter drain` reports
// the hour's feed and send it ran instead of "nothing to do".
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { runCli } from '../support/cli.js';
import { findFreePort } from '../support/net.js';
import { sourceStatements } from '../pipeline-e2e/support.js';
import { describeDrain, type DrainResult } from '../../src/commands/jupiter/drain.js';

const cycle = '2026-05-04T07';
let centre: Centre;

before(async () => {
  centre = await startCentre({ glassbeam: true });
  await centre.addGeo('nord', await centre.addSource('cronout', sourceStatements(2)));
  await centre.geos.get('nord')!.deliver(cycle);
});
after(async () => {
  await centre?.dispose();
});

/** Lines of the form cron's `>>log 2>&1` would keep, without their time stamps and levels. */
const facts = (text: string) => text.split('\n').filter(Boolean).map((line) => line.replace(/^\S+Z (DEBUG|INFO|WARN|ERROR) +\w+: /, ''));

test('a tick says each launch once across stdout and stderr', async () => {
  const tick = await centre.cli(['jupiter', 'tick']);
  assert.equal(tick.code, 0, tick.stderr);
  assert.match(tick.stdout, /^launched decrypt for transaction \d+ \(2026-05-04T07\), attempt 1/m);
  const launchedTwice = facts(tick.stderr).filter((line) => /launched decrypt/.test(line));
  assert.deepEqual(launchedTwice, [], 'the launch is not logged again on stderr');
});

test('drain reports the hour it fed and sent, even when no transaction step was left', async () => {
  const drained = await centre.cli(['jupiter', 'drain', '--timeout', '150'], 180_000);
  assert.equal(drained.code, 0, drained.stderr);
  assert.match(drained.stdout, new RegExp(`^cycle ${cycle}: sent$`, 'm'));
  const onlySend: DrainResult = {
    launched: [{ step: 'send', txnId: null, cycle, attempt: 1, pid: 1, logPath: '/x' }],
    transactions: [],
    cycles: [{ cycle, state: 'sent', error: null }],
    failedCycles: [],
    ok: true,
  };
  assert.equal(describeDrain(onlySend), `cycle ${cycle}: sent`);
  assert.equal(describeDrain({ ...onlySend, launched: [], cycles: [] }), 'nothing to do: no step was due');
});

test('--log-file: the log keeps every line and the failure; stderr has only the failure, for cron to mail', async () => {
  const geo = centre.geos.get('nord')!;
  const logFile = join(centre.dir, 'agent.log');
  const deadApi = `http://127.0.0.1:${await findFreePort()}`;
  // Patience for at least one logged retry before the give-up, even when the CLI starts slowly on a busy machine.
  const run = await runCli(['--config', geo.configPath, '--log-file', logFile, 'agent', 'run', '--cycle', '2026-05-04T08'], { GANYMEDE_API_URL: deadApi, GANYMEDE_AGENT_API_PATIENCE_MINUTES: '0.1' }, { timeoutMs: 120_000 });
  assert.notEqual(run.code, 0);
  const mailed = run.stderr.split('\n').filter(Boolean);
  assert.match(mailed[0]!, /^ganymede: .*127\.0\.0\.1/, 'the first line on stderr names what failed');
  assert.ok(mailed.every((line) => /^(ganymede: |  hint: |  - )/.test(line)), `stderr holds only the failure:\n${run.stderr}`);
  const logged = readFileSync(logFile, 'utf8');
  assert.match(logged, /^\S+Z ERROR ganymede: .*127\.0\.0\.1/m, 'the log has the failure as a log line');
  assert.ok(logged.split('\n').filter(Boolean).length > 1, 'and the lines before it');

  const unwritable = await runCli(['--config', geo.configPath, '--log-file', join(centre.dir, 'no-such-dir', 'agent.log'), 'agent', 'run'], { GANYMEDE_API_URL: deadApi });
  assert.equal(unwritable.code, 3);
  assert.match(unwritable.stderr, /^ganymede: cannot write the log file .*no-such-dir\/agent\.log: ENOENT/m);
});

test('--log-file: "nothing to do" and "already running" go to the log only, so cron mails nothing', async () => {
  const geo = centre.geos.get('nord')!;
  const logFile = join(centre.dir, 'agent-again.log');
  // The hour was delivered already: the agent has nothing to do (exit 10).
  const again = await runCli(['--config', geo.configPath, '--log-file', logFile, '--log-level', 'info', 'agent', 'run', '--cycle', cycle], {}, { timeoutMs: 60_000 });
  assert.equal(again.code, 10, again.stderr);
  assert.equal(again.stderr, '');
  assert.match(readFileSync(logFile, 'utf8'), /INFO  ganymede: .*already/);
});
