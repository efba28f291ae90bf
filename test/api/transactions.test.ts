// The life of a transaction as an agent sees it: open (idempotent, also under concurrency), events
// (replays stored once), close (idempotent with the same file), fail and reopen, forced re-delivery.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApi, type TestApi } from '../support/ganymede.js';
import { addGeo, captureLog, clientFor, cycleAt, seenStatuses, validFile, type TestGeo } from './support.js';

let api: TestApi;
let geo: TestGeo;
let asGeo: ReturnType<typeof clientFor>;
let nextHour = 0;
const log = captureLog();

before(async () => {
  api = await startTestApi();
  geo = await addGeo(api.url, api.adminToken, 'tx');
  asGeo = clientFor(api.url, geo.token);
});

after(async () => {
  await api?.stop();
});

/** Opens a transaction for a fresh hour and returns it. */
async function openFresh(options: Record<string, unknown> = {}): Promise<{ id: number; cycle: string; delivery: number }> {
  const reply = await asGeo.post('/v1/geos/tx/transactions', { cycle: cycleAt(nextHour++), ...options });
  assert.equal(reply.status, 201, reply.text);
  return reply.body.transaction;
}

const event = (key: string | undefined, phase = 'extract') => ({ ...(key ? { key } : {}), at: '2026-01-01T00:05:00.250Z', phase, table: 'devices', rows: 3 });

describe('opening', () => {
  test('opening the same hour twice returns the same transaction: 201, then 200', async () => {
    const cycle = cycleAt(nextHour++);
    const first = await asGeo.post('/v1/geos/tx/transactions', { cycle, agentHost: 'agent-a' });
    const second = await asGeo.post('/v1/geos/tx/transactions', { cycle });
    assert.equal(first.status, 201);
    assert.equal(second.status, 200);
    assert.equal(first.body.created, true);
    assert.equal(second.body.created, false);
    assert.equal(second.body.transaction.id, first.body.transaction.id);
    assert.equal(first.body.transaction.state, 'open');
    assert.equal(first.body.transaction.cycle, cycle);
    assert.equal(first.body.transaction.geo, 'tx');
    assert.equal(first.body.transaction.agentHost, 'agent-a');
    assert.equal(first.body.transaction.delivery, 1);
  });

  test('ten concurrent opens of one hour yield one transaction, created once', async () => {
    for (let round = 0; round < 3; round++) {
      const cycle = cycleAt(nextHour++);
      const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => asGeo.post('/v1/geos/tx/transactions', { cycle, agentHost: `agent-${i}` })));
      assert.deepEqual(replies.map((reply) => reply.status).sort(), [200, 200, 200, 200, 200, 200, 200, 200, 200, 201], replies.map((r) => r.text).join('\n'));
      assert.equal(new Set(replies.map((reply) => reply.body.transaction.id)).size, 1);
      assert.equal(replies.filter((reply) => reply.body.created).length, 1);
    }
  });

  test('concurrent opens of different hours and GEOs each get their own transaction', async () => {
    const other = await addGeo(api.url, api.adminToken, 'tx2');
    const cycles = [cycleAt(nextHour++), cycleAt(nextHour++)];
    const calls = cycles.flatMap((cycle) =>
      [geo, other].flatMap((who) => Array.from({ length: 3 }, () => clientFor(api.url, who.token).post(`/v1/geos/${who.name}/transactions`, { cycle }))),
    );
    const replies = await Promise.all(calls);
    assert.ok(replies.every((reply) => reply.status === 200 || reply.status === 201), replies.map((r) => r.text).join('\n'));
    assert.equal(new Set(replies.map((reply) => reply.body.transaction.id)).size, 4);
    assert.equal(replies.filter((reply) => reply.status === 201).length, 4);
  });

  test('a GEO that does not exist is 404, for the admin too', async () => {
    const reply = await clientFor(api.url, api.adminToken).post('/v1/geos/nosuch/transactions', { cycle: cycleAt(0) });
    assert.equal(reply.status, 404);
    assert.match(reply.body.error, /no GEO named nosuch/);
  });
});

