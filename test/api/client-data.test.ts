// What a GEO sends is stored as sent or refused with a 400 naming the field, never stored changed: an
// event time outside 2000 … a day from now was once stored as 0000-00-00 (INSERT IGNORE) and broke
// `txn show`; a long message is cut to its column with a note; a lone surrogate escape is refused (it would
// be stored as U+FFFD). And the state module no longer hides a bad value behind IGNORE.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { openStateDb, type Db } from '../../src/state/db.js';
import { listEvents, recordEvents } from '../../src/state/events.js';
import { openTransaction } from '../../src/state/transactions.js';
import { startTestApi, type TestApi } from '../support/ganymede.js';
import { addGeo, clientFor, seenStatuses, send, type TestGeo } from './support.js';

let api: TestApi;
let db: Db;
let geo: TestGeo;
let txnId: number;
let hour = 0;
const recentCycle = () => new Date(Date.now() - (2 + hour++) * 3_600_000).toISOString().slice(0, 13);

before(async () => {
  api = await startTestApi();
  db = await openStateDb(api.loaded);
  geo = await addGeo(api.url, api.adminToken, 'client');
  txnId = (await clientFor(api.url, geo.token).post('/v1/geos/client/transactions', { cycle: recentCycle() })).body.transaction.id;
});

after(async () => {
  await db?.end();
  await api?.stop();
});

const postEvents = (events: unknown[]) => clientFor(api.url, geo.token).post(`/v1/transactions/${txnId}/events`, { events });

test('an event time outside 2000 … a day from now is a 400 naming the field, and nothing is stored', async () => {
  const before = (await listEvents(db, txnId)).length;
  for (const at of ['9999-12-31T23:59:59-12:00', '1999-12-31T23:59:59Z', new Date(Date.now() + 2 * 86_400_000).toISOString()]) {
    const reply = await postEvents([{ at, phase: 'ok' }, { at, phase: 'clock' }]);
    assert.equal(reply.status, 400, reply.text);
    assert.equal(reply.body.field, 'events.0.at');
    assert.match(reply.body.error, /field "events\.0\.at": a time from 2000-01-01 to at most a day from now/);
  }
  assert.equal((await listEvents(db, txnId)).length, before);
  const soon = await postEvents([{ at: new Date(Date.now() + 3_600_000).toISOString(), phase: 'skewed' }]);
  assert.equal(soon.status, 200, 'an hour ahead is a clock a little off: accepted');
});

test('every stored event time reads back as a valid date', async () => {
  const events = await listEvents(db, txnId);
  assert.ok(events.length > 0);
  for (const event of events) assert.ok(event.at instanceof Date && Number.isFinite(event.at.getTime()), `event ${event.id}: ${String(event.at)}`);
});

test('a message longer than its column is stored cut to 1000 characters, saying how much was cut', async () => {
  const long = `${'é'.repeat(3000)}\u{1F600}${'x'.repeat(1999)}`;
  const reply = await postEvents([{ key: 'long-1', at: new Date().toISOString(), phase: 'long', message: long }]);
  assert.deepEqual(reply.body, { received: 1, stored: 1 });
  const [rows] = await db.query<mysql.RowDataPacket[]>("SELECT message, CHAR_LENGTH(message) AS chars FROM events WHERE txn_id = ? AND event_key = 'long-1'", [txnId]);
  assert.equal(Number(rows[0]!.chars), 1000);
  const message = String(rows[0]!.message);
  assert.match(message, /^é+… \[\d+ more characters cut\]$/);
  const cut = Number(/\[(\d+) more/.exec(message)![1]);
  assert.equal(Array.from(message).length - /… \[\d+ more characters cut\]$/.exec(message)![0].length + cut, 5000, 'kept plus cut is the whole');
  const exact = 'y'.repeat(1000);
  await postEvents([{ key: 'exact-1', at: new Date().toISOString(), phase: 'long', message: exact }]);
  const [same] = await db.query<mysql.RowDataPacket[]>("SELECT message FROM events WHERE txn_id = ? AND event_key = 'exact-1'", [txnId]);
  assert.equal(same[0]!.message, exact, 'a message that fits is stored as sent');
});

test('a host name is stored exactly as sent, control characters included; a lone surrogate escape is refused, not stored as U+FFFD', async () => {
  const raw = (agentHost: string) => send(api.url, 'POST', '/v1/geos/client/transactions', { token: geo.token, raw: `{"cycle":"${recentCycle()}","agentHost":${agentHost}}` });
  for (const agentHost of ['"\\ud800"', '"host\\udc00"']) {
    const reply = await raw(agentHost);
    assert.equal(reply.status, 400, `${agentHost}: ${reply.text}`);
    assert.equal(reply.body.field, 'agentHost');
    assert.match(reply.body.error, /valid Unicode \(no lone surrogate escapes\)/);
  }
  for (const agentHost of ['agent-1.example.com', 'host\u001b[2J\u0007 \u{1F600}']) {
    const shown = await raw(JSON.stringify(agentHost));
    assert.equal(shown.status, 201, shown.text);
    const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT agent_host FROM transactions WHERE id = ?', [shown.body.transaction.id]);
    assert.equal(rows[0]!.agent_host, agentHost);
  }
});

test('the state module stores replays once but lets every other bad value fail instead of storing it changed', async () => {
  const target = { txnId, geoId: null, source: 'test' };
  const fine = { key: 'state-1', at: new Date(), level: 'info' as const, phase: 'state' };
  assert.equal(await recordEvents(db, target, [fine]), 1);
  assert.equal(await recordEvents(db, target, [fine]), 0, 'a single replayed row');
  assert.equal(await recordEvents(db, target, [fine, { ...fine, key: 'state-2' }, { ...fine, key: undefined }]), 2, 'a batch with one replay');
  await assert.rejects(recordEvents(db, target, [{ ...fine, key: 'state-3', at: new Date('9999-12-31T23:59:59-12:00') }]), /datetime|Incorrect|value/i);
  await assert.rejects(recordEvents(db, target, [{ ...fine, key: 'state-4', table: 't'.repeat(65) }]), /too long/i);
  const [rows] = await db.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS n FROM events WHERE txn_id = ? AND event_key IN ('state-3', 'state-4')", [txnId]);
  assert.equal(Number(rows[0]!.n), 0);
  const geoId = (await clientFor(api.url, geo.token).get(`/v1/transactions/${txnId}`)).body.transaction.geoId;
  await assert.rejects(openTransaction(db, geoId, new Date(Date.UTC(2026, 5, 1, 3)), { agentHost: 'h'.repeat(192) }), /too long/i, 'a host name is not cut to its column');
});

test('no request in this file made the server fail', () => {
  assert.deepEqual(seenStatuses.filter((status) => status >= 500), []);
});
