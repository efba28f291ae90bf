// Event writes are bounded: stored events per transaction are capped (the rest dropped, counted in the
// reply, one note in the transaction), a GEO's events per minute are limited (429 with Retry-After, other
// GEOs and the admin unaffected, concurrent batches cannot each slip under), and the agent's reporter
// waits a 429 out without losing events or retrying in a loop, and drops a batch refused for good.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { EventReporter } from '../../src/agent/event-reporter.js';
import { ApiClient, type ApiEvent } from '../../src/api/client.js';
import { createLogger } from '../../src/log.js';
import { openStateDb, type Db } from '../../src/state/db.js';
import { startTestApi, tempDir, type TestApi } from '../support/ganymede.js';
import { addGeo, captureLog, clientFor, seenStatuses, type TestGeo } from './support.js';

const limits = { perTxn: 30, perMinute: 50, perRequest: 20 };
let api: TestApi;
let db: Db;
let hour = 0;
const recentCycle = () => new Date(Date.now() - (2 + hour++) * 3_600_000).toISOString().slice(0, 13);
const events = (count: number, prefix: string) => Array.from({ length: count }, (_, n) => ({ key: `${prefix}-${n}`, at: new Date().toISOString(), phase: 'extracting', rows: n }));

async function openTxn(geo: TestGeo): Promise<number> {
  const reply = await clientFor(api.url, geo.token).post(`/v1/geos/${geo.name}/transactions`, { cycle: recentCycle() });
  assert.equal(reply.status, 201, reply.text);
  return reply.body.transaction.id;
}

async function storedIn(txnId: number): Promise<{ total: number; notes: number }> {
  const [rows] = await db.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS total, SUM(source = 'api') AS notes FROM events WHERE txn_id = ?", [txnId]);
  return { total: Number(rows[0]!.total), notes: Number(rows[0]!.notes ?? 0) };
}

before(async () => {
  api = await startTestApi({ 'api.max_events_per_txn': limits.perTxn, 'api.max_events_per_geo_per_minute': limits.perMinute, 'api.max_events_per_request': limits.perRequest });
  db = await openStateDb(api.loaded);
});

after(async () => {
  await db?.end();
  await api?.stop();
});

describe('per transaction', () => {
  test('events past max_events_per_txn are dropped and counted, with one note in the transaction; the admin is capped too', async () => {
    const geo = await addGeo(api.url, api.adminToken, 'capped');
    const txnId = await openTxn(geo);
    const asGeo = clientFor(api.url, geo.token);
    assert.deepEqual((await asGeo.post(`/v1/transactions/${txnId}/events`, { events: events(20, 'a') })).body, { received: 20, stored: 20 });
    assert.deepEqual((await asGeo.post(`/v1/transactions/${txnId}/events`, { events: events(20, 'b') })).body, { received: 20, stored: 10, dropped: 10 });
    assert.deepEqual((await asGeo.post(`/v1/transactions/${txnId}/events`, { events: events(5, 'c') })).body, { received: 5, stored: 0, dropped: 5 });
    const asAdmin = clientFor(api.url, api.adminToken);
    assert.deepEqual((await asAdmin.post(`/v1/transactions/${txnId}/events`, { events: events(2, 'admin') })).body, { received: 2, stored: 0, dropped: 2 });
    assert.deepEqual(await storedIn(txnId), { total: 31, notes: 1 }, 'the cap, and one note however often it was hit');
    const [note] = await db.query<mysql.RowDataPacket[]>("SELECT level, message FROM events WHERE txn_id = ? AND source = 'api'", [txnId]);
    assert.equal(note[0]!.level, 'warn');
    assert.match(note[0]!.message, /reached its cap of 30 stored events \(api\.max_events_per_txn\)/);
    const fresh = await openTxn(geo);
    assert.equal((await asGeo.post(`/v1/transactions/${fresh}/events`, { events: events(1, 'd') })).body.stored, 1, "another transaction's cap is its own");
  });
});

