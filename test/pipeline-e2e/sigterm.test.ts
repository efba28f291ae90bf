// SIGTERM mid-work stops every worker step and `archive` within moments, whatever they are reading, and
// leaves the work retryable: the attempt recorded failed ("stopped: SIGTERM"), the step pending again,
// nothing lost and nothing marked done; the step run again then finishes. Each worker is frozen
// (SIGSTOP) at a point in the middle of its step, checked still running, sent SIGTERM and let go: so the
// signal lands mid-step however fast the step is. send and archive meet a peer that accepted the TCP
// connection and then said nothing (an SFTP handshake that ssh2 would wait 20 s for, retried for minutes).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type mysql from 'mysql2/promise';
import { execa } from 'execa';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { ganymedeBin } from '../support/cli.js';
import { markCycleReady } from '../../src/state/cycles.js';
import { bigTableStatements, schemaExists, sourceStatements, txnRow, waitFor } from './support.js';
import { cliEnvironment, shown } from '../cycle/support.js';

const cycle = '2026-06-03T11';
/** Not a timing assertion on the work: a bound on how long a stopped process may linger. */
const exitBoundMs = 15_000;
let centre: Centre;
/** emea's hour goes through every step, each stopped once; apac's is there to stop its load. */
let txnId: number;
let apacTxnId: number;
let silentPeer: { server: Server; port: number; connections: number; sockets: Set<Socket> };

before(async () => {
  centre = await startCentre({ glassbeam: true, settings: { 'warehouse.mappings': [{ table: 'big', skip: true }] } });
  const geo = await centre.addGeo('emea', await centre.addSource('sigterm', [...sourceStatements(9, 3), ...bigTableStatements(17)]));
  txnId = (await geo.deliver(cycle)).transactionId;
  const apac = await centre.addGeo('apac', geo.sourceDatabase);
  apacTxnId = (await apac.deliver(cycle)).transactionId;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    silentPeer.connections++;
    sockets.add(socket);
    socket.on('error', () => undefined).on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  silentPeer = { server, port: (server.address() as { port: number }).port, connections: 0, sockets };
});
after(async () => {
  for (const socket of silentPeer?.sockets ?? []) socket.destroy();
  silentPeer?.server.close();
  await centre?.dispose();
});

interface AttemptRow { outcome: string; error: string | null; state: string }

async function attempts(step: string, txn = txnId): Promise<AttemptRow[]> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>(
    `SELECT a.outcome, a.error, s.state FROM step_attempts a JOIN steps s ON s.id = a.step_id
      WHERE s.name = ? AND (s.txn_id = ? OR (s.txn_id IS NULL AND s.cycle_start = ?)) ORDER BY a.attempt`,
    [step, txn, new Date(`${cycle}:00:00Z`)],
  );
  return rows.map((row) => ({ outcome: row.outcome, error: row.error, state: row.state }));
}

const running = async (step: string, txn = txnId) => (await attempts(step, txn)).some((attempt) => attempt.outcome === 'running');

/**
 * Runs `ganymede <args>`, waits until `reached()`, freezes it, checks `stillBusy()`, sends SIGTERM, lets
 * it go on and waits for it to exit (killing it and failing past the bound).
 */
async function sigtermMidWork(args: string[], reached: () => Promise<boolean> | boolean, stillBusy: () => Promise<boolean>, env: Record<string, string> = {}) {
  const child = execa(process.execPath, [ganymedeBin, '--config', centre.configPath, ...args], { reject: false, extendEnv: false, env: { ...cliEnvironment(), ...env } });
  const pid = child.pid!;
  try {
    await waitFor(`${args.join(' ')} to be under way`, async () => {
      if (child.exitCode !== null) assert.fail(`${args.join(' ')} exited ${child.exitCode} before it was under way: ${String((await child).stderr)}`);
      return reached();
    }, 90_000, 2);
    process.kill(pid, 'SIGSTOP');
    if (!(await stillBusy())) {
      process.kill(pid, 'SIGCONT');
      assert.fail(`${args.join(' ')} finished before it could be stopped: make its work bigger`);
    }
    process.kill(pid, 'SIGTERM');
    process.kill(pid, 'SIGCONT');
    const exited = await Promise.race([child, sleep(exitBoundMs).then(() => undefined)]);
    assert.ok(exited, `${args.join(' ')} still running ${exitBoundMs / 1000} s after SIGTERM`);
    return { code: exited.exitCode, stderr: String(exited.stderr), stdout: String(exited.stdout) };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await child;
  }
}

/** The step's last attempt failed for SIGTERM and the step waits to run again; then it runs to the end. */
async function assertRetryableThenFinish(step: string, stopped: { code: number | undefined; stderr: string }, again: string[], txn = txnId): Promise<void> {
  assert.equal(stopped.code, 6, `exit "failed": ${stopped.stderr}`);
  const rows = await attempts(step, txn);
  assert.equal(rows.at(-1)!.outcome, 'failed', JSON.stringify(rows));
  assert.match(rows.at(-1)!.error ?? '', /^stopped: SIGTERM/);
  assert.equal(rows.at(-1)!.state, 'pending', 'retryable: not done, not failed for good, not lost');
  const rerun = await centre.cli(again);
  assert.equal(rerun.code, 0, shown(rerun));
  assert.equal((await attempts(step, txn)).at(-1)!.outcome, 'succeeded');
}

