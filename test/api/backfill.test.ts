// A GEO's token opens hours back to centre.max_backfill_hours only (a stolen one once opened 35 hours
// from 2000 on); an older hour needs the admin token, after which the GEO may deliver it. Hours in the
// future stay refused. A refused open leaves no cycle behind.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { openStateDb, type Db } from '../../src/state/db.js';
import { startTestApi, type TestApi } from '../support/ganymede.js';
import { addGeo, clientFor, seenStatuses, type TestGeo } from './support.js';

let api: TestApi;
let db: Db;
let geo: TestGeo;
const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString().slice(0, 13);
const open = (token: string, cycle: string) => clientFor(api.url, token).post('/v1/geos/west/transactions', { cycle });

async function cycleExists(cycle: string): Promise<boolean> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT 1 FROM cycles WHERE cycle_start = ?', [new Date(`${cycle}:00:00Z`)]);
  return rows.length > 0;
}

before(async () => {
  api = await startTestApi({ 'centre.max_backfill_hours': 72 });
  db = await openStateDb(api.loaded);
  geo = await addGeo(api.url, api.adminToken, 'west');
});

after(async () => {
  await db?.end();
  await api?.stop();
});

test('a GEO opens the hours of the last 72 hours', async () => {
  for (const hours of [0, 5, 71]) assert.equal((await open(geo.token, hoursAgo(hours))).status, 201, `${hours} hours ago`);
});

test('an older hour is a 403 naming the setting and the way out, and no cycle is made for it', async () => {
  for (const cycle of [hoursAgo(74), hoursAgo(24 * 365), '2000-01-01T00']) {
    const reply = await open(geo.token, cycle);
    assert.equal(reply.status, 403, reply.text);
    assert.equal(reply.body.field, 'cycle');
    assert.match(reply.body.error, /^field "cycle": \S+ is more than 72 hours back \(centre\.max_backfill_hours\); a GEO's token cannot open an hour that old: an operator opens it first with the admin token \(POST \/v1\/geos\/west\/transactions\), then the agent can deliver it$/);
    assert.equal(await cycleExists(cycle), false, cycle);
  }
});

test('the admin opens an old hour; then the GEO may open it (and deliver it again later)', async () => {
  const cycle = hoursAgo(24 * 30);
  const asAdmin = await open(api.adminToken, cycle);
  assert.equal(asAdmin.status, 201, asAdmin.text);
  const asGeo = await open(geo.token, cycle);
  assert.equal(asGeo.status, 200, asGeo.text);
  assert.equal(asGeo.body.transaction.id, asAdmin.body.transaction.id);
});

test('hours before 2000 and hours ahead of the clock are refused for everyone', async () => {
  for (const token of [geo.token, api.adminToken]) {
    for (const cycle of ['1999-12-31T23', new Date(Date.now() + 3 * 3_600_000).toISOString().slice(0, 13)]) {
      const reply = await open(token, cycle);
      assert.equal(reply.status, 400, `${cycle}: ${reply.text}`);
      assert.equal(reply.body.field, 'cycle');
    }
  }
});

test('no request in this file made the server fail', () => {
  assert.deepEqual(seenStatuses.filter((status) => status >= 500), []);
});