describe('per GEO and minute', () => {
  test('past max_events_per_geo_per_minute a GEO gets 429 with Retry-After; another GEO and the admin do not', async () => {
    const [busy, quiet] = [await addGeo(api.url, api.adminToken, 'busy'), await addGeo(api.url, api.adminToken, 'quiet')];
    const [first, second, quietTxn] = [await openTxn(busy), await openTxn(busy), await openTxn(quiet)];
    const asBusy = clientFor(api.url, busy.token);
    assert.equal((await asBusy.post(`/v1/transactions/${first}/events`, { events: events(20, 'a') })).body.stored, 20);
    assert.equal((await asBusy.post(`/v1/transactions/${second}/events`, { events: events(20, 'b') })).body.stored, 20, 'the limit is per GEO, across its transactions');
    const refused = await asBusy.post(`/v1/transactions/${second}/events`, { events: events(20, 'c') });
    assert.equal(refused.status, 429, refused.text);
    assert.match(refused.body.error, /^GEO busy stored 40 events in the last minute and the limit is 50 \(api\.max_events_per_geo_per_minute\); try again in \d+ s$/);
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${refused.headers['retry-after']}`);
    assert.equal((await storedIn(second)).total, 20, 'nothing of the refused batch was stored');
    assert.equal((await asBusy.post(`/v1/transactions/${second}/events`, { events: events(10, 'fits') })).status, 200, 'a batch that still fits');
    assert.equal((await clientFor(api.url, quiet.token).post(`/v1/transactions/${quietTxn}/events`, { events: events(20, 'q') })).status, 200);
    assert.equal((await clientFor(api.url, api.adminToken).post(`/v1/transactions/${first}/events`, { events: events(20, 'admin') })).status, 200);
  });

  test('concurrent batches cannot each slip under the limit', async () => {
    const geo = await addGeo(api.url, api.adminToken, 'racing');
    const txns = await Promise.all(Array.from({ length: 2 }, () => openTxn(geo)));
    const asGeo = clientFor(api.url, geo.token);
    const replies = await Promise.all(Array.from({ length: 10 }, (_, n) => asGeo.post(`/v1/transactions/${txns[n % 2]}/events`, { events: events(20, `r${n}`) })));
    const stored = replies.reduce((sum, reply) => sum + (reply.status === 200 ? reply.body.stored : 0), 0);
    assert.equal(stored, 40, replies.map((reply) => reply.status).join(' '));
    assert.equal(replies.filter((reply) => reply.status === 429).length, 8);
  });
});

describe("the agent's reporter", () => {
  let log: string[] = [];
  // after the API's start, which sets the logging up from the test config
  before(() => void (log = captureLog()));

  test('waits a 429 out: one try per flush, and the events stay in its buffer for the next run', async () => {
    const geo = await addGeo(api.url, api.adminToken, 'reporter');
    const [earlier, later, txnId] = [await openTxn(geo), await openTxn(geo), await openTxn(geo)];
    const asGeo = clientFor(api.url, geo.token);
    for (const [id, prefix] of [[earlier, 'e'], [later, 'l']] as const) assert.equal((await asGeo.post(`/v1/transactions/${id}/events`, { events: events(20, prefix) })).body.stored, 20);
    const client = new ApiClient({ baseUrl: api.url, token: geo.token, as: 'GEO reporter' });
    const dir = tempDir('reporter');
    try {
      const sent: number[] = [];
      const send = (id: number, batch: ApiEvent[]) => (sent.push(batch.length), client.postEvents(id, batch));
      const bufferFile = join(dir.path, 'events.jsonl');
      const reporter = new EventReporter({ bufferFile, send, log: createLogger('agent'), maxBatch: 20, flushAtCount: 1_000 });
      for (let n = 0; n < 25; n++) reporter.report(txnId, { level: 'debug', phase: 'extracting', rows: n });
      assert.equal(await reporter.flush(), false);
      assert.deepEqual(sent, [20], '40 stored this minute: the batch of 20 got 429');
      assert.equal(reporter.unsent, 25);
      assert.equal(await reporter.close(), false, 'the last try at close is refused too');
      assert.deepEqual(sent, [20, 20], 'one try each time, no loop');
      assert.equal(readFileSync(bufferFile, 'utf8').trim().split('\n').length, 25, 'the unsent events are on disk for the next run');
      assert.equal(new EventReporter({ bufferFile, send, log: createLogger('agent') }).unsent, 25);
      assert.equal((await storedIn(txnId)).total, 0);
      assert.ok(log.some((line) => /status events not sent \(25 waiting, kept on disk\).*429/.test(line)), log.join(''));
    } finally {
      dir.remove();
    }
  });

  test('drops a batch the API refuses as invalid, so the events behind it still go', async () => {
    const geo = await addGeo(api.url, api.adminToken, 'clockwise');
    const [broken, next] = [await openTxn(geo), await openTxn(geo)];
    const client = new ApiClient({ baseUrl: api.url, token: geo.token, as: 'GEO clockwise' });
    const dir = tempDir('reporter');
    try {
      const bufferFile = join(dir.path, 'events.jsonl');
      const reporter = new EventReporter({ bufferFile, send: (id, batch) => client.postEvents(id, batch), log: createLogger('agent') });
      reporter.report(broken, { level: 'info', phase: 'opened', at: new Date(Date.now() + 3 * 86_400_000) });
      reporter.report(next, { level: 'info', phase: 'opened' });
      assert.equal(await reporter.flush(), true);
      assert.equal(reporter.unsent, 0);
      assert.ok(!existsSync(bufferFile) || readFileSync(bufferFile, 'utf8') === '');
      assert.deepEqual([(await storedIn(broken)).total, (await storedIn(next)).total], [0, 1]);
      assert.ok(log.some((line) => /1 status events of transaction \d+ were refused and are dropped: .*400.*events\.0\.at/.test(line)), log.join(''));
    } finally {
      dir.remove();
    }
  });
});

test('no request in this file made the server fail', () => {
  assert.deepEqual(seenStatuses.filter((status) => status >= 500), []);
});
