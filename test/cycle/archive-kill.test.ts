// kill -9 of `ganymede archive` while an agent file of several MB is being written into the file:// store:
// the object is left as a `.part` with its record 'uploading'; the next run takes the lock the kernel freed,
// finishes, and the store holds each object once under its one name, every record 'archived', no `.part`.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { ganymedeBin } from '../support/cli.js';
import { blobStatements, cliEnvironment, isAlive, listTree, sha256Of, shown, smallSource } from './support.js';

const cycle = '2026-07-08T09';
let centre: Centre;
const geos: Array<Awaited<ReturnType<Centre['addGeo']>>> = [];
const storeDir = () => join(centre.dataDir, 'archive');

interface ArchiveRecord { kind: string; sourceKey: string; objectKey: string; state: string; sha256: string | null; size: number | null }

async function records(): Promise<ArchiveRecord[]> {
  const run = await centre.cli(['archive', 'list', '--json']);
  assert.equal(run.code, 0, shown(run));
  return JSON.parse(run.stdout) as ArchiveRecord[];
}

before(async () => {
  centre = await startCentre();
  for (const [i, name] of ['emea', 'apac', 'latam'].entries()) {
    const geo = await centre.addGeo(name, await centre.addSource(`src${name}`, [...smallSource(i + 1), ...blobStatements()]));
    // Delivered is enough to be archived: the archive copies what the agents sent, processed or not.
    await geo.deliver(cycle);
    geos.push(geo);
  }
});
after(async () => {
  await centre?.dispose();
});

/**
 * Runs `ganymede archive` and kill -9s it while an object under `prefix` is half written: frozen (SIGSTOP) as
 * soon as its .part shows, killed if the object is still incomplete then, let go on otherwise.
 */
async function killArchiveMidUpload(prefix: string): Promise<{ part: string; objectKey: string } | undefined> {
  const archive = execa(process.execPath, [ganymedeBin, '--config', centre.configPath, 'archive'], {
    reject: false,
    extendEnv: false,
    env: cliEnvironment(),
  });
  const pid = archive.pid!;
  let caught: { part: string; objectKey: string } | undefined;
  try {
    while (!caught && isAlive(pid)) {
      const part = listTree(storeDir()).find((name) => name.startsWith(prefix) && name.endsWith('.part'));
      if (!part) {
        await sleep(1);
        continue;
      }
      process.kill(pid, 'SIGSTOP');
      const path = join(storeDir(), part);
      if (existsSync(path) && !existsSync(path.slice(0, -'.part'.length))) caught = { part, objectKey: part.slice(0, -'.part'.length) };
      else process.kill(pid, 'SIGCONT');
    }
  } finally {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await archive;
  }
  return caught;
}

/**
 * killArchiveMidUpload, tried up to `attempts` times, `prepare` making new work to archive before each. The kill
 * must land inside the copy of a few MB, which a fast machine can finish between two polls; a missed attempt
 * leaves a complete, correct archive, so trying again on new work is sound.
 */
async function killArchiveMidUploadWithin(attempts: number, prefix: string, prepare: (attempt: number) => Promise<void>) {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    await prepare(attempt);
    const caught = await killArchiveMidUpload(prefix);
    if (caught) return caught;
  }
  return undefined;
}

/** After the run that follows a kill: every record archived, once, and the store exactly the recorded objects. */
async function assertArchiveComplete(): Promise<ArchiveRecord[]> {
  const final = await records();
  assert.deepEqual(final.map((record) => record.state), final.map(() => 'archived'), 'every record archived');
  assert.equal(new Set(final.map((record) => record.objectKey)).size, final.length, 'each object key once');
  assert.deepEqual(listTree(storeDir()), final.map((record) => record.objectKey).sort(), 'the store holds exactly the recorded objects: no .part, no duplicate');
  for (const record of final) {
    const path = join(storeDir(), record.objectKey);
    assert.deepEqual([statSync(path).size, sha256Of(path)], [record.size, record.sha256], `${record.objectKey} complete`);
  }
  return final;
}

test('archive killed mid-upload: the next run completes it, each object once, every record archived, no .part', async () => {
  // A missed attempt archived every file, so the GEOs deliver another hour before the next one.
  const cycles = [cycle];
  const caught = await killArchiveMidUploadWithin(5, 'agent/', async (attempt) => {
    if (attempt === 1) return;
    cycles.push(`2026-07-08T${8 + attempt}`);
    for (const geo of geos) await geo.deliver(cycles.at(-1)!);
  });
  assert.ok(caught, `the archive run was caught with an agent file half written (${cycles.length} attempts)`);
  const { objectKey } = caught;

  // What the killed run left: the .part, no object under the final name, its record 'uploading'.
  assert.ok(existsSync(join(storeDir(), caught.part)));
  assert.equal(existsSync(join(storeDir(), objectKey)), false);
  const killedRecord = (await records()).find((record) => record.objectKey === objectKey);
  assert.equal(killedRecord?.state, 'uploading', JSON.stringify(killedRecord));

  const rerun = await centre.cli(['archive', '--json']);
  assert.equal(rerun.code, 0, `the lock died with the killed run: ${shown(rerun)}`);
  assert.ok((JSON.parse(rerun.stdout) as { agentDumps: Array<{ objectKey: string }> }).agentDumps.some((dump) => dump.objectKey === objectKey), 'the interrupted object is uploaded by the next run');
  const final = await assertArchiveComplete();
  assert.equal(final.filter((record) => record.kind === 'agent-dump').length, 3 * cycles.length, 'one record per agent file');
  const again = await centre.cli(['archive']);
  assert.deepEqual([again.code, again.stdout], [0, ''], 'and then nothing is left to do');
});

// A run killed while uploading the schema dump left an 'uploading' record: the next run puts the same
// content under the same name, over the .part, and removes the killed run's spool file first.
test('archive killed while uploading the Ganymede schema dump: the next run leaves no .part and no spool file behind', async () => {
  const caught = await killArchiveMidUploadWithin(8, 'ganymede/', growEventsTable);
  assert.ok(caught, 'the archive run was caught with the schema dump half written (8 attempts)');
  const rerun = await centre.cli(['archive', '--json']);
  assert.equal(rerun.code, 0, shown(rerun));
  assert.notEqual(JSON.parse(rerun.stdout).ganymedeDump, 'unchanged');
  await assertArchiveComplete();
  assert.deepEqual(listTree(join(centre.dataDir, 'archive-spool')), [], 'no spool file left');
});

/** A centre's events table grows: ten thousand events of random text make the schema dump several MB larger. */
async function growEventsTable(): Promise<void> {
  for (let batch = 0; batch < 20; batch++) {
    const rows = Array.from({ length: 500 }, () => `('worker', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), 'info', 'etl', '${randomBytes(720).toString('base64')}')`);
    await centre.db.query(`INSERT INTO events (source, at, received_at, level, phase, message) VALUES ${rows.join(', ')}`);
  }
}
