// The agent rides out a short outage of the status API (issue #15): down around the open, the run waits
// and delivers its hour once; down across the close, the run keeps the close and the next run sends it
// before its own hour; a kept close the centre no longer takes is dropped with the centre's reason; down
// past agent.api_patience_minutes, the run exits 4 with one line.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient } from '../../src/api/client.js';
import { keepPendingClose, pendingClosePath } from '../../src/agent/pending-close.js';
import { runAgent } from '../../src/commands/agent/run.js';
import { ExitCode } from '../../src/exit-codes.js';
import { configureLogging } from '../../src/log.js';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { runCli } from '../support/cli.js';
import { findFreePort } from '../support/net.js';
import { startApiOn } from './api-instance.js';
import { agentEnv, createBigTable, filesIn, isGanymedeError, sha256File, storedEvents, transactions, workDirOf } from './support.js';

/** Log lines written while `body` runs (the agent's retries are warnings). */
async function capturingLog<T>(body: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  configureLogging({ write: (line) => void lines.push(line) });
  try {
    return { result: await body(), lines };
  } finally {
    configureLogging({ write: (line) => void process.stderr.write(line) });
  }
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('agent run while the status API restarts', { timeout: 300_000 }, () => {
  let fixture: AgentFixture;

  before(async () => {
    fixture = await agentFixture('pat');
    await createBigTable(fixture, 10, 'patience');
  });
  after(async () => {
    await fixture?.dispose();
  });

  test('down for 30 s around the open: the run waits for it, then delivers the hour once', async () => {
    // The agent never waits past the top of the clock hour (the next hourly run may start then): a run
    // begun in an hour's last minutes would stop waiting before the API is back, as it should.
    const untilNextHourMs = 3_600_000 - (Date.now() % 3_600_000);
    if (untilNextHourMs < 120_000) await sleep(untilNextHourMs + 1_000);
    const cycle = '2026-11-21T10';
    const port = await findFreePort();
    const loaded = fixture.config({ 'api.url': `http://127.0.0.1:${port}`, 'agent.api_patience_minutes': 1.5 });
    const { result, lines } = await capturingLog(async () => {
      const run = runAgent({ loaded, cycle, apiRetryMaxDelayMs: 3_000 });
      run.catch(() => undefined);
      await sleep(30_000);
      const api = await startApiOn(fixture, port);
      try {
        return await run;
      } finally {
        await api.stop();
      }
    });
    const retries = lines.filter((line) => line.includes('retrying in'));
    assert.ok(retries.length >= 2, lines.join(''));
    for (const line of retries) {
      assert.match(line, new RegExp(`WARN  agent: opening ${cycle}: the status API at 127\\.0\\.0\\.1:${port} is unreachable \\(ECONNREFUSED\\); retrying in [\\d.]+ s, giving up at \\d\\d:\\d\\d:\\d\\d UTC`));
    }
    const [txn, ...others] = (await transactions(fixture)).filter((row) => row.cycle === cycle);
    assert.deepEqual(others, []);
    assert.equal(txn?.state, 'delivered');
    assert.equal(txn?.delivery, 1);
    assert.equal(txn?.fileSha256, result.file.sha256);
    assert.deepEqual(filesIn(fixture.inboxDir).filter((name) => name.includes(cycle)), [result.file.name]);
    assert.equal(await sha256File(join(fixture.inboxDir, result.file.name)), result.file.sha256);
  });

  test('down across the close: the close is kept, the next run sends it before its own hour, nothing is delivered twice', async () => {
    const cycle = '2026-11-21T11';
    const next = '2026-11-21T12';
    let api = await startApiOn(fixture, 0);
    const loaded = fixture.config({ 'api.url': api.url, 'agent.api_patience_minutes': 0.1 });
    const stopped = runAgent({ loaded, cycle, apiRetryMaxDelayMs: 1_000, beforeClose: () => api.stop() });
    await assert.rejects(
      stopped,
      isGanymedeError(
        ExitCode.unreachable,
        new RegExp(
          `^delivered pat_${cycle}_d1\\.tar\\.zst\\.gpg, but the status API at 127\\.0\\.0\\.1:${api.port} was unreachable \\(ECONNREFUSED\\) from .* UTC, \\d+ tr(y|ies) \\([^)]+\\); the close is kept in .*/pending-close\\.\\d+\\.json and the next run sends it first$`,
        ),
      ),
    );
    const [left] = (await transactions(fixture)).filter((row) => row.cycle === cycle);
    assert.equal(left?.state, 'open', 'the centre has not had the close');
    const delivered = filesIn(fixture.inboxDir).filter((name) => name.includes(cycle));
    assert.deepEqual(delivered, [`pat_${cycle}_d1.tar.zst.gpg`]);
    const sha256 = await sha256File(join(fixture.inboxDir, delivered[0]!));
    const keptPath = pendingClosePath(workDirOf(fixture), left!.id);
    assert.equal(statSync(keptPath).mode & 0o777, 0o600);
    const kept = JSON.parse(readFileSync(keptPath, 'utf8')) as { transactionId: number; file: { name: string; size: number; sha256: string } };
    assert.deepEqual(kept.file, { name: delivered[0], size: statSync(join(fixture.inboxDir, delivered[0]!)).size, sha256 });
    assert.ok(!readFileSync(keptPath, 'utf8').includes(fixture.token), 'no secret in the kept close');

    api = await startApiOn(fixture, api.port);
    try {
      const result = await runAgent({ loaded: fixture.config({ 'api.url': api.url }), cycle: next });
      assert.equal(result.cycle, next);
    } finally {
      await api.stop();
    }
    const rows = await transactions(fixture);
    const hour = rows.find((row) => row.cycle === cycle);
    assert.deepEqual({ state: hour?.state, delivery: hour?.delivery, name: hour?.fileName, sha256: hour?.fileSha256 }, { state: 'delivered', delivery: 1, name: delivered[0], sha256 });
    assert.equal(rows.find((row) => row.cycle === next)?.state, 'delivered');
    assert.deepEqual(
      filesIn(fixture.inboxDir).filter((name) => name.includes(cycle) || name.includes(next)),
      [`pat_${cycle}_d1.tar.zst.gpg`, `pat_${next}_d1.tar.zst.gpg`],
    );
    assert.deepEqual(filesIn(workDirOf(fixture)).filter((name) => name.startsWith('pending-close')), [], 'the kept close is gone once taken');
    const events = await storedEvents(fixture, left!.id);
    const count = (phase: string) => events.filter((event) => event.phase === phase).length;
    assert.deepEqual(
      { opened: count('opened'), extracted: count('extracted'), delivered: count('delivered'), closed: count('closed'), failed: count('failed') },
      { opened: 1, extracted: 1, delivered: 1, closed: 1, failed: 0 },
      events.map((event) => event.phase).join(' '),
    );
    assert.equal(new Set(events.map((event) => event.key)).size, events.length, 'no event stored twice');
  });

  test('a kept close the centre no longer takes (the hour given up, or opened again for another delivery) is dropped with its reason', async () => {
    const client = new ApiClient({ baseUrl: fixture.api.url, token: fixture.token, as: 'GEO pat' });
    const givenUp = (await client.openTransaction('pat', '2026-11-21T14')).transaction;
    await client.failTransaction(givenUp.id, 'test: the agent gave up');
    const file = { name: 'pat_2026-11-21T14_d1.tar.zst.gpg', size: 100, sha256: 'ab'.repeat(32) };
    const workDir = workDirOf(fixture);
    await keepPendingClose(workDir, { geo: 'pat', cycle: '2026-11-21T14', transactionId: givenUp.id, file, deliveredAt: new Date().toISOString() });

    const { lines } = await capturingLog(() => runAgent({ loaded: fixture.config(), cycle: '2026-11-21T15' }));
    const dropped = lines.find((line) => line.includes(`the centre does not take the close of ${file.name}`));
    assert.match(dropped ?? lines.join(''), new RegExp(`transaction ${givenUp.id} is agent_failed, not open: its agent gave up on 2026-11-21T14`));
    assert.ok(dropped?.includes(`removed ${pendingClosePath(workDir, givenUp.id)}`));
    assert.deepEqual(filesIn(workDir).filter((name) => name.startsWith('pending-close')), []);
    const rows = await transactions(fixture);
    assert.equal(rows.find((row) => row.id === givenUp.id)?.state, 'agent_failed', 'a given-up hour is not closed late');
    assert.equal(rows.find((row) => row.cycle === '2026-11-21T15')?.state, 'delivered', 'the run went on with its own hour');

    // A close for delivery 1 reaching an hour opened again (forced) for delivery 2 is not taken for it.
    const hour = (await client.openTransaction('pat', '2026-11-21T16')).transaction;
    await client.closeTransaction(hour.id, { ...file, name: 'pat_2026-11-21T16_d1.tar.zst.gpg' });
    const again = (await client.openTransaction('pat', '2026-11-21T16', { force: true })).transaction;
    assert.equal(again.delivery, 2);
    await assert.rejects(
      client.closeTransaction(hour.id, { ...file, name: 'pat_2026-11-21T16_d1.tar.zst.gpg' }),
      isGanymedeError(ExitCode.refused, new RegExp(`^transaction ${hour.id} was opened again for delivery 2 since pat_2026-11-21T16_d1\\.tar\\.zst\\.gpg was delivered \\(delivery 1\\)`)),
    );
    assert.equal((await transactions(fixture)).find((row) => row.id === hour.id)?.state, 'open');
  });

  test('down past agent.api_patience_minutes: exit 4 with one line, nothing opened, nothing delivered', async () => {
    const cycle = '2026-11-21T13';
    const port = await findFreePort();
    const logFile = join(fixture.dir, 'agent.log');
    const env = agentEnv(fixture, { 'api.url': `http://127.0.0.1:${port}`, 'agent.api_patience_minutes': '0.05' });
    const run = await runCli(['--log-file', logFile, 'agent', 'run', '--cycle', cycle], env, { timeoutMs: 60_000 });
    assert.equal(run.code, ExitCode.unreachable, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, `one line for cron to mail:\n${run.stderr}`);
    assert.match(
      run.stderr,
      new RegExp(
        `^ganymede: the status API at 127\\.0\\.0\\.1:${port} was unreachable \\(ECONNREFUSED\\) from \\d\\d:\\d\\d:\\d\\d to \\d\\d:\\d\\d:\\d\\d UTC, \\d+ tr(y|ies) \\((agent\\.api_patience_minutes 0\\.05|the top of the hour, when the next run may start)\\): ${cycle} of GEO pat was not opened and nothing was delivered; deliver it later with ${escape(`\`ganymede agent run --cycle ${cycle}\``)}$`,
      ),
    );
    const retries = readFileSync(logFile, 'utf8').split('\n').filter((line) => line.includes('retrying in'));
    assert.ok(retries.length >= 1, 'each retry has its line in the log');
    assert.deepEqual((await transactions(fixture)).filter((row) => row.cycle === cycle), []);
    assert.deepEqual(filesIn(fixture.inboxDir).filter((name) => name.includes(cycle)), []);
    assert.deepEqual(filesIn(workDirOf(fixture)).filter((name) => name.startsWith('pending-close') || name.endsWith('.sealing')), []);
  });
});
