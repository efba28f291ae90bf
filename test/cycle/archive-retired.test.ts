// Superseded and quarantined agent files (issue #15): a delivery that a forced re-delivery replaced stays in
// the inbox, a refused one in quarantine. `archive` archives each once, like a delivered file — the superseded
// one checked against the sha256 its agent reported, the quarantined one as found — `archive --dry-run` lists
// them and changes nothing, a run killed half way is finished by the next one, and `archive prune` removes
// them from the inbox and quarantine once archived for archive.local_days, as it removes delivered files.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { runAgent } from '../../src/commands/agent/run.js';
import { startArchiveRecord } from '../../src/state/archive.js';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { listTree, sha256Of, shown, smallSource, treeHashes } from './support.js';

const hour = '2026-06-03T09';
let centre: Centre;
/** What each file is: the name, the size and sha256 its agent reported, and (quarantined) the sha256 of what lies there. */
const files = {} as Record<'superseded' | 'current' | 'refused', { name: string; size: number; sha256: string; txnId: number }>;
let refusedSha256 = '';

const archiveDir = () => join(centre.dataDir, 'archive');
const quarantineDir = () => join(centre.dataDir, 'quarantine');
const inboxDir = () => join(centre.dataDir, 'inbox');

/** Every row of every table of the Ganymede database, as JSON. */
async function everything(): Promise<string> {
  const [tables] = await centre.db.query<mysql.RowDataPacket[]>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY table_name", [centre.database]);
  const dump: Record<string, unknown> = {};
  for (const { name } of tables) dump[String(name)] = (await centre.db.query(`SELECT * FROM \`${String(name)}\``))[0];
  return JSON.stringify(dump);
}

const stores = () => JSON.stringify([inboxDir(), quarantineDir(), archiveDir()].map((dir) => (existsSync(dir) ? treeHashes(dir) : {})));

before(async () => {
  centre = await startCentre();
  const emea = await centre.addGeo('emea', await centre.addSource('retiredemea', smallSource(1)));
  const apac = await centre.addGeo('apac', await centre.addSource('retiredapac', smallSource(2)));
  const first = await emea.deliver(hour);
  files.superseded = { ...first.file, txnId: first.transactionId };
  // The GEO delivers the hour again: its first file is superseded, and stays in the inbox.
  const again = await runAgent({ loaded: emea.loaded(), cycle: hour, force: true, retryBaseDelayMs: 10 });
  files.current = { ...again.file, txnId: again.transactionId };
  assert.notEqual(files.current.name, files.superseded.name);
  // apac's file is damaged in the inbox after its agent closed the hour: decrypt refuses it to quarantine.
  const refused = await apac.deliver(hour);
  files.refused = { ...refused.file, txnId: refused.transactionId };
  const path = join(apac.inboxDir, refused.file.name);
  const bytes = readFileSync(path);
  bytes[bytes.length >> 1]! ^= 0x5a;
  writeFileSync(path, bytes);
  refusedSha256 = createHash('sha256').update(bytes).digest('hex');
  const decrypt = await centre.cli(['worker', 'decrypt', '--txn', String(refused.transactionId)]);
  assert.equal(decrypt.code, 5, shown(decrypt));
  assert.ok(existsSync(join(quarantineDir(), 'apac', refused.file.name)), 'refused to quarantine');
});
after(async () => {
  await centre?.dispose();
});

test('both are on record in MySQL, with the size and sha256 their agent reported and where they lie', async () => {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>('SELECT txn_id, delivery, file_name, file_size, file_sha256, reason, location FROM retired_deliveries ORDER BY reason');
  assert.deepEqual(
    rows.map((row) => [Number(row.txn_id), row.delivery, row.file_name, Number(row.file_size), row.file_sha256, row.reason, row.location]),
    [
      [files.refused.txnId, 1, files.refused.name, files.refused.size, files.refused.sha256, 'quarantined', `apac/${files.refused.name}`],
      [files.superseded.txnId, 1, files.superseded.name, files.superseded.size, files.superseded.sha256, 'superseded', `emea/${files.superseded.name}`],
    ],
  );
});

