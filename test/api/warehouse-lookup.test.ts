// GET /v1/warehouse/{collection}/{id}: the admin reads a warehouse document and, with ?history=1, its
// change-log entries, exactly as `ganymede lookup --json` gives them; a GEO's token is refused, a missing
// document is a 404, a reserved collection name or an id without a GEO a 400 before MongoDB is asked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApi, type TestApi } from '../support/ganymede.js';
import { addGeo, clientFor } from './support.js';
import { openRig, type Rig } from '../warehouse/fixture.js';
import { historySchemas, loadHistory } from '../warehouse/lookup-fixture.js';
import { lookupDocument, parseLookupTarget } from '../../src/warehouse/lookup.js';

let rig: Rig;
let api: TestApi;
let database: string;
let asAdmin: ReturnType<typeof clientFor>;

before(async () => {
  rig = await openRig();
  const db = rig.freshDb('lookupapi');
  database = db.databaseName;
  await loadHistory(db, await historySchemas(rig));
  api = await startTestApi({ 'mongodb.url': rig.mongo.uri, 'mongodb.database': database });
  asAdmin = clientFor(api.url, api.adminToken);
});
after(async () => {
  await api?.stop();
  await rig?.close();
});

/** What `ganymede lookup --json` prints for the same document: the result of the same read, as JSON. */
async function cliResult(collection: string, id: string, history: boolean): Promise<any> {
  const result = await lookupDocument({ db: rig.client.db(database), target: parseLookupTarget(collection, id), history });
  return JSON.parse(JSON.stringify(result));
}

describe('GET /v1/warehouse/{collection}/{id}', () => {
  test('the admin gets the current document, and with history=1 (or true) its changes too', async () => {
    const plain = await asAdmin.get('/v1/warehouse/items/g1:1');
    assert.equal(plain.status, 200, plain.text);
    assert.deepEqual(plain.body, await cliResult('items', 'g1:1', false));
    assert.deepEqual(plain.body.document.price, { $numberDecimal: '1.75' });
    assert.equal('history' in plain.body, false, 'no history unless asked');

    const withHistory = await asAdmin.get('/v1/warehouse/items/g1%3A1?history=1');
    assert.equal(withHistory.status, 200, withHistory.text);
    assert.deepEqual(withHistory.body, await cliResult('items', 'g1:1', true));
    const updated = withHistory.body.history.find((entry: { op: string }) => entry.op === 'updated');
    assert.deepEqual(updated.values.price, { old: { $numberDecimal: '1.50' }, new: { $numberDecimal: '1.75' } });
    assert.equal(updated.values.notes.new._ganymede_truncated.bytes, 3006);
    assert.deepEqual((await asAdmin.get('/v1/warehouse/items/g1:1?history=true')).body, withHistory.body);
    assert.deepEqual((await asAdmin.get('/v1/warehouse/items/1?geo=g1&history=1')).body, withHistory.body, 'geo with the key alone');
    const limited = await asAdmin.get('/v1/warehouse/items/g1:1?history=1&limit=1');
    assert.deepEqual([limited.body.history.length, limited.body.historyComplete], [1, false]);
  });

  test('not there: 404 with a JSON error; a removed document with history=1: its history', async () => {
    const missing = await asAdmin.get('/v1/warehouse/items/g1:4');
    assert.equal(missing.status, 404);
    assert.match(missing.body.error, /no document g1:4 in collection items/);
    assert.equal((await asAdmin.get('/v1/warehouse/items/g1:3')).status, 404);
    const removed = await asAdmin.get('/v1/warehouse/items/g1:3?history=1');
    assert.equal(removed.status, 200, removed.text);
    assert.equal(removed.body.document, null);
    assert.deepEqual(removed.body.history.map((entry: { op: string }) => entry.op), ['created', 'removed']);
    // An id that looks like an operator is only ever a string compared for equality.
    assert.equal((await asAdmin.get(`/v1/warehouse/items/g1:${encodeURIComponent('{"$ne":null}')}`)).status, 404);
  });

  test('only the admin: no token 401, a GEO token 403', async () => {
    assert.equal((await clientFor(api.url).get('/v1/warehouse/items/g1:1')).status, 401);
    const geo = await addGeo(api.url, api.adminToken, 'g1');
    const asGeo = await clientFor(api.url, geo.token).get('/v1/warehouse/items/g1:1');
    assert.equal(asGeo.status, 403);
    assert.match(asGeo.body.error, /admin token/);
  });

  test('bad collection names, ids and parameters: 400 naming the problem', async () => {
    for (const [path, said] of [
      ['/v1/warehouse/_ganymede_changes/g1:1', /must not start with "_ganymede"/],
      ['/v1/warehouse/system.users/g1:1', /must not start with "system\."/],
      ['/v1/warehouse/%24cmd/g1:1', /must not contain \$ or NUL/],
      ['/v1/warehouse/items%00/g1:1', /must not contain \$ or NUL/],
      ['/v1/warehouse/items/42', /ID 42 names no GEO/],
      ['/v1/warehouse/items/Bad:1', /is not a GEO name/],
      ['/v1/warehouse/items/g1:1?history=yes', /field "history"/],
      ['/v1/warehouse/items/g1:1?limit=0', /field "limit"/],
      ['/v1/warehouse/items/g1:1?filter=%7B%7D', /unknown field "filter"/],
    ] as const) {
      const reply = await asAdmin.get(path);
      assert.equal(reply.status, 400, `${path}: ${reply.text}`);
      assert.match(reply.body.error, said, path);
    }
  });

  test('an API host without mongodb.url answers 503, saying so', async () => {
    const bare = await startTestApi();
    try {
      const reply = await clientFor(bare.url, bare.adminToken).get('/v1/warehouse/items/g1:1');
      assert.equal(reply.status, 503);
      assert.match(reply.body.error, /no warehouse configured \(mongodb\.url\)/);
    } finally {
      await bare.stop();
    }
  });
});
