// The built CLI killed in the middle of a run: kill -9 leaves only an encrypted spool and no file the
// centre would take, the next run cleans up and delivers; SIGTERM stops cleanly and marks the hour failed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, readSync, closeSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type Result } from 'execa';
import { ExitCode } from '../../src/exit-codes.js';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { waitFor } from '../support/wait.js';
import { startFaultyMysql } from '../support/net.js';
import { ganymedeBin, runCli } from '../support/cli.js';
import { agentEnv, createBigTable, filesIn, storedEvents, transactions, workDirOf } from './support.js';

/** `ganymede agent run` as cron would start it, with only the fixture's GANYMEDE_* environment. */
function startAgent(fixture: AgentFixture, cycle: string, settings: Record<string, string> = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('GANYMEDE_')));
  return execa(ganymedeBin, ['agent', 'run', '--cycle', cycle], {
    env: { ...base, NO_COLOR: '1', ...agentEnv(fixture, settings) },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: 120_000,
    // The run's own way of stopping is under test: no SIGKILL from execa after a SIGTERM.
    forceKillAfterDelay: false,
  });
}

/** Waits until the run's spool file exists and has grown at least once, i.e. it is streaming. */
async function waitForGrowingSpool(spool: string, run: Promise<Result>): Promise<void> {
  let exited = false;
  void run.finally(() => (exited = true));
  let firstSize = 0;
  for (;;) {
    if (exited) throw new Error(`the agent exited before it was stopped: ${(await run).stderr}`);
    const size = existsSync(spool) ? statSync(spool).size : 0;
    if (firstSize === 0) firstSize = size;
    else if (size > firstSize) return;
    await sleep(10);
  }
}

function firstBytes(path: string, count: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(count);
    return buffer.subarray(0, readSync(fd, buffer, 0, count, 0));
  } finally {
    closeSync(fd);
  }
}

/** The OpenPGP packet tag of the first packet (RFC 4880 4.2), or undefined when it is no packet header. */
function packetTag(byte: number): number | undefined {
  if ((byte & 0x80) === 0) return undefined;
  return byte & 0x40 ? byte & 0x3f : (byte >> 2) & 0x0f;
}

describe('the agent killed mid-stream', { timeout: 300_000 }, () => {
  let fixture: AgentFixture;
  const marker = `PLAINTEXT-${randomBytes(8).toString('hex')}`;
  const spoolOf = (cycle: string) => join(workDirOf(fixture), `kil_${cycle}_d1.tar.zst.gpg.sealing`);

  before(async () => {
    fixture = await agentFixture('kil');
    // A million rows: seconds of streaming, time enough to catch the spool growing.
    await createBigTable(fixture, 20, marker);
  });
  after(async () => {
    await fixture?.dispose();
  });

  test('kill -9: no file the centre would take, no plaintext on disk; the next run cleans up and delivers', async () => {
    const cycle = '2026-11-19T05';
    const run = startAgent(fixture, cycle);
    await waitForGrowingSpool(spoolOf(cycle), run);
    run.kill('SIGKILL');
    const killed = await run;
    assert.equal(killed.signal, 'SIGKILL');

    assert.deepEqual(filesIn(fixture.inboxDir).filter((name) => !name.endsWith('.part')), [], 'nothing but .part at most');
    const head = firstBytes(spoolOf(cycle), 512);
    assert.equal(packetTag(head[0]!), 1, `the spool starts with a public-key encrypted session key packet, not ${head.subarray(0, 4).toString('hex')}`);
    assert.notDeepEqual([...head.subarray(0, 2)], [0x1f, 0x8b], 'not gzip');
    assert.notEqual(head.subarray(257, 262).toString('latin1'), 'ustar', 'not tar');
    const onDisk = [...filesIn(workDirOf(fixture)).map((name) => join(workDirOf(fixture), name)), ...filesIn(fixture.inboxDir).map((name) => join(fixture.inboxDir, name))];
    for (const file of onDisk) assert.equal(readFileSync(file).indexOf(marker), -1, `no plaintext in ${file}`);
    const [dead] = await transactions(fixture);
    assert.equal(dead?.state, 'open', 'the dead run could not say anything');

    const next = await runCli(['agent', 'run', '--cycle', cycle], agentEnv(fixture), { timeoutMs: 120_000 });
    assert.equal(next.code, ExitCode.ok, next.stderr);
    assert.match(next.stdout, new RegExp(`^delivered kil_${cycle}_d1\\.tar\\.zst\\.gpg: 1 tables, 1048576 rows`));
    assert.deepEqual(filesIn(workDirOf(fixture)).filter((name) => name !== 'events.jsonl'), [], 'the stale spool is gone');
    assert.deepEqual(filesIn(fixture.inboxDir), [`kil_${cycle}_d1.tar.zst.gpg`]);
    const [txn] = await transactions(fixture);
    assert.deepEqual({ id: txn?.id, state: txn?.state, name: txn?.fileName }, { id: dead?.id, state: 'delivered', name: `kil_${cycle}_d1.tar.zst.gpg` });
    // The killed run's events were on disk; the next run sent them with its own.
    const events = await storedEvents(fixture, txn!.id);
    assert.equal(events.filter((event) => event.phase === 'opened').length, 2, events.map((event) => event.phase).join(' '));
    assert.equal(new Set(events.map((event) => event.key)).size, events.length);
  });

  test('SIGTERM while the source hangs opening the snapshot: the run still stops, and marks the hour agent_failed', async () => {
    // The login goes through; from the snapshot on, nothing reaches the server.
    const proxy = await startFaultyMysql({ swallowFrom: 'START TRANSACTION' });
    try {
      const cycle = '2026-11-19T07';
      const run = startAgent(fixture, cycle, { 'agent.source.url': `mysql://root@127.0.0.1:${proxy.port}/${fixture.sourceDatabase}` });
      await waitFor('the snapshot to hang with the hour open', async () => proxy.swallowing() && (await transactions(fixture)).some((row) => row.cycle === cycle));
      run.kill('SIGTERM');
      const stopped = await run;
      assert.equal(stopped.exitCode, ExitCode.failed, stopped.stderr);
      assert.match(stopped.stderr, /ganymede: stopped by SIGTERM; nothing was delivered/);
      const txn = (await transactions(fixture)).find((row) => row.cycle === cycle);
      assert.equal(txn?.state, 'agent_failed');
      assert.deepEqual(filesIn(fixture.inboxDir).filter((name) => name.includes(cycle)), []);
    } finally {
      proxy.close();
    }
  });

  test('SIGTERM: the run stops, removes its spool and marks the hour agent_failed', async () => {
    const cycle = '2026-11-19T06';
    const run = startAgent(fixture, cycle);
    await waitForGrowingSpool(spoolOf(cycle), run);
    run.kill('SIGTERM');
    const stopped = await run;
    assert.equal(stopped.exitCode, ExitCode.failed, stopped.stderr);
    assert.match(stopped.stderr, /ganymede: stopped by SIGTERM; nothing was delivered/);
    assert.ok(!existsSync(spoolOf(cycle)), 'spool removed');
    assert.deepEqual(filesIn(fixture.inboxDir).filter((name) => name.includes(cycle)), []);
    const txn = (await transactions(fixture)).find((row) => row.cycle === cycle);
    assert.equal(txn?.state, 'agent_failed');
    assert.match(txn?.error ?? '', /stopped by SIGTERM/);
  });
});
