// Who may do what: no token is 401 everywhere but /v1/health, a wrong token is 401, and a GEO's token
// reaches its own GEO only (403 for another GEO's anything and for every admin endpoint).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApi, type TestApi } from '../support/ganymede.js';
import { addGeo, captureLog, clientFor, cycleAt, geoPublicKey, seenStatuses, send, validFile, type Reply, type TestGeo } from './support.js';

let api: TestApi;
let north: TestGeo;
let south: TestGeo;
/** Transactions of south's, one per endpoint that changes it, so a refused call cannot hide behind an earlier one. */
const southTxn: Record<'shown' | 'events' | 'close' | 'fail', number> = { shown: 0, events: 0, close: 0, fail: 0 };
let northTxn: number;
const log = captureLog();

before(async () => {
  api = await startTestApi({ 'api.auth_failure_limit': 0 });
  [north, south] = await Promise.all([addGeo(api.url, api.adminToken, 'north'), addGeo(api.url, api.adminToken, 'south')]);
  const asSouth = clientFor(api.url, south.token);
  let hour = 0;
  for (const key of Object.keys(southTxn) as (keyof typeof southTxn)[]) {
    southTxn[key] = (await asSouth.post('/v1/geos/south/transactions', { cycle: cycleAt(hour++) })).body.transaction.id;
  }
  northTxn = (await clientFor(api.url, north.token).post('/v1/geos/north/transactions', { cycle: cycleAt(0) })).body.transaction.id;
});

after(async () => {
  await api?.stop();
});

function assertRefused(reply: Reply, status: 401 | 403, pattern: RegExp): void {
  assert.equal(reply.status, status, reply.text);
  assert.match(reply.headers['content-type'] ?? '', /^application\/json/);
  assert.equal(typeof reply.body?.error, 'string', reply.text);
  assert.match(reply.body.error, pattern);
}

/** Every endpoint but /v1/health, with a body that would be accepted, so only the token decides. */
async function authenticatedCalls(): Promise<[string, string, unknown][]> {
  const publicKey = await geoPublicKey();
  return [
    ['GET', '/v1/geos', undefined],
    ['POST', '/v1/geos', { name: 'east', publicKey }],
    ['GET', '/v1/geos/north', undefined],
    ['PATCH', '/v1/geos/north', { enabled: false }],
    ['POST', '/v1/geos/north/rotate-token', undefined],
    ['POST', '/v1/geos/north/rotate-key', { publicKey }],
    ['POST', '/v1/geos/north/transactions', { cycle: cycleAt(100) }],
    ['GET', `/v1/transactions/${northTxn}`, undefined],
    ['POST', `/v1/transactions/${northTxn}/events`, { events: [{ at: new Date().toISOString(), phase: 'extract' }] }],
    ['POST', `/v1/transactions/${northTxn}/close`, { file: validFile() }],
    ['POST', `/v1/transactions/${northTxn}/fail`, { reason: 'disk full' }],
    ['POST', `/v1/transactions/${northTxn}/upload`, { file: validFile() }],
    ['POST', `/v1/transactions/${northTxn}/upload/complete`, { file: validFile() }],
    ['GET', '/v1/transactions', undefined],
    ['GET', '/v1/cycles', undefined],
    ['GET', `/v1/cycles/${cycleAt(0)}`, undefined],
    ['GET', '/v1/status', undefined],
    ['GET', '/v1/hosts', undefined],
  ];
}

describe('authentication', () => {
  test('/v1/health needs no token', async () => {
    const reply = await send(api.url, 'GET', '/v1/health');
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { status: 'ok' });
  });

  test('every other endpoint answers 401 without a token, and says how to send one', async () => {
    for (const [method, path, json] of await authenticatedCalls()) {
      assertRefused(await send(api.url, method, path, { json }), 401, /Authorization: Bearer/);
    }
  });

  test('a wrong token is 401 on every endpoint, admin or GEO-shaped', async () => {
    const wrongTokens = [`${api.adminToken}x`, api.adminToken.slice(0, -1), `${north.token}x`, 'gmd_north_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'];
    for (const [method, path, json] of await authenticatedCalls()) {
      for (const token of wrongTokens) assertRefused(await send(api.url, method, path, { json, token }), 401, /not valid/);
    }
  });

  test('an Authorization header that is not a bearer token is 401', async () => {
    const headers = [`Basic ${Buffer.from(`north:${north.token}`).toString('base64')}`, 'Bearer', 'Bearer ', north.token, `Token ${north.token}`, `Bearer ${north.token} extra`];
    for (const authorization of headers) {
      assertRefused(await send(api.url, 'GET', '/v1/geos/north', { headers: { authorization } }), 401, /./);
    }
  });

  test('the bearer scheme is case-insensitive, as HTTP says', async () => {
    const reply = await send(api.url, 'GET', '/v1/geos/north', { headers: { authorization: `bearer ${north.token}` } });
    assert.equal(reply.status, 200, reply.text);
  });
});

