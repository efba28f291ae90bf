// A feed with no GEO in it is never built nor sent (63 went to Glassbeam with "geos": [] when every GEO of
// an hour was late and partial feeds were allowed): such a cycle is closed as `empty`, with no step left
// due, and neither `check` nor a hand-run feed calls it or turns it into a failure of its own.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { runCheck } from '../../src/commands/check.js';
import { runCycleFeed } from '../../src/commands/cycle/index.js';
import { feedStep } from '../../src/commands/worker/feed.js';
import { ExitCode } from '../../src/exit-codes.js';
import { createLogger } from '../../src/log.js';
import { advanceCycles, getCycle, markCycleReady } from '../../src/state/cycles.js';
import { openStateDb, type Db } from '../../src/state/db.js';
import { openTransaction } from '../../src/state/transactions.js';
import type { CycleStepContext } from '../../src/worker/runtime.js';
import { tempDir, testCentre, type TestCentre } from '../support/ganymede.js';
import { addTestGeo, isGanymedeError } from './support.js';

let centre: TestCentre;
let db: Db;
let dataDir: ReturnType<typeof tempDir>;
const geoIds: Record<string, number> = {};
const hourStart = (hoursAgo: number) => new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - hoursAgo * 3_600_000);
const partial = { deadlineMinutes: 45, partialAfterDeadline: true };

async function feedSteps(cycleStart: Date): Promise<number> {
  const [rows] = await db.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS n FROM steps WHERE txn_id IS NULL AND cycle_start = ? AND name = 'feed'", [cycleStart]);
  return Number(rows[0]!.n);
}

async function warehouse(geo: string, cycleStart: Date): Promise<void> {
  const opened = await openTransaction(db, geoIds[geo]!, cycleStart);
  await db.query("UPDATE transactions SET state = 'done', warehoused_at = UTC_TIMESTAMP(3) WHERE id = ?", [opened.txn.id]);
}

before(async () => {
  dataDir = tempDir('empty-cycle');
  centre = await testCentre('empty', { 'site.data_dir': dataDir.path, 'mongodb.url': 'mongodb://127.0.0.1:1' });
  db = await openStateDb(centre.loaded);
  for (const name of ['east', 'west']) {
    await addTestGeo(db, name);
    const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT id FROM geos WHERE name = ?', [name]);
    geoIds[name] = Number(rows[0]!.id);
  }
});

after(async () => {
  await db?.end();
  await centre?.dispose();
  dataDir?.remove();
});

test('past the deadline with partial feeds, an hour no GEO delivered is closed as empty, with no feed step', async () => {
  const opened = hourStart(5);
  await openTransaction(db, geoIds.east!, opened); // opened, never delivered
  const fed = hourStart(6);
  await warehouse('west', fed);
  const ready = await advanceCycles(db, partial);
  assert.deepEqual(ready.map((cycle) => cycle.cycle), [fed.toISOString().slice(0, 13)], 'only the hour with a GEO in it becomes ready');
  const empty = (await getCycle(db, opened))!;
  assert.equal(empty.state, 'empty');
  assert.deepEqual(empty.missingGeos, ['east', 'west']);
  assert.equal(empty.error, null);
  assert.equal(await feedSteps(opened), 0, 'nothing is due for it');
  assert.equal(await feedSteps(fed), 1);
  assert.deepEqual(await advanceCycles(db, partial), [], 'and it is not looked at again');
});

test('an operator cannot make an empty hour ready either: nothing to feed', async () => {
  const cycleStart = hourStart(7);
  await openTransaction(db, geoIds.east!, cycleStart);
  assert.equal(await markCycleReady(db, cycleStart, ['east', 'west']), false);
  await assert.rejects(runCycleFeed({ loaded: centre.loaded, cycle: cycleStart.toISOString().slice(0, 13), allowMissing: true }), isGanymedeError(ExitCode.nothingToDo, /has no GEO in the warehouse: there is nothing to feed/));
  assert.equal(await feedSteps(cycleStart), 0);
  assert.equal((await getCycle(db, cycleStart))!.state, 'collecting');
});

test('a hand-run feed of a cycle with no GEO in the warehouse is refused before anything is built', async () => {
  const cycleStart = hourStart(5);
  const context = { loaded: centre.loaded, db, log: createLogger('feed'), signal: new AbortController().signal, event: async () => undefined, cycleStart, cycle: cycleStart.toISOString().slice(0, 13), force: true } as unknown as CycleStepContext;
  await assert.rejects(feedStep(context), isGanymedeError(ExitCode.refused, /no GEO of cycle \S+ is in the warehouse: a feed without any GEO is never built/));
});

test('check does not count an empty hour as unsent', async () => {
  const result = await runCheck({ loaded: centre.loaded });
  const empty = hourStart(5).toISOString().slice(0, 13);
  assert.deepEqual(result.findings.filter((finding) => finding.what.includes(empty)), [], JSON.stringify(result.findings));
  assert.ok(result.findings.some((finding) => /not sent by their deadline/.test(finding.what) && finding.what.includes(hourStart(6).toISOString().slice(0, 13))), 'the ready hour that was not sent is still reported');
});