describe('closing', () => {
  test('close delivers the transaction; the same close again is 200 and changes nothing', async () => {
    const txn = await openFresh();
    const file = validFile('tx-a.tar.zst.gpg');
    const closed = await asGeo.post(`/v1/transactions/${txn.id}/close`, { file });
    assert.equal(closed.status, 200, closed.text);
    assert.equal(closed.body.transaction.state, 'delivered');
    assert.deepEqual(closed.body.transaction.file, file);
    assert.ok(closed.body.transaction.deliveredAt);
    const again = await asGeo.post(`/v1/transactions/${txn.id}/close`, { file });
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.body.transaction, closed.body.transaction);
    const shown = await asGeo.get(`/v1/transactions/${txn.id}`);
    assert.equal(shown.body.transaction.state, 'delivered');
  });

  test('closing again with a different file is 409, and the first file stays', async () => {
    const txn = await openFresh();
    const file = validFile('tx-b.tar.zst.gpg');
    assert.equal((await asGeo.post(`/v1/transactions/${txn.id}/close`, { file })).status, 200);
    for (const different of [{ ...file, sha256: 'cd'.repeat(32) }, { ...file, size: file.size + 1 }, { ...file, name: 'tx-other.tar.zst.gpg' }]) {
      const reply = await asGeo.post(`/v1/transactions/${txn.id}/close`, { file: different });
      assert.equal(reply.status, 409, reply.text);
      assert.match(reply.body.error, /delivered, not open/);
    }
    assert.deepEqual((await asGeo.get(`/v1/transactions/${txn.id}`)).body.transaction.file, file);
  });

  test('opening a delivered hour is 409 naming the state; with force it is 200 with the next delivery', async () => {
    const txn = await openFresh();
    await asGeo.post(`/v1/transactions/${txn.id}/close`, { file: validFile() });
    const refused = await asGeo.post('/v1/geos/tx/transactions', { cycle: txn.cycle });
    assert.equal(refused.status, 409);
    assert.match(refused.body.error, /already delivered/);
    assert.equal(refused.body.transaction.id, txn.id);
    assert.equal(refused.body.transaction.state, 'delivered');

    const forced = await asGeo.post('/v1/geos/tx/transactions', { cycle: txn.cycle, force: true });
    assert.equal(forced.status, 200, forced.text);
    assert.equal(forced.body.created, false);
    assert.equal(forced.body.transaction.id, txn.id);
    assert.equal(forced.body.transaction.state, 'open');
    assert.equal(forced.body.transaction.delivery, txn.delivery + 1);
    assert.equal(forced.body.transaction.file, null);
    // Forcing an open transaction is just opening it: no new delivery.
    const again = await asGeo.post('/v1/geos/tx/transactions', { cycle: txn.cycle, force: true });
    assert.equal(again.status, 200);
    assert.equal(again.body.transaction.delivery, txn.delivery + 1);
  });

  test('concurrent closes with different files: one wins, the others are 409', async () => {
    const txn = await openFresh();
    const files = Array.from({ length: 5 }, (_, i) => validFile(`race-${i}.tar.zst.gpg`));
    const replies = await Promise.all(files.map((file) => asGeo.post(`/v1/transactions/${txn.id}/close`, { file })));
    assert.deepEqual(replies.map((reply) => reply.status).sort(), [200, 409, 409, 409, 409], replies.map((r) => r.text).join('\n'));
    const winner = replies.find((reply) => reply.status === 200)!.body.transaction.file;
    assert.deepEqual((await asGeo.get(`/v1/transactions/${txn.id}`)).body.transaction.file, winner);
  });

  test('concurrent forced re-deliveries of one hour start one new delivery', async () => {
    const txn = await openFresh();
    await asGeo.post(`/v1/transactions/${txn.id}/close`, { file: validFile() });
    const replies = await Promise.all(Array.from({ length: 5 }, () => asGeo.post('/v1/geos/tx/transactions', { cycle: txn.cycle, force: true })));
    assert.ok(replies.every((reply) => reply.status === 200), replies.map((r) => r.text).join('\n'));
    assert.deepEqual(new Set(replies.map((reply) => reply.body.transaction.delivery)), new Set([txn.delivery + 1]));
  });

  test('unknown or malformed transaction ids: 404 and 400', async () => {
    const asAdmin = clientFor(api.url, api.adminToken);
    for (const reply of [
      await asAdmin.get('/v1/transactions/999999'),
      await asGeo.get('/v1/transactions/999999'),
      await asGeo.post('/v1/transactions/999999/events', { events: [event('x')] }),
      await asGeo.post('/v1/transactions/999999/close', { file: validFile() }),
      await asGeo.post('/v1/transactions/999999/fail', { reason: 'gone' }),
    ]) {
      assert.equal(reply.status, 404, reply.text);
      assert.match(reply.body.error, /no transaction 999999/);
    }
    for (const id of ['abc', '0', '-1', '1.5', '99999999999999999999']) {
      const reply = await asAdmin.get(`/v1/transactions/${id}`);
      assert.equal(reply.status, 400, `${id}: ${reply.text}`);
      assert.match(reply.body.error, /is not a transaction id/);
    }
  });
});