describe("a GEO's token reaches its own GEO only", () => {
  test('it cannot open a transaction for another GEO', async () => {
    const asNorth = clientFor(api.url, north.token);
    assertRefused(await asNorth.post('/v1/geos/south/transactions', { cycle: cycleAt(50) }), 403, /cannot act for GEO south/);
    const listed = await clientFor(api.url, api.adminToken).get(`/v1/transactions?geo=south&from=${cycleAt(50)}&to=${cycleAt(50)}`);
    assert.deepEqual(listed.body.transactions, []);
  });

  test("it cannot show, add events to, close or fail another GEO's transaction, and nothing changes", async () => {
    const asNorth = clientFor(api.url, north.token);
    const event = { key: 'n-1', at: new Date().toISOString(), phase: 'extract' };
    assertRefused(await asNorth.get(`/v1/transactions/${southTxn.shown}`), 403, /cannot act for GEO south/);
    assertRefused(await asNorth.post(`/v1/transactions/${southTxn.events}/events`, { events: [event] }), 403, /GEO south/);
    assertRefused(await asNorth.post(`/v1/transactions/${southTxn.close}/close`, { file: validFile() }), 403, /GEO south/);
    assertRefused(await asNorth.post(`/v1/transactions/${southTxn.fail}/fail`, { reason: 'not mine' }), 403, /GEO south/);

    const asSouth = clientFor(api.url, south.token);
    for (const id of Object.values(southTxn)) {
      const shown = await asSouth.get(`/v1/transactions/${id}`);
      assert.equal(shown.status, 200);
      assert.equal(shown.body.transaction.state, 'open', `transaction ${id} must still be open`);
      assert.equal(shown.body.transaction.file, null);
    }
    // The same event from its owner is new: north's attempt stored nothing.
    const replay = await asSouth.post(`/v1/transactions/${southTxn.events}/events`, { events: [event] });
    assert.deepEqual(replay.body, { received: 1, stored: 1 });
  });

  test('it cannot list another GEO, and a plain list shows its own transactions only', async () => {
    const asNorth = clientFor(api.url, north.token);
    assertRefused(await asNorth.get('/v1/transactions?geo=south'), 403, /cannot act for GEO south/);
    const own = await asNorth.get('/v1/transactions?geo=north');
    assert.equal(own.status, 200);
    const plain = await asNorth.get('/v1/transactions');
    assert.equal(plain.status, 200);
    assert.deepEqual(
      plain.body.transactions.map((txn: { id: number }) => txn.id),
      [northTxn],
    );
    assert.deepEqual(own.body, plain.body);
  });

  test('it cannot see another GEO, but can see its own', async () => {
    const asNorth = clientFor(api.url, north.token);
    assertRefused(await asNorth.get('/v1/geos/south'), 403, /GEO south/);
    const own = await asNorth.get('/v1/geos/north');
    assert.equal(own.status, 200);
    assert.equal(own.body.geo.name, 'north');
    assert.equal(own.body.geo.publicKey, undefined, 'the API never echoes keys');
  });

  test('every admin endpoint is 403 with a GEO token, even about its own GEO', async () => {
    const publicKey = await geoPublicKey();
    const adminOnly: [string, string, unknown][] = [
      ['GET', '/v1/geos', undefined],
      ['POST', '/v1/geos', { name: 'west', publicKey }],
      ['PATCH', '/v1/geos/north', { enabled: false }],
      ['PATCH', '/v1/geos/south', { enabled: false }],
      ['POST', '/v1/geos/north/rotate-token', undefined],
      ['POST', '/v1/geos/south/rotate-token', undefined],
      ['POST', '/v1/geos/north/rotate-key', { publicKey }],
      ['GET', '/v1/cycles', undefined],
      ['GET', `/v1/cycles/${cycleAt(0)}`, undefined],
      ['GET', '/v1/status', undefined],
      ['GET', '/v1/hosts', undefined],
    ];
    for (const [method, path, json] of adminOnly) {
      assertRefused(await send(api.url, method, path, { json, token: north.token }), 403, /needs the admin token/);
    }
    // None of them happened: both tokens still work and there is no GEO west.
    assert.equal((await clientFor(api.url, north.token).get('/v1/geos/north')).status, 200);
    assert.equal((await clientFor(api.url, south.token).get('/v1/geos/south')).status, 200);
    assert.equal((await clientFor(api.url, api.adminToken).get('/v1/geos/west')).status, 404);
  });

  test('the admin token reaches every GEO', async () => {
    const asAdmin = clientFor(api.url, api.adminToken);
    assert.equal((await asAdmin.get(`/v1/transactions/${southTxn.shown}`)).status, 200);
    assert.equal((await asAdmin.get('/v1/transactions?geo=south')).body.transactions.length, 4);
    assert.equal((await asAdmin.get('/v1/status')).status, 200);
  });

  test('no request in this file made the server fail', () => {
    assert.deepEqual(
      seenStatuses.filter((status) => status >= 500),
      [],
    );
    assert.deepEqual(
      log.filter((line) => /ERROR/.test(line)),
      [],
    );
  });
});
