// A feed is the content of its hour, and an hour sent stays what was sent.
// - Replay: `worker feed --force` of an hour already sent keeps the stored feed (checked against what
//   Glassbeam got) and `worker send --force` sends those bytes again, byte for byte, though the warehouse
//   has moved on; `--force --rebuild` builds it from today's warehouse instead. Neither is sent by the tick.
// - A GEO whose later hour is already in the warehouse is left out of an earlier hour's feed, as missing,
//   rather than fed with the later hour's rows.
// - A GEO's next etl waits while the feed of an hour it is in is due.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mysqlPromise from 'mysql2/promise';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { mysqlOptions } from '../support/mysql.js';
import { ExitCode } from '../../src/exit-codes.js';
import { cliWith, cycleAttempts, nextCycle, readManifest, shown, smallSource, treeHashes } from './support.js';

const first = '2026-04-07T10';
const second = nextCycle(first);
let centre: Centre;
const feedDir = (cycle: string) => join(centre.dataDir, 'feed', cycle);
const glassbeamDir = (cycle: string) => centre.glassbeam!.localPath(cycle);

async function ok(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const run = await cliWith(centre, args);
  assert.equal(run.code, 0, shown(run));
  return run;
}

async function changeSource(geo: string, statement: string): Promise<void> {
  const conn = await mysqlPromise.createConnection(mysqlOptions(centre.geos.get(geo)!.sourceDatabase));
  try {
    await conn.query(statement);
  } finally {
    await conn.end();
  }
}

before(async () => {
  centre = await startCentre({ glassbeam: true });
  for (const [i, name] of ['emea', 'apac', 'amer'].entries()) await centre.addGeo(name, await centre.addSource(`replay${name}`, smallSource(i + 1)));
});
after(async () => {
  await centre?.dispose();
});

test('an hour already sent is replayed byte for byte; --rebuild builds it from the warehouse as it is now; the tick sends neither', async () => {
  for (const geo of centre.geos.values()) await geo.deliver(first);
  await ok(['jupiter', 'drain', '--timeout', '150']);
  const sentThen = treeHashes(glassbeamDir(first));
  const storedThen = treeHashes(feedDir(first));
  assert.ok(Object.keys(sentThen).includes('accounts.ndjson.gz'), Object.keys(sentThen).join(' '));

  await changeSource('emea', 'UPDATE accounts SET balance = balance + 1000');
  for (const geo of centre.geos.values()) await geo.deliver(second);
  await ok(['jupiter', 'drain', '--timeout', '150']);
  const sends = (await cycleAttempts(centre, first, 'send')).length;

  const kept = await ok(['worker', 'feed', '--cycle', first, '--force']);
  assert.match(kept.stderr, new RegExp(`the feed of ${first} is kept as it was sent \\(\\d+ files, the bytes Glassbeam got\\); to send it again: ganymede worker send --cycle ${first} --force`));
  assert.deepEqual(treeHashes(feedDir(first)), storedThen, 'the stored feed is left as it was sent');
  await ok(['jupiter', 'drain', '--timeout', '60']);
  assert.equal((await cycleAttempts(centre, first, 'send')).length, sends, 'a replay is not sent by the tick');

  rmSync(glassbeamDir(first), { recursive: true, force: true });
  await ok(['worker', 'send', '--cycle', first, '--force']);
  assert.deepEqual(treeHashes(glassbeamDir(first)), sentThen, 'Glassbeam gets again the bytes it got then');

  // A file of the sent feed cut short, then gone: the replay is refused, naming it, and nothing is rebuilt.
  const accounts = join(feedDir(first), 'accounts.ndjson.gz');
  const accountsBytes = readFileSync(accounts);
  for (const [damage, what] of [[() => writeFileSync(accounts, accountsBytes.subarray(1)), 'of another size'], [() => rmSync(accounts), 'missing']] as const) {
    damage();
    const broken = await cliWith(centre, ['worker', 'feed', '--cycle', first, '--force']);
    assert.equal(broken.code, ExitCode.refused, shown(broken));
    assert.match(broken.stderr, new RegExp(`the feed of ${first} as sent is no longer whole in .*: accounts\\.ndjson\\.gz is ${what}`));
  }
  writeFileSync(accounts, accountsBytes);
  assert.deepEqual(treeHashes(feedDir(first)), storedThen, 'a refused replay leaves the stored feed alone');

  const alone = await cliWith(centre, ['worker', 'feed', '--cycle', first, '--rebuild']);
  assert.equal(alone.code, ExitCode.usage, shown(alone));
  assert.match(alone.stderr, /--rebuild needs --force/);

  const rebuilt = await ok(['worker', 'feed', '--cycle', first, '--force', '--rebuild']);
  assert.match(rebuilt.stderr, /rebuilt from the warehouse as it is now/);
  assert.notEqual(treeHashes(feedDir(first))['accounts.ndjson.gz'], storedThen['accounts.ndjson.gz'], "today's warehouse: emea's new balances");
  await ok(['jupiter', 'drain', '--timeout', '60']);
  assert.equal((await cycleAttempts(centre, first, 'send')).length, sends + 1, 'only the send by hand; the rebuild is not sent by the tick');
  assert.deepEqual(treeHashes(glassbeamDir(first)), sentThen, 'Glassbeam still has what was sent');

  const gone = await cliWith(centre, ['worker', 'feed', '--cycle', first, '--force']);
  assert.equal(gone.code, ExitCode.refused, shown(gone));
  assert.match(gone.stderr, new RegExp(`the feed of ${first} as sent on \\S+ is no longer in .* \\(its manifest there differs\\)`));
  assert.match(gone.stderr, /--force --rebuild/);
});

