// A central host killed mid-step leaves files on its own disk while the work goes on elsewhere. When it comes
// back, its first tick removes what is finished (a transaction's work directory once the transaction is over,
// re-delivered or purged; a feed spool nobody has written to for longer than a lease) and keeps what is not.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tick, type Launcher } from '../../src/commands/jupiter/tick.js';
import { openStateDb } from '../../src/state/db.js';
import { tempDir, testCentre } from '../support/ganymede.js';
import { deliveredTransactions } from '../support/steps.js';

const work = tempDir('leftovers');
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  work.remove();
});

const launchNothing: Launcher = () => ({ pid: undefined });

function makeDir(path: string, ageMs = 0): string {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'part.gz'), 'partial');
  const when = new Date(Date.now() - ageMs);
  utimesSync(join(path, 'part.gz'), when, when);
  utimesSync(path, when, when);
  return path;
}

test('a host back from the dead: its tick removes the files of work finished elsewhere, and only those', async () => {
  const dataDir = join(work.path, 'data');
  const made = await testCentre('leftovers', { 'logging.level': 'error', 'site.data_dir': dataDir, 'centre.lease_ms': 60_000, 'centre.lease_grace_ms': 30_000 });
  const db = await openStateDb(made.loaded);
  cleanups.push(async () => {
    await db.end();
    await made.dispose();
  });
  const [done, cancelled, redelivered, running] = await deliveredTransactions(db, 1, 4);
  await db.query("UPDATE transactions SET state = 'done' WHERE id = ?", [done]);
  await db.query("UPDATE transactions SET state = 'cancelled' WHERE id = ?", [cancelled]);
  await db.query('UPDATE transactions SET delivery = 2 WHERE id = ?', [redelivered]);
  const workDir = join(dataDir, 'work');
  const spool = join(dataDir, 'feed-spool');
  const finished = [
    makeDir(join(workDir, `txn-${done}-d1`)),
    makeDir(join(workDir, `txn-${cancelled}-d1`)),
    makeDir(join(workDir, `txn-${redelivered}-d1`)),
    makeDir(join(workDir, `txn-${running! + 1000}-d1`)), // purged since
    makeDir(join(spool, '2026-01-01T00'), 3_600_000),
  ];
  const kept = [
    makeDir(join(workDir, `txn-${running}-d1`)),
    makeDir(join(workDir, `txn-${redelivered}-d2`)),
    makeDir(join(spool, '2026-01-01T01'), 10_000),
    makeDir(join(workDir, 'not-a-transaction')),
  ];

  await tick({ loaded: made.loaded, db, launch: launchNothing });
  assert.deepEqual(finished.filter((path) => existsSync(path)), [], 'the files of finished work are gone');
  assert.deepEqual(kept.filter((path) => !existsSync(path)), [], 'the files of work still under way (or not ours to judge) stay');

  // Nothing left to do: a second tick finds the same and removes nothing more.
  await tick({ loaded: made.loaded, db, launch: launchNothing });
  assert.deepEqual(kept.filter((path) => !existsSync(path)), []);
});