describe('failing', () => {
  test('an agent fail makes the transaction agent_failed; opening the hour again reopens it', async () => {
    const txn = await openFresh({ agentHost: 'agent-a' });
    const failed = await asGeo.post(`/v1/transactions/${txn.id}/fail`, { reason: 'the source database is down' });
    assert.equal(failed.status, 200, failed.text);
    assert.equal(failed.body.transaction.state, 'agent_failed');
    assert.equal(failed.body.transaction.error, 'the source database is down');
    assert.equal((await asGeo.post(`/v1/transactions/${txn.id}/fail`, { reason: 'again' })).status, 200, 'failing twice is no error');
    const closed = await asGeo.post(`/v1/transactions/${txn.id}/close`, { file: validFile() });
    assert.equal(closed.status, 409, 'a failed transaction must be opened again before it is closed');
    assert.match(closed.body.error, /agent_failed/);

    const reopened = await asGeo.post('/v1/geos/tx/transactions', { cycle: txn.cycle, agentHost: 'agent-b' });
    assert.equal(reopened.status, 200, reopened.text);
    assert.equal(reopened.body.transaction.id, txn.id);
    assert.equal(reopened.body.transaction.state, 'open');
    assert.equal(reopened.body.transaction.error, null);
    assert.equal(reopened.body.transaction.delivery, txn.delivery, 'nothing was delivered, so no new delivery');
    assert.equal(reopened.body.transaction.agentHost, 'agent-b');
    assert.equal((await asGeo.post(`/v1/transactions/${txn.id}/close`, { file: validFile() })).status, 200);
  });

  test('a delivered transaction cannot be failed by the agent', async () => {
    const txn = await openFresh();
    await asGeo.post(`/v1/transactions/${txn.id}/close`, { file: validFile() });
    const reply = await asGeo.post(`/v1/transactions/${txn.id}/fail`, { reason: 'too late' });
    assert.equal(reply.status, 409);
    assert.match(reply.body.error, /delivered/);
    assert.equal((await asGeo.get(`/v1/transactions/${txn.id}`)).body.transaction.state, 'delivered');
  });
});

describe('events', () => {
  test('a batch posted twice with the same keys is stored once', async () => {
    const txn = await openFresh();
    const batch = { events: [event('e-1'), event('e-2', 'pack'), event('e-3', 'seal')] };
    assert.deepEqual((await asGeo.post(`/v1/transactions/${txn.id}/events`, batch)).body, { received: 3, stored: 3 });
    assert.deepEqual((await asGeo.post(`/v1/transactions/${txn.id}/events`, batch)).body, { received: 3, stored: 0 });
    const mixed = { events: [event('e-1'), event('e-4'), event(undefined)] };
    assert.deepEqual((await asGeo.post(`/v1/transactions/${txn.id}/events`, mixed)).body, { received: 3, stored: 2 });
  });

  test('events without keys are stored every time', async () => {
    const txn = await openFresh();
    const batch = { events: [event(undefined), event(undefined)] };
    for (let i = 0; i < 3; i++) assert.deepEqual((await asGeo.post(`/v1/transactions/${txn.id}/events`, batch)).body, { received: 2, stored: 2 });
  });

  test('keys belong to one transaction: the same key on another transaction is new', async () => {
    const [first, second] = [await openFresh(), await openFresh()];
    const batch = { events: [event('shared')] };
    assert.equal((await asGeo.post(`/v1/transactions/${first.id}/events`, batch)).body.stored, 1);
    assert.equal((await asGeo.post(`/v1/transactions/${second.id}/events`, batch)).body.stored, 1);
  });

  test('the same batch posted concurrently is stored once', async () => {
    const txn = await openFresh();
    const batch = { events: Array.from({ length: 20 }, (_, i) => event(`c-${i}`)) };
    const replies = await Promise.all(Array.from({ length: 5 }, () => asGeo.post(`/v1/transactions/${txn.id}/events`, batch)));
    assert.ok(replies.every((reply) => reply.status === 200), replies.map((r) => r.text).join('\n'));
    assert.equal(replies.reduce((sum, reply) => sum + reply.body.stored, 0), 20);
  });
});

test('an hour more than a few minutes in the future is refused: the agent\'s clock is wrong', async () => {
  const future = new Date(Date.now() + 3 * 3_600_000).toISOString().slice(0, 13);
  const reply = await asGeo.post(`/v1/geos/${geo.name}/transactions`, { cycle: future });
  assert.equal(reply.status, 400);
  assert.equal(reply.body.field, 'cycle');
  assert.match(reply.body.error, /is in the future; check the clock/);
});

test('no request in this file made the server fail', () => {
  assert.deepEqual(
    seenStatuses.filter((status) => status >= 500),
    [],
  );
  assert.deepEqual(
    log.filter((line) => / ERROR /.test(line)),
    [],
  );
});
