// kill -9 of `worker send` while a feed file of ~30 MB (wide enough a window at ~250 MB/s) is half way to Glassbeam, under `jupiter drain`:
// the stopped lease is noticed, the attempt recorded as crashed, and the retry delivers each file exactly
// once and complete — the half-written `.part` is overwritten by the retry's upload, not left behind.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { execa } from 'execa';
import { isWorkerProcess, startCentre, type Centre } from '../support/centre-fixture.js';
import { ganymedeBin } from '../support/cli.js';
import { blobStatements, cliEnvironment, cycleAttempts, cycleRow, listTree, readManifest, sha256Of, smallSource, waitFor } from './support.js';

const cycle = '2026-05-06T08';
let centre: Centre;

async function runningSendPid(): Promise<number | undefined> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>(
    "SELECT a.pid FROM step_attempts a JOIN steps s ON s.id = a.step_id WHERE s.name = 'send' AND a.outcome = 'running' AND a.pid IS NOT NULL",
  );
  return rows[0] ? Number(rows[0].pid) : undefined;
}

before(async () => {
  // Leases of 4 s, not the default minute, so the kill is noticed within seconds; shorter ones (1.5 s) expired
  // on a busy machine (load 8) before a worker had even started, and the feed failed for good.
  centre = await startCentre({ glassbeam: true, settings: { 'centre.lease_ms': 4000, 'centre.lease_grace_ms': 1000, 'centre.retry_base_ms': 200 } });
  const geo = await centre.addGeo('emea', await centre.addSource('srcemea', [...smallSource(1), ...blobStatements(600)]));
  await geo.deliver(cycle);
});
after(async () => {
  await centre?.dispose();
});

test('send killed mid-file: the retry delivers every file once and complete, no .part left', async () => {
  const remote = (name: string) => centre.glassbeam!.localPath(`${cycle}/${name}`);
  const drain = execa(process.execPath, [ganymedeBin, '--config', centre.configPath, 'jupiter', 'drain', '--timeout', '240'], { reject: false, env: cliEnvironment(), extendEnv: false });
  let killed: { pid: number; partBytes: number } | undefined;
  let pid: number | undefined;
  try {
    // The tick records the worker's pid at launch, before it connects to Glassbeam.
    pid = await waitFor('the send worker to be launched', runningSendPid, 180_000);
    const worker = pid;
    assert.ok(isWorkerProcess(pid), `pid ${pid} is the send worker`);
    // The blobs file on its way: frozen as soon as its .part has bytes, killed if it is not complete then.
    const part = remote('blobs.ndjson.gz.part');
    await waitFor('the send of blobs.ndjson.gz to be under way', () => (statSync(part, { throwIfNoEntry: false })?.size ?? 0) > 0 || !isWorkerProcess(worker), 180_000, 1);
    process.kill(pid, 'SIGSTOP');
    assert.equal(existsSync(remote('blobs.ndjson.gz')), false, 'killed before the upload was complete');
    process.kill(pid, 'SIGKILL');
    killed = { pid, partBytes: statSync(part).size };
  } finally {
    // A failed check above must not leave the worker stopped for good.
    if (!killed && pid !== undefined && isWorkerProcess(pid)) process.kill(pid, 'SIGKILL');
    // Whatever happened, the drain must end: it finishes once the retry has sent the hour.
    const drained = await drain;
    assert.equal(drained.exitCode, 0, `drain: ${drained.stdout}\n${drained.stderr}`);
  }
  assert.ok(killed);

  const feedDir = join(centre.dataDir, 'feed', cycle);
  const blobsBytes = statSync(join(feedDir, 'blobs.ndjson.gz')).size;
  assert.ok(blobsBytes > 3_000_000, `the blobs feed file is a few MB (${blobsBytes} bytes)`);
  // Bytes already in the socket buffers still reach the .part after the kill; the rename never came.
  assert.ok(killed.partBytes > 0, `the killed upload left ${killed.partBytes} of ${blobsBytes} bytes in the .part`);

  const attempts = await cycleAttempts(centre, cycle, 'send');
  assert.deepEqual(attempts.map((attempt) => attempt.outcome), ['crashed', 'succeeded']);
  assert.equal(attempts[0]!.pid, killed.pid);
  assert.match(attempts[0]!.error ?? '', new RegExp(`worker send on centre-test pid ${killed.pid} stopped renewing its lease`));
  assert.equal((await cycleRow(centre, cycle)).state, 'sent');

  const local = readdirSync(feedDir).sort();
  assert.deepEqual(listTree(centre.glassbeam!.localPath(cycle)), local, 'each file once, and no .part');
  for (const name of local) assert.equal(sha256Of(remote(name)), sha256Of(join(feedDir, name)), `${name} complete`);
  const manifest = readManifest(centre.glassbeam!.localPath(cycle));
  assert.deepEqual(manifest.files.map((file) => [file.name, file.sha256]), manifest.files.map((file) => [file.name, sha256Of(remote(file.name))]));
  const [records] = await centre.db.query<mysql.RowDataPacket[]>('SELECT name, COUNT(*) AS n FROM feed_files WHERE cycle_start = ? GROUP BY name', [new Date(`${cycle}:00:00Z`)]);
  assert.deepEqual(records.map((row) => [row.name, Number(row.n)]).sort(), local.map((name) => [name, 1]));
});
