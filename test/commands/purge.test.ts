// `ganymede purge` removes exactly what is past retention, and --dry-run removes nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type mysql from 'mysql2/promise';
import { testCentre } from '../support/ganymede.js';
import { openStateDb } from '../../src/state/db.js';
import { recordEvents } from '../../src/state/events.js';
import { recordMetrics } from '../../src/state/metrics.js';
import { runPurge } from '../../src/commands/purge.js';

const centre = await testCentre('purge', { 'logging.level': 'error', 'retention.events_days': 14, 'retention.metrics_days': 7, 'retention.batch_rows': 3 });
const db = await openStateDb(centre.loaded);
after(async () => {
  await db.end();
  await centre.dispose();
});

const day = 86_400_000;
const count = async (table: string) => Number(((await db.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${table}`))[0])[0]!.n);

test('events and metric points older than their retention go, in batches; newer ones stay; --dry-run only counts', async () => {
  const now = Date.now();
  await recordEvents(db, { txnId: null, geoId: null, source: 'test' }, Array.from({ length: 10 }, (_, i) => ({ at: new Date(), level: 'info' as const, phase: 'p', message: String(i) })));
  // received_at is set by the server: age half of them by hand.
  await db.query('UPDATE events SET received_at = ? ORDER BY id LIMIT 7', [new Date(now - 15 * day)]);
  await recordMetrics(db, [
    ...Array.from({ length: 4 }, () => ({ name: 'step.rows', dimensions: { step: 'load' }, value: 1, at: new Date(now - 8 * day) })),
    { name: 'step.rows', dimensions: { step: 'load' }, value: 1, at: new Date(now - 6 * day) },
  ]);
  const dry = await runPurge({ loaded: centre.loaded, dryRun: true });
  assert.deepEqual(dry.deleted.map((item) => item.rows).slice(0, 3), [7, 4, 1]);
  assert.equal(await count('events'), 10, 'a dry run deletes nothing');
  const real = await runPurge({ loaded: centre.loaded });
  assert.deepEqual(real.deleted.map((item) => item.rows).slice(0, 3), [7, 4, 1], 'batches of 3 still delete everything past retention');
  assert.equal(await count('events'), 3);
  assert.equal(await count('metric_points'), 1);
});

test("the GEO hours' recorded schemas go with the events; a schema an hour still names stays", async () => {
  const { addGeo } = await import('../../src/state/geos.js');
  const { recordGeoSchema, readGeoSchemas } = await import('../../src/state/geo-schemas.js');
  const geo = (await addGeo(db, { name: 'purgeschemas', publicKey: 'k', keyFingerprint: 'E'.repeat(40) }))!.geo;
  const hour = (daysAgo: number) => new Date(Math.floor((Date.now() - daysAgo * day) / 3_600_000) * 3_600_000);
  const old = [{ table: 't', columns: [{ name: 'a', type: 'INT' }] }];
  const current = [{ table: 't', columns: [{ name: 'a', type: 'BIGINT' }] }];
  await recordGeoSchema(db, geo.id, hour(20), old);
  await recordGeoSchema(db, geo.id, hour(19), current);
  await recordGeoSchema(db, geo.id, hour(1), current);
  // The versions were last used 20 and 19 days ago.
  await db.query('UPDATE schema_versions SET created_at = ?', [hour(19)]);
  const purged = await runPurge({ loaded: centre.loaded });
  assert.deepEqual(purged.deleted.filter((item) => item.what.startsWith('schema')).map((item) => [item.what, item.rows]), [
    ['schemas of GEO hours', 2],
    ['schema versions no hour names', 1],
  ]);
  const [kept] = await readGeoSchemas(db, ['purgeschemas'], hour(1));
  assert.deepEqual(kept!.tables, current, 'the hour still on record reads its schema');
});
