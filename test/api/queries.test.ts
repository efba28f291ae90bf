// Reading: GET /v1/transactions with its filters, cycles and status for the admin, and what the API
// says to a wrong path or a wrong method.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApi, type TestApi } from '../support/ganymede.js';
import { addGeo, captureLog, clientFor, cycleAt, seenStatuses, send, validFile, type TestGeo } from './support.js';

let api: TestApi;
let asAdmin: ReturnType<typeof clientFor>;
let aa: TestGeo;
/** "geo@hour" → transaction id. */
const ids: Record<string, number> = {};
const log = captureLog();

before(async () => {
  api = await startTestApi();
  asAdmin = clientFor(api.url, api.adminToken);
  aa = await addGeo(api.url, api.adminToken, 'aa');
  const bb = await addGeo(api.url, api.adminToken, 'bb');
  // aa: hour 0 open, hour 1 delivered, hour 2 agent_failed; bb: hour 1 open, hour 3 delivered.
  const plan: [TestGeo, number, 'open' | 'close' | 'fail'][] = [[aa, 0, 'open'], [aa, 1, 'close'], [aa, 2, 'fail'], [bb, 1, 'open'], [bb, 3, 'close']];
  for (const [geo, hour, then] of plan) {
    const asGeo = clientFor(api.url, geo.token);
    const id = (await asGeo.post(`/v1/geos/${geo.name}/transactions`, { cycle: cycleAt(hour) })).body.transaction.id;
    ids[`${geo.name}@${hour}`] = id;
    if (then === 'close') await asGeo.post(`/v1/transactions/${id}/close`, { file: validFile() });
    if (then === 'fail') await asGeo.post(`/v1/transactions/${id}/fail`, { reason: 'source down' });
  }
});

after(async () => {
  await api?.stop();
});

async function listed(query: string, client = asAdmin): Promise<string[]> {
  const reply = await client.get(`/v1/transactions${query}`);
  assert.equal(reply.status, 200, reply.text);
  const labels = Object.fromEntries(Object.entries(ids).map(([label, id]) => [id, label]));
  return reply.body.transactions.map((txn: { id: number }) => labels[txn.id]);
}

