// Hundreds of malformed, mistyped and oversized bodies, generated from a seed, across every POST and
// PATCH endpoint: each gets a 4xx whose JSON names the problem, none gets a 5xx, and afterwards the
// server still answers and valid requests still work.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from '../../src/openpgp/keys.js';
import { startTestApi, type TestApi } from '../support/ganymede.js';
import { casesFor, endpoints, eventsOverLimit, invalidUtf8Cases, type BodyCase, type Endpoint } from './malformed-bodies.js';
import { addGeo, captureLog, clientFor, geoPublicKey, seenStatuses, send, type Reply, type TestGeo } from './support.js';

const limits = { maxBodyBytes: 100_000, maxEvents: 20 };
let api: TestApi;
let geo: TestGeo;
let txnId: number;
let all: Endpoint[];
/** The same endpoints over a second transaction, for cases that may (wrongly) succeed and change it. */
let spare: Endpoint[];
let sent = 0;
const log = captureLog();

before(async () => {
  api = await startTestApi({ 'api.max_body_bytes': limits.maxBodyBytes, 'api.max_events_per_request': limits.maxEvents });
  geo = await addGeo(api.url, api.adminToken, 'fuzz');
  txnId = (await clientFor(api.url, geo.token).post('/v1/geos/fuzz/transactions', { cycle: '2026-03-01T05' })).body.transaction.id;
  const [publicKey, other] = await Promise.all([geoPublicKey(), generateKeyPair({ name: 'a private key sent by mistake' })]);
  all = endpoints({ geo: geo.name, txnId, publicKey, privateKey: other.privateKeyArmored, ...limits });
  const spareTxnId = (await clientFor(api.url, geo.token).post('/v1/geos/fuzz/transactions', { cycle: '2026-03-01T06' })).body.transaction.id;
  spare = endpoints({ geo: geo.name, txnId: spareTxnId, publicKey, privateKey: other.privateKeyArmored, ...limits });
});

after(async () => {
  await api?.stop();
});

/** What is wrong with the reply to a case, or undefined when it is what a user should get. */
function problemWith(bodyCase: BodyCase, reply: Reply): string | undefined {
  const said = `${reply.status} ${reply.text.slice(0, 300)}`;
  if (reply.status !== bodyCase.status) return `expected ${bodyCase.status}, got ${said}`;
  if (!/^application\/json/.test(reply.headers['content-type'] ?? '')) return `not JSON: ${said}`;
  if (typeof reply.body?.error !== 'string' || reply.body.error === '') return `no error message: ${said}`;
  if (bodyCase.field !== undefined) {
    if (reply.body.field !== bodyCase.field) return `expected field ${bodyCase.field}: ${said}`;
    if (!reply.body.error.includes(bodyCase.field)) return `the message does not name ${bodyCase.field}: ${said}`;
  }
  if (bodyCase.pattern && !bodyCase.pattern.test(reply.body.error)) return `the message does not match ${bodyCase.pattern}: ${said}`;
  return undefined;
}

/** Sends every case and fails once with the list of every case that went wrong. */
async function expectRefused(cases: BodyCase[]): Promise<void> {
  const wrong: string[] = [];
  for (const bodyCase of cases) {
    const token = bodyCase.token === 'admin' ? api.adminToken : geo.token;
    const options = { token, raw: bodyCase.payload, contentType: bodyCase.contentType, chunked: bodyCase.chunked };
    const reply = await send(api.url, bodyCase.method, bodyCase.path, options).catch((error: Error) => ({ status: 0, text: error.message }) as Reply);
    sent++;
    const problem = problemWith(bodyCase, reply);
    if (problem) wrong.push(`${bodyCase.method} ${bodyCase.path} — ${bodyCase.label}: ${problem}`);
  }
  assert.deepEqual(wrong, [], `${wrong.length} of ${cases.length} cases went wrong`);
}