test('archive --dry-run lists the superseded and the quarantined file with the delivered one, and changes nothing', async () => {
  const tables = await everything();
  const trees = stores();
  const plan = await centre.cli(['archive', 'run', '--dry-run']);
  assert.equal(plan.code, 0, shown(plan));
  const lines = plan.stdout.trim().split('\n');
  assert.deepEqual(lines.slice(1), [
    `would archive emea/${files.current.name} (${hour}, ${files.current.size} bytes)`,
    `would archive emea/${files.superseded.name} (${hour}, ${files.superseded.size} bytes, superseded by a later delivery)`,
    `would archive apac/${files.refused.name} from quarantine (${hour}, ${files.refused.size} bytes as delivered, refused)`,
    `dry run: 3 agent files to archive into file://${archiveDir()}; nothing was changed`,
  ]);
  const json = JSON.parse((await centre.cli(['archive', 'run', '--dry-run', '--json'])).stdout) as { retiredFiles: Array<{ file: string; reason: string }> };
  assert.deepEqual(json.retiredFiles.map((file) => [file.file, file.reason]), [[`emea/${files.superseded.name}`, 'superseded'], [`apac/${files.refused.name}`, 'quarantined']]);
  assert.equal(await everything(), tables, 'not one row changed');
  assert.equal(stores(), trees, 'nothing in the inbox, quarantine or archive changed');
});

test('archive archives each once, checked by sha256, and a run killed half way is finished by the next, with no second copy', async () => {
  // A run killed while it uploaded the quarantined file: its record says uploading, a partial object lies in the store.
  const quarantinedKey = `quarantine/${hour}/apac/d1/${files.refused.name}`;
  const [[apac]] = (await centre.db.query("SELECT id FROM geos WHERE name = 'apac'")) as unknown as [[{ id: number }]];
  await startArchiveRecord(centre.db, {
    kind: 'quarantined', sourceKey: `txn:${files.refused.txnId}:d1`, txnId: files.refused.txnId, geoId: apac.id, cycleStart: new Date(`${hour}:00:00Z`), storeUrl: `file://${archiveDir()}`, objectKey: quarantinedKey,
  });
  mkdirSync(dirname(join(archiveDir(), quarantinedKey)), { recursive: true });
  writeFileSync(join(archiveDir(), `${quarantinedKey}.part`), 'half an upload');

  const run = await centre.cli(['archive', '--json']);
  assert.equal(run.code, 0, shown(run));
  const result = JSON.parse(run.stdout) as { agentDumps: Array<{ objectKey: string }>; retiredFiles: Array<{ reason: string; file: string; objectKey: string; size: number; copiedInStore: boolean }>; skipped: unknown[] };
  const supersededKey = `superseded/${hour}/emea/d1/${files.superseded.name}`;
  assert.deepEqual(result.agentDumps.map((dump) => dump.objectKey), [`agent/${hour}/emea/${files.current.name}`]);
  assert.deepEqual(result.retiredFiles, [
    { reason: 'superseded', file: `emea/${files.superseded.name}`, objectKey: supersededKey, size: files.superseded.size, copiedInStore: false },
    { reason: 'quarantined', file: `apac/${files.refused.name}`, objectKey: quarantinedKey, size: files.refused.size, copiedInStore: false },
  ]);
  assert.deepEqual(result.skipped, []);
  const text = await centre.cli(['archive', 'list', '--geo', 'apac', '--cycle', hour]);
  assert.match(text.stdout, new RegExp(`^quarantined\\s+${hour}\\s+apac\\s+${quarantinedKey.replace(/\./g, '\\.')}\\s`, 'm'));

  const [records] = await centre.db.query<mysql.RowDataPacket[]>("SELECT kind, source_key, object_key, size, sha256, state FROM archive_records WHERE kind <> 'ganymede-db' ORDER BY kind, source_key");
  assert.deepEqual(
    records.map((record) => [record.kind, record.source_key, record.object_key, record.state]),
    [
      ['agent-dump', `txn:${files.current.txnId}:d2`, `agent/${hour}/emea/${files.current.name}`, 'archived'],
      ['quarantined', `txn:${files.refused.txnId}:d1`, quarantinedKey, 'archived'],
      ['superseded', `txn:${files.superseded.txnId}:d1`, supersededKey, 'archived'],
    ],
    'one record for each file',
  );
  const sha = Object.fromEntries(records.map((record) => [record.object_key, record.sha256]));
  assert.equal(sha[supersededKey], files.superseded.sha256, 'the superseded file as its agent reported it');
  assert.equal(sha[quarantinedKey], refusedSha256, 'the quarantined file as it was found (damaged)');
  for (const record of records) assert.equal(sha256Of(join(archiveDir(), record.object_key)), record.sha256, `${record.object_key}: the archived object is what was recorded`);
  assert.deepEqual(listTree(archiveDir()).filter((name) => name.endsWith('.part')), [], 'no partial object left');

  const again = await centre.cli(['archive']);
  assert.equal(again.code, 0, shown(again));
  assert.equal(again.stdout, '', 'a second run archives nothing again');
});