describe('GET /v1/transactions', () => {
  test('lists every transaction, latest hour first, then by GEO', async () => {
    assert.deepEqual(await listed(''), ['bb@3', 'aa@2', 'aa@1', 'bb@1', 'aa@0']);
  });

  test('filters by geo, state, from and to, and limits', async () => {
    assert.deepEqual(await listed('?geo=aa'), ['aa@2', 'aa@1', 'aa@0']);
    assert.deepEqual(await listed('?state=delivered'), ['bb@3', 'aa@1']);
    assert.deepEqual(await listed('?state=agent_failed'), ['aa@2']);
    assert.deepEqual(await listed(`?from=${cycleAt(1)}&to=${cycleAt(2)}`), ['aa@2', 'aa@1', 'bb@1']);
    assert.deepEqual(await listed(`?from=${cycleAt(3)}`), ['bb@3']);
    assert.deepEqual(await listed(`?to=${cycleAt(0)}`), ['aa@0']);
    assert.deepEqual(await listed('?limit=2'), ['bb@3', 'aa@2']);
    assert.deepEqual(await listed(`?geo=aa&state=open&from=${cycleAt(0)}&to=${cycleAt(3)}&limit=10`), ['aa@0']);
  });

  test('filters that match nothing give an empty list, not an error', async () => {
    assert.deepEqual(await listed(`?from=${cycleAt(3)}&to=${cycleAt(0)}`), []);
    assert.deepEqual(await listed('?geo=nosuch'), []);
    assert.deepEqual(await listed('?state=done'), []);
  });

  test("a GEO's filters apply within its own transactions", async () => {
    const asAa = clientFor(api.url, aa.token);
    assert.deepEqual(await listed('?state=delivered', asAa), ['aa@1']);
    assert.deepEqual(await listed(`?from=${cycleAt(1)}`, asAa), ['aa@2', 'aa@1']);
    assert.equal((await asAa.get('/v1/transactions?geo=aa&geo=bb')).status, 403, 'a repeated parameter cannot sneak past');
  });

  test('a bad filter is 400 naming it', async () => {
    const bad: [string, string][] = [
      ['state=bogus', 'state'],
      ['state=', 'state'],
      ['geo=UPPER', 'geo'],
      ['from=2026-01-01', 'from'],
      ['from=2026-02-30T00', 'from'],
      ['to=yesterday', 'to'],
      ['to=2026-01-01T24', 'to'],
      ['limit=0', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=10001', 'limit'],
      ['limit=-1', 'limit'],
      ['status=open', 'status'],
      ['geos=aa', 'geos'],
    ];
    for (const [query, field] of bad) {
      const reply = await asAdmin.get(`/v1/transactions?${query}`);
      assert.equal(reply.status, 400, `${query}: ${reply.text}`);
      assert.equal(reply.body.field, field, `${query}: ${reply.text}`);
      assert.match(reply.body.error, new RegExp(field));
    }
  });
});

describe('cycles and status (admin)', () => {
  test('GET /v1/cycles counts the transactions of each hour by state', async () => {
    const reply = await asAdmin.get('/v1/cycles');
    assert.equal(reply.status, 200);
    const byCycle = Object.fromEntries(reply.body.cycles.map((cycle: { cycle: string; transactions: unknown }) => [cycle.cycle, cycle.transactions]));
    assert.deepEqual(Object.keys(byCycle), [cycleAt(3), cycleAt(2), cycleAt(1), cycleAt(0)]);
    assert.deepEqual(byCycle[cycleAt(1)], { delivered: 1, open: 1 });
    assert.deepEqual(byCycle[cycleAt(2)], { agent_failed: 1 });
  });

  test('GET /v1/cycles/:cycle shows one hour; an hour nobody opened is 404; a bad one is 400', async () => {
    const one = await asAdmin.get(`/v1/cycles/${cycleAt(1)}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.cycle.cycle, cycleAt(1));
    assert.equal(one.body.cycle.state, 'collecting');
    const missing = await asAdmin.get(`/v1/cycles/${cycleAt(500)}`);
    assert.equal(missing.status, 404);
    assert.match(missing.body.error, new RegExp(`no cycle ${cycleAt(500)}`));
    for (const bad of ['2026-01-01', '2026-02-30T00', 'yesterday']) {
      const reply = await asAdmin.get(`/v1/cycles/${bad}`);
      assert.equal(reply.status, 400, reply.text);
      assert.equal(reply.body.field, 'cycle');
    }
  });

  test('GET /v1/status shows each GEO with its latest transaction', async () => {
    const reply = await asAdmin.get('/v1/status');
    assert.equal(reply.status, 200);
    const latest = Object.fromEntries(reply.body.geos.map((geo: { name: string; latestTransaction: { id: number } }) => [geo.name, geo.latestTransaction.id]));
    assert.deepEqual(latest, { aa: ids['aa@2'], bb: ids['bb@3'] });
  });
});

// Runs after the tests above, which count every transaction: it adds GEOs and many hours of its own.
describe('status of a GEO that went quiet', () => {
  test('GET /v1/status still shows its latest transaction when others have delivered many hours since', async () => {
    const quiet = await addGeo(api.url, api.adminToken, 'quiet');
    const busy = await addGeo(api.url, api.adminToken, 'busy');
    const last = (await clientFor(api.url, quiet.token).post('/v1/geos/quiet/transactions', { cycle: cycleAt(1000) })).body.transaction;
    const asBusy = clientFor(api.url, busy.token);
    for (let hour = 1001; hour <= 1060; hour++) assert.equal((await asBusy.post('/v1/geos/busy/transactions', { cycle: cycleAt(hour) })).status, 201);
    const reply = await asAdmin.get('/v1/status');
    const shown = reply.body.geos.find((geo: { name: string }) => geo.name === 'quiet');
    assert.equal(shown.latestTransaction?.id, last.id, 'the GEO an operator most needs to see shows no transaction at all');
  });
});

describe('paths and methods', () => {
  test('an unknown path is 404 with a JSON error naming it', async () => {
    for (const path of ['/v1/nope', '/v2/health', '/', '/v1/geos/aa/nope', '/v1/transactions/1/close/again', '/v1/geos/']) {
      const reply = await send(api.url, 'GET', path, { token: api.adminToken });
      assert.equal(reply.status, 404, `${path}: ${reply.text}`);
      assert.match(reply.body.error, /no such endpoint/);
    }
  });

  test('a wrong method on a known path is 405 with a JSON error', async () => {
    const wrong: [string, string][] = [
      ['DELETE', '/v1/geos/aa'],
      ['PUT', '/v1/geos'],
      ['POST', '/v1/health'],
      ['GET', '/v1/geos/aa/rotate-token'],
      ['GET', `/v1/transactions/${ids['aa@0']}/close`],
      ['PATCH', '/v1/transactions'],
      ['DELETE', `/v1/transactions/${ids['aa@0']}`],
      ['POST', '/v1/status'],
    ];
    for (const [method, path] of wrong) {
      const reply = await send(api.url, method, path, { token: api.adminToken });
      assert.equal(reply.status, 405, `${method} ${path}: ${reply.text}`);
      assert.match(reply.body.error, new RegExp(`${method} is not allowed`));
    }
    assert.equal((await asAdmin.get(`/v1/transactions/${ids['aa@0']}`)).body.transaction.state, 'open');
  });

  test('a 405 says which methods are allowed (Allow header, RFC 9110)', async () => {
    const reply = await send(api.url, 'DELETE', '/v1/geos/aa', { token: api.adminToken });
    assert.equal(reply.status, 405);
    assert.deepEqual(reply.headers.allow?.split(/,\s*/).sort(), ['GET', 'PATCH']);
  });

  test('a path with broken percent-encoding is a 4xx, not a 500', async () => {
    const paths = ['/v1/geos/%E0%A4%A', '/v1/geos/%', '/v1/transactions/%zz', '/v1/geos/%C0%AF/rotate-token'];
    const replies = await Promise.all(paths.map((path) => send(api.url, 'GET', path, { token: api.adminToken })));
    assert.deepEqual(
      replies.map((reply, index) => `${paths[index]} ${reply.status < 500 && reply.status >= 400 ? '4xx' : reply.text}`),
      paths.map((path) => `${path} 4xx`),
    );
  });
});

test('no request in this file made the server fail', () => {
  assert.equal(seenStatuses.filter((status) => status >= 500).length, 0);
  assert.equal(log.filter((line) => / ERROR /.test(line)).length, 0);
});