describe('malformed bodies', () => {
  test('every POST and PATCH endpoint with a body is covered', () => {
    const covered = all.map((endpoint) => `${endpoint.method} ${endpoint.path.replace(/\/(fuzz|\d+)(?=\/|$)/, '/:x')}`).sort();
    assert.deepEqual(covered, [
      'PATCH /v1/geos/:x',
      'POST /v1/geos',
      'POST /v1/geos/:x/rotate-key',
      'POST /v1/geos/:x/transactions',
      'POST /v1/transactions/:x/close',
      'POST /v1/transactions/:x/events',
      'POST /v1/transactions/:x/fail',
    ]);
  });

  test('the generated cases are the same on every run', () => {
    const [first, second] = [casesFor(all[0]!, limits, 7), casesFor(all[0]!, limits, 7)];
    assert.deepEqual(
      first.map((c) => [c.label, c.payload?.toString('base64')]),
      second.map((c) => [c.label, c.payload?.toString('base64')]),
    );
  });

  // One test per endpoint, so a failure says where; the seed differs per endpoint, fixed per run.
  for (const [index, name] of ['geos', 'patch', 'rotate-key', 'open', 'events', 'close', 'fail'].entries()) {
    test(`${name}: each malformed body gets a 4xx whose JSON names the problem`, async () => {
      const cases = casesFor(all[index]!, limits, 1000 + index);
      assert.ok(cases.length >= 30, `only ${cases.length} cases`);
      await expectRefused(cases);
    });
  }

  test(`a batch of more than max_events_per_request events is 400, naming events`, async () => {
    await expectRefused(eventsOverLimit(all[4]!, limits.maxEvents));
  });

  test('a Content-Length beyond the limit is refused at once, before the body is sent', async () => {
    const reply = await new Promise<Reply>((resolve, reject) => {
      const outgoing = request(new URL(`/v1/transactions/${txnId}/fail`, api.url), {
        method: 'POST',
        agent: false,
        headers: { authorization: `Bearer ${geo.token}`, 'content-type': 'application/json', 'content-length': String(1e12) },
      });
      outgoing.on('response', (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, text, body: JSON.parse(text) }));
      });
      outgoing.on('error', reject);
      outgoing.write('{"reason":');
    });
    seenStatuses.push(reply.status);
    assert.equal(reply.status, 413);
    assert.match(reply.body.error, /the body is 1000000000000 bytes; the limit is 100000/);
  });

  test('free text that is not UTF-8 is refused, not stored with U+FFFD in it', async () => {
    await expectRefused([
      ...invalidUtf8Cases(spare[3]!, ['agentHost']),
      ...invalidUtf8Cases(spare[4]!, ['events.0.message', 'events.1.table']),
      ...invalidUtf8Cases(spare[6]!, ['reason']),
    ]);
  });

  test('values at the edges of what the schemas accept are stored or refused with a 400, never a 5xx', async () => {
    const asGeo = clientFor(api.url, geo.token);
    const edges: Reply[] = [];
    for (const at of ['0001-01-01T00:00:00Z', '1000-01-01T00:00:00+14:00', '9999-12-31T23:59:59.999999999-12:00', '2026-01-01T00:00:00.123456789Z']) {
      edges.push(await asGeo.post(`/v1/transactions/${txnId}/events`, { events: [{ at, phase: 'edge' }] }));
    }
    for (const cycle of ['0001-01-01T00', '1000-01-01T00', '1969-12-31T23', '9999-12-31T23', '2028-02-29T12']) {
      edges.push(await asGeo.post('/v1/geos/fuzz/transactions', { cycle }));
    }
    const event = { at: '2026-01-01T00:00:00Z', phase: 'edge', rows: Number.MAX_SAFE_INTEGER, bytes: 0, table: 't'.repeat(64), message: '\u{1F600}'.repeat(1000) };
    edges.push(await asGeo.post(`/v1/transactions/${txnId}/events`, { events: [event] }));
    for (const reply of edges) {
      assert.ok([200, 201, 400].includes(reply.status), `${reply.status} ${reply.text}`);
      assert.ok(reply.status !== 400 || typeof reply.body.field === 'string', `a 400 must name the field: ${reply.text}`);
    }
    assert.equal(edges.at(-1)!.status, 200, `the largest allowed values are accepted: ${edges.at(-1)!.text}`);
  });

  test(`at least 200 malformed bodies were sent`, () => {
    assert.ok(sent >= 200, `only ${sent}`);
  });
});

describe('after all of that', () => {
  test('the server still answers /v1/health', async () => {
    const reply = await send(api.url, 'GET', '/v1/health');
    assert.equal(reply.status, 200);
  });

  test('valid requests to every endpoint still work, and nothing malformed was stored', async () => {
    const asAdmin = clientFor(api.url, api.adminToken);
    const asGeo = clientFor(api.url, geo.token);
    const [addGeoEndpoint, patch, rotateKey, open, events, close] = all as [Endpoint, Endpoint, Endpoint, Endpoint, Endpoint, Endpoint];
    // The same keys as every malformed batch: had any been stored, these would be replays.
    assert.deepEqual((await asGeo.post(events.path, events.valid)).body, { received: 2, stored: 2 });
    assert.equal((await asGeo.post(open.path, open.valid)).status, 200, 'the hour opened before is the same transaction');
    assert.equal((await asAdmin.post(rotateKey.path, rotateKey.valid)).status, 200);
    assert.equal((await asAdmin.patch(patch.path, patch.valid)).status, 200);
    const added = await asAdmin.post(addGeoEndpoint.path, addGeoEndpoint.valid);
    assert.equal(added.status, 201, added.text);
    assert.deepEqual(
      (await asAdmin.get('/v1/geos')).body.geos.map((g: { name: string }) => g.name),
      ['fuzz', 'newgeo'],
    );
    const shown = (await asGeo.get(`/v1/transactions/${txnId}`)).body.transaction;
    assert.equal(shown.state, 'open', 'no malformed close or fail changed the transaction');
    const closed = await asGeo.post(close.path, close.valid);
    assert.equal(closed.status, 200, closed.text);
    assert.equal(closed.body.transaction.state, 'delivered');
    assert.deepEqual(closed.body.transaction.file, (close.valid as { file: unknown }).file);
  });

  test('no request ever got a 5xx, and the API logged no error', () => {
    assert.deepEqual(
      seenStatuses.filter((status) => status >= 500),
      [],
    );
    assert.deepEqual(
      log.filter((line) => / ERROR /.test(line)),
      [],
    );
  });
});