test("a GEO whose later hour is already in the warehouse is left out of the earlier hour's feed, as missing", async () => {
  const third = nextCycle(second);
  const fourth = nextCycle(third);
  // amer is late for the third hour; emea's fourth hour is in before the third is fed.
  await centre.geos.get('emea')!.deliver(third);
  await centre.geos.get('apac')!.deliver(third);
  await centre.geos.get('emea')!.deliver(fourth);
  await ok(['jupiter', 'drain', '--timeout', '150']);
  await ok(['cycle', 'feed', third, '--allow-missing']);
  const fed = await ok(['worker', 'feed', '--cycle', third]);
  const manifest = readManifest(feedDir(third));
  assert.deepEqual([manifest.geos, manifest.missingGeos], [['apac'], ['amer', 'emea']]);
  assert.match(fed.stderr, new RegExp(`GEO emea is left out of the feed of ${third}: the warehouse already holds its hour ${fourth}`));
});

test("a GEO's next etl waits while the feed of an hour it is in is due", async () => {
  // The second hour, sent above, made due again; apac's next hour (after the others above) loaded and waiting for etl.
  const due = second;
  const later = nextCycle(first, 5);
  const { transactionId } = await centre.geos.get('apac')!.deliver(later);
  await ok(['worker', 'decrypt', '--txn', String(transactionId)]);
  await ok(['worker', 'load', '--txn', String(transactionId)]);
  // The earlier hour's feed due again, as when its last GEO has just come in.
  await centre.db.query("UPDATE cycles SET state = 'ready' WHERE cycle_start = ?", [new Date(`${due}:00:00Z`)]);
  await centre.db.query("UPDATE steps SET state = 'pending', next_run_at = UTC_TIMESTAMP(3) WHERE txn_id IS NULL AND name = 'feed' AND cycle_start = ?", [new Date(`${due}:00:00Z`)]);

  const held = await ok(['jupiter', 'tick', '--dry-run']);
  assert.match(held.stdout, new RegExp(`would launch feed for cycle ${due}`));
  assert.doesNotMatch(held.stdout, new RegExp(`etl for transaction ${transactionId}`), 'etl of the next hour waits for the feed');
  await ok(['worker', 'feed', '--cycle', due]);
  const after = await ok(['jupiter', 'tick', '--dry-run']);
  assert.match(after.stdout, new RegExp(`would launch etl for transaction ${transactionId} \\(${later}\\)`), 'once fed, it is due');
});