/** Whether the worker of `step` has posted its 'started' event: it is past its claim, into the work. */
async function startedEvent(step: string, txn = txnId): Promise<boolean> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>("SELECT 1 FROM events WHERE txn_id = ? AND phase = ? AND message = 'started'", [txn, step]);
  return rows.length > 0;
}

test('decrypt, stopped while it reads the delivery: retryable, and runs again to the end', async () => {
  const stopped = await sigtermMidWork(['worker', 'decrypt', '--txn', String(txnId)], () => startedEvent('decrypt'), () => running('decrypt'));
  assert.equal(existsSync(centre.paths.work(txnId)), false, 'nothing written to a local disk');
  assert.notEqual((await txnRow(centre, txnId)).state, 'refused', 'a stop is not a refusal: the file stays in the inbox');
  await assertRetryableThenFinish('decrypt', stopped, ['worker', 'decrypt', '--txn', String(txnId)]);
});

test('etl, stopped with documents written: retryable, and runs again to the end', async () => {
  const loaded = await centre.cli(['worker', 'load', '--txn', String(txnId)]);
  assert.equal(loaded.code, 0, shown(loaded));
  const warehouse = await centre.warehouse();
  const stopped = await sigtermMidWork(['worker', 'etl', '--txn', String(txnId)], async () => (await warehouse.collection('accounts').countDocuments({ geo: 'emea' })) > 0, () => running('etl'));
  await assertRetryableThenFinish('etl', stopped, ['worker', 'etl', '--txn', String(txnId)]);
});

test('clean, stopped as it starts: retryable, and runs again to the end', async () => {
  const stopped = await sigtermMidWork(['worker', 'clean', '--txn', String(txnId)], () => running('clean'), () => running('clean'));
  await assertRetryableThenFinish('clean', stopped, ['worker', 'clean', '--txn', String(txnId)]);
  assert.equal((await txnRow(centre, txnId)).state, 'done');
});

test('feed, stopped as it reads the warehouse: retryable, and runs again to the end', async () => {
  // apac's hour is not in the warehouse yet: fed without it, as after the deadline.
  assert.ok(await markCycleReady(centre.db, new Date(`${cycle}:00:00Z`), ['apac']), 'the hour is ready to feed');
  const stopped = await sigtermMidWork(['worker', 'feed', '--cycle', cycle], () => running('feed'), () => running('feed'));
  await assertRetryableThenFinish('feed', stopped, ['worker', 'feed', '--cycle', cycle]);
});

test('send, stopped while Glassbeam\'s server has accepted the connection and says nothing: retryable, then sent', async () => {
  const before = silentPeer.connections;
  const stopped = await sigtermMidWork(['worker', 'send', '--cycle', cycle], () => silentPeer.connections > before, () => running('send'), {
    GANYMEDE_GLASSBEAM_URL: `sftp://ganymede@127.0.0.1:${silentPeer.port}/inbox`,
  });
  await assertRetryableThenFinish('send', stopped, ['worker', 'send', '--cycle', cycle]);
});

test('archive, stopped while its store has accepted the connection and says nothing: nothing recorded, and the next run archives all', async () => {
  const before = silentPeer.connections;
  const stopped = await sigtermMidWork(['archive'], () => silentPeer.connections > before, async () => silentPeer.connections > before, {
    GANYMEDE_ARCHIVE_URL: `sftp://ganymede@127.0.0.1:${silentPeer.port}/archive`,
    GANYMEDE_ARCHIVE_KEY_FILE: centre.glassbeam!.privateKeyPath,
  });
  assert.equal(stopped.code, 6, stopped.stderr);
  assert.match(stopped.stderr, /archive stopped by SIGTERM after 0 agent files; nothing half-done is recorded as archived/);
  const [records] = await centre.db.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS n FROM archive_records WHERE state = 'archived'");
  assert.equal(Number(records[0]!.n), 0);
  const again = await centre.cli(['archive', '--json']);
  assert.equal(again.code, 0, shown(again));
  assert.deepEqual(
    (JSON.parse(again.stdout) as { agentDumps: Array<{ objectKey: string }> }).agentDumps.map((dump) => dump.objectKey).sort(),
    ['apac', 'emea'].map((geo) => `agent/${cycle}/${geo}/${geo}_${cycle}_d1.tar.zst.gpg`),
  );
});

test('load, stopped with its scratch schema half loaded: retryable, and runs again to the end', async () => {
  const decrypted = await centre.cli(['worker', 'decrypt', '--txn', String(apacTxnId)]);
  assert.equal(decrypted.code, 0, shown(decrypted));
  const stopped = await sigtermMidWork(['worker', 'load', '--txn', String(apacTxnId)], () => schemaExists(centre, centre.paths.scratchSchema(apacTxnId)), () => running('load', apacTxnId));
  await assertRetryableThenFinish('load', stopped, ['worker', 'load', '--txn', String(apacTxnId)], apacTxnId);
});