test('archive prune removes them from the inbox and quarantine once archived for archive.local_days, and only then', async () => {
  const inQuarantine = join(quarantineDir(), 'apac', files.refused.name);
  const superseded = join(inboxDir(), 'emea', files.superseded.name);
  const current = join(inboxDir(), 'emea', files.current.name);
  const early = await centre.cli(['archive', 'prune']);
  assert.equal(early.code, 0, shown(early));
  assert.equal(early.stdout.trim(), 'removed 0 archived objects and 0 local files', 'archived just now: kept');

  await centre.db.query("UPDATE archive_records SET archived_at = archived_at - INTERVAL 3 DAY WHERE kind <> 'ganymede-db'");
  const tables = await everything();
  const dry = await centre.cli(['archive', 'prune', '--dry-run']);
  assert.equal(dry.code, 0, shown(dry));
  assert.deepEqual(dry.stdout.trim().split('\n'), [
    `would remove ${current} (archived)`,
    `would remove ${superseded} (superseded, archived)`,
    `would remove ${inQuarantine} (quarantined, archived)`,
    'would remove 0 archived objects and 3 local files',
  ]);
  assert.ok([inQuarantine, superseded, current].every((path) => existsSync(path)), 'a dry run removes nothing');
  assert.equal(await everything(), tables, 'nor changes a row');

  const pruned = await centre.cli(['archive', 'prune', '--json']);
  assert.equal(pruned.code, 0, shown(pruned));
  assert.deepEqual(JSON.parse(pruned.stdout).retiredFiles, [{ file: superseded, reason: 'superseded' }, { file: inQuarantine, reason: 'quarantined' }]);
  assert.ok(![inQuarantine, superseded, current].some((path) => existsSync(path)), 'gone from the inbox and quarantine');
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM retired_deliveries WHERE removed_at IS NULL');
  assert.equal(Number(rows[0]!.n), 0, 'each recorded as removed');
  for (const key of [`superseded/${hour}/emea/d1/${files.superseded.name}`, `quarantine/${hour}/apac/d1/${files.refused.name}`]) {
    assert.ok(existsSync(join(archiveDir(), key)), `${key} stays in the archive`);
  }
  const again = await centre.cli(['archive', 'prune']);
  assert.equal(again.stdout.trim(), 'removed 0 archived objects and 0 local files');
  const archiveAgain = await centre.cli(['archive', '--json']);
  assert.deepEqual(JSON.parse(archiveAgain.stdout).retiredFiles, [], 'nor archived again');
  // Nor once their archived objects age out of the archive (archive.daily_days): archived once is archived.
  await centre.db.query("UPDATE archive_records SET state = 'pruned' WHERE kind <> 'ganymede-db'");
  const plan = await centre.cli(['archive', 'run', '--dry-run']);
  assert.match(plan.stdout, /^dry run: 0 agent files to archive into /m, shown(plan));
});
