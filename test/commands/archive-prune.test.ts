// archive prune: the retention of the archive store and of the local inbox, against a file:// store.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, testCentre } from '../support/ganymede.js';
import { openStateDb } from '../../src/state/db.js';
import { finishArchiveRecord, startArchiveRecord } from '../../src/state/archive.js';
import { runArchivePrune } from '../../src/commands/archive/prune.js';
import { addGeo } from '../../src/state/geos.js';

const dir = tempDir('prune');
const centre = await testCentre('prune', { 'logging.level': 'error', 'site.data_dir': dir.path, 'archive.url': `file://${join(dir.path, 'archive')}` });
const db = await openStateDb(centre.loaded);
after(async () => {
  await db.end();
  await centre.dispose();
  dir.remove();
});

const day = 86_400_000;
const now = new Date(Date.UTC(2026, 10, 24, 12));

async function archived(key: string, createdAt: Date, kind: 'ganymede-db' | 'agent-dump' = 'ganymede-db'): Promise<string> {
  const objectKey = kind === 'ganymede-db' ? `ganymede/${key}.gpg` : `agent/${key}.gpg`;
  mkdirSync(join(dir.path, 'archive', objectKey, '..'), { recursive: true });
  writeFileSync(join(dir.path, 'archive', objectKey), 'x');
  await startArchiveRecord(db, { kind, sourceKey: key, storeUrl: 'file://', objectKey });
  await finishArchiveRecord(db, kind, key, 1, '0'.repeat(64));
  await db.query('UPDATE archive_records SET created_at = ?, archived_at = ? WHERE source_key = ?', [createdAt, createdAt, key]);
  return objectKey;
}

test('every object is kept for 14 days, then the first of each day until 90; local files go 2 days after they were archived', async () => {
  const recent = await archived('recent', new Date(now.getTime() - 3 * day));
  const firstOfDay = await archived('day-30-a', new Date(now.getTime() - 30 * day));
  const laterThatDay = await archived('day-30-b', new Date(now.getTime() - 30 * day + 3_600_000));
  const ancient = await archived('day-100', new Date(now.getTime() - 100 * day));
  // An agent file archived 5 days ago is gone from the inbox; one delivered but not archived stays.
  const inbox = join(dir.path, 'inbox', 'emea');
  mkdirSync(inbox, { recursive: true });
  writeFileSync(join(inbox, 'old.gpg'), 'x');
  writeFileSync(join(inbox, 'not-archived.gpg'), 'x');
  await startArchiveRecord(db, { kind: 'agent-dump', sourceKey: 'old', storeUrl: 'file://', objectKey: 'agent/2026-11-19T10/emea/old.gpg' });
  await finishArchiveRecord(db, 'agent-dump', 'old', 1, '0'.repeat(64));
  const geo = (await addGeo(db, { name: 'emea', publicKey: 'k', keyFingerprint: 'F'.repeat(40) }))!.geo;
  await db.query("UPDATE archive_records SET created_at = ?, archived_at = ?, geo_id = ? WHERE source_key = 'old'", [new Date(now.getTime() - 5 * day), new Date(now.getTime() - 5 * day), geo.id]);

  const dry = await runArchivePrune({ loaded: centre.loaded, dryRun: true, now });
  assert.deepEqual(dry.storeObjects.sort(), [ancient, laterThatDay].sort());
  assert.ok(existsSync(join(dir.path, 'archive', ancient)), 'a dry run removes nothing');

  const real = await runArchivePrune({ loaded: centre.loaded, now });
  assert.deepEqual(real.storeObjects.sort(), [ancient, laterThatDay].sort());
  for (const kept of [recent, firstOfDay]) assert.ok(existsSync(join(dir.path, 'archive', kept)), `${kept} is kept`);
  for (const gone of [ancient, laterThatDay]) assert.ok(!existsSync(join(dir.path, 'archive', gone)), `${gone} is pruned`);
  assert.ok(existsSync(join(inbox, 'not-archived.gpg')), 'a file not archived yet is never deleted');
  assert.ok(!existsSync(join(inbox, 'old.gpg')), 'an agent file archived 5 days ago leaves the inbox');
  assert.deepEqual(real.localFiles, [join(inbox, 'old.gpg')]);
  const again = await runArchivePrune({ loaded: centre.loaded, now });
  assert.deepEqual(again.storeObjects, [], 'pruned records are not pruned twice');
});
