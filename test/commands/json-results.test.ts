// --json on every command that prints a result, and a JSON result on every exit code that has one: a script
// reads stdout and gets an object whether the command did its work, had nothing to do (10) or failed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { runCli } from '../support/cli.js';
import { sourceStatements } from '../pipeline-e2e/support.js';
import { ExitCode } from '../../src/exit-codes.js';

const cycle = '2026-05-05T09';
let centre: Centre;
let txnId: number;

before(async () => {
  centre = await startCentre({ glassbeam: true });
  await centre.addGeo('sud', await centre.addSource('jsonres', sourceStatements(3)));
  txnId = (await centre.geos.get('sud')!.deliver(cycle)).transactionId;
  const drained = await centre.cli(['jupiter', 'drain', '--timeout', '150'], 180_000);
  if (drained.code !== 0) {
    const [steps] = await centre.db.query("SELECT name, state, attempts, next_run_at, last_error FROM steps WHERE state <> 'done'");
    assert.fail(`${drained.stderr}\nsteps not done: ${JSON.stringify(steps)}`);
  }
});
after(async () => {
  await centre?.dispose();
});

const json = (run: { stdout: string; stderr: string }) => {
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`stdout is not one JSON document:\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
};

test('agent run --json for an hour already delivered: exit 10 with a JSON result saying so', async () => {
  const geo = centre.geos.get('sud')!;
  const run = await runCli(['--config', geo.configPath, 'agent', 'run', '--cycle', cycle, '--json'], {}, { timeoutMs: 60_000 });
  assert.equal(run.code, ExitCode.nothingToDo, run.stderr);
  const result = json(run);
  assert.equal(result.exitCode, 10);
  assert.equal(result.outcome, 'nothingToDo');
  assert.match(String(result.message), new RegExp(`${cycle} of GEO sud`));
});

test('worker feed --force --json prints what it built; worker clean of a done transaction is a JSON "nothing to do"', async () => {
  const feed = await centre.cli(['worker', 'feed', '--cycle', cycle, '--force', '--json']);
  assert.equal(feed.code, 0, feed.stderr);
  const built = json(feed);
  assert.equal(built.step, 'feed');
  assert.equal(built.cycle, cycle);
  assert.ok(Number(built.rows) > 0, `rows: ${String(built.rows)}`);

  const clean = await centre.cli(['worker', 'clean', '--txn', String(txnId), '--json']);
  assert.equal(clean.code, ExitCode.nothingToDo, clean.stderr);
  assert.equal(json(clean).exitCode, ExitCode.nothingToDo);
});

test('geo disable/enable --json, and a failure under --json is a JSON result too', async () => {
  const disabled = await centre.cli(['geo', 'disable', 'sud', '--json']);
  assert.equal(disabled.code, 0, disabled.stderr);
  assert.deepEqual(json(disabled), { geo: 'sud', enabled: false });
  const enabled = await centre.cli(['geo', 'enable', 'sud', '--json']);
  assert.deepEqual(json(enabled), { geo: 'sud', enabled: true });

  const missing = await centre.cli(['txn', 'show', '99999999', '--json']);
  assert.equal(missing.code, ExitCode.notFound);
  assert.deepEqual(json(missing), { ok: false, exitCode: ExitCode.notFound, outcome: 'notFound', message: 'no transaction 99999999', hint: 'see `ganymede txn list`' });
  assert.match(missing.stderr, /^ganymede: no transaction 99999999$/m, 'people and cron still get their line');
});

test('worker decrypt by hand (no lease from a tick) says what it did in one line', async () => {
  const again = await centre.cli(['worker', 'feed', '--cycle', cycle, '--force']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`^feed of cycle ${cycle}: done, \\d+ rows, \\d+ bytes$`, 'm'));
});

test('worker --dry-run says whether the step would run and changes nothing', async () => {
  const steps = async () => JSON.stringify((await centre.db.query('SELECT * FROM steps ORDER BY id'))[0]) + JSON.stringify((await centre.db.query('SELECT * FROM step_attempts ORDER BY id'))[0]);
  const before = await steps();
  const done = await centre.cli(['worker', 'etl', '--txn', String(txnId), '--dry-run', '--json']);
  assert.equal(done.code, ExitCode.nothingToDo, done.stderr);
  assert.match(String(json(done).message), new RegExp(`etl of transaction ${txnId} is done; nothing to do`));
  await centre.db.query("UPDATE steps SET state = 'failed', last_error = 'test' WHERE txn_id = ? AND name = 'clean'", [txnId]);
  await centre.db.query("UPDATE transactions SET state = 'failed' WHERE id = ?", [txnId]);
  const failedBefore = await steps();
  const plan = await centre.cli(['worker', 'clean', '--txn', String(txnId), '--dry-run']);
  assert.equal(plan.code, 0, plan.stderr);
  assert.equal(plan.stdout.trim(), `dry run: would run clean of transaction ${txnId} now on this host (attempt 2; the step is failed); nothing was changed`);
  assert.equal(await steps(), failedBefore, 'nothing claimed, nothing recorded');
  assert.notEqual(before, failedBefore);
  // The sent hour's feed replayed (--force, above) is not due to be sent again: only an operator's send --force sends it.
  const sendPlan = await centre.cli(['worker', 'send', '--cycle', cycle, '--dry-run', '--json']);
  assert.equal(sendPlan.code, ExitCode.nothingToDo, sendPlan.stderr);
  assert.match(String(json(sendPlan).message), new RegExp(`send of cycle ${cycle} is done; nothing to do`));
  assert.equal(await steps(), failedBefore);
});
