// What load records of a GEO's schema per hour: the changes of each hour are against the GEO's hour before on
// record, also when an hour arrives late between two others, and a re-delivered hour replaces its record.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { testCentre } from '../support/ganymede.js';
import { openStateDb } from '../../src/state/db.js';
import { listSchemaChangesSince, readGeoSchemas, recordGeoSchema } from '../../src/state/geo-schemas.js';
import { addGeo } from '../../src/state/geos.js';

const centre = await testCentre('geoschemas', { 'logging.level': 'error' });
const db = await openStateDb(centre.loaded);
after(async () => {
  await db.end();
  await centre.dispose();
});

const hour = (h: number) => new Date(Date.UTC(2026, 2, 1, h));
const schema = (type: string) => [{ table: 't', columns: [{ name: 'a', type }] }];

test('an hour loaded late is compared with the hour before it, and the hour after it is compared again', async () => {
  const geo = (await addGeo(db, { name: 'late', publicKey: 'k', keyFingerprint: 'D'.repeat(40) }))!.geo;
  assert.deepEqual(await recordGeoSchema(db, geo.id, hour(10), schema('INT')), { previousCycle: null, changes: [] }, 'a first hour has nothing to differ from');
  const twelve = await recordGeoSchema(db, geo.id, hour(12), schema('DECIMAL(14,4)'));
  assert.deepEqual(twelve.changes.map((change) => [change.change, change.oldType, change.newType]), [['column retyped', 'INT', 'DECIMAL(14,4)']]);
  // Hour 11 arrives late, already with hour 12's schema: the change happened between 10 and 11, not at 12.
  const eleven = await recordGeoSchema(db, geo.id, hour(11), schema('DECIMAL(14,4)'));
  assert.deepEqual([eleven.previousCycle, eleven.changes.map((change) => change.newType)], [hour(10), ['DECIMAL(14,4)']]);
  const [at12] = await readGeoSchemas(db, ['late'], hour(12));
  assert.deepEqual([at12!.previousCycle, at12!.changes], [hour(11), []], 'hour 12 is now compared with hour 11');
  assert.deepEqual((await listSchemaChangesSince(db, hour(0))).filter((item) => item.geo === 'late').map((item) => item.cycle), ['2026-03-01T11']);

  // A re-delivery of hour 11 with the old schema: its record is replaced, and hour 12 changes again.
  await recordGeoSchema(db, geo.id, hour(11), schema('INT'));
  assert.deepEqual((await listSchemaChangesSince(db, hour(0))).filter((item) => item.geo === 'late').map((item) => item.cycle), ['2026-03-01T12']);
});
