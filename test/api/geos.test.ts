// Managing GEOs through the API: adding one (its key checked, its token shown once), rotating its token
// and key, disabling and enabling it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair, type GeneratedKeyPair } from '../../src/openpgp/keys.js';
import { startTestApi, type TestApi } from '../support/ganymede.js';
import { addGeo, captureLog, clientFor, cycleAt, seenStatuses, validFile } from './support.js';

let api: TestApi;
let asAdmin: ReturnType<typeof clientFor>;
let first: GeneratedKeyPair;
let second: GeneratedKeyPair;
const log = captureLog();

before(async () => {
  api = await startTestApi();
  asAdmin = clientFor(api.url, api.adminToken);
  [first, second] = await Promise.all([generateKeyPair({ name: 'GEO key one' }), generateKeyPair({ name: 'GEO key two' })]);
});

after(async () => {
  await api?.stop();
});

describe('adding a GEO', () => {
  test('answers 201 with the GEO and its token, and never echoes the key or the token afterwards', async () => {
    const reply = await asAdmin.post('/v1/geos', { name: 'emea-1', publicKey: first.publicKeyArmored });
    assert.equal(reply.status, 201, reply.text);
    assert.equal(reply.body.geo.name, 'emea-1');
    assert.equal(reply.body.geo.enabled, true);
    assert.equal(reply.body.geo.keyFingerprint, first.fingerprint);
    assert.match(reply.body.token, /^gmd_emea-1_/);
    assert.ok(reply.body.token.startsWith(reply.body.geo.tokenHint));
    assert.ok(reply.body.token.length > reply.body.geo.tokenHint.length + 20, 'the hint is not the token');

    for (const shown of [await asAdmin.get('/v1/geos/emea-1'), await asAdmin.get('/v1/geos')]) {
      assert.equal(shown.status, 200);
      assert.ok(!shown.text.includes(reply.body.token), 'the token is shown once only');
      assert.ok(!shown.text.includes('BEGIN PGP'), 'the key is not echoed');
    }
    assert.deepEqual((await asAdmin.get('/v1/geos')).body.geos, [reply.body.geo]);
    assert.equal((await clientFor(api.url, reply.body.token).get('/v1/geos/emea-1')).status, 200);
  });

  test('a name that is taken is 409', async () => {
    await addGeo(api.url, api.adminToken, 'taken');
    const reply = await asAdmin.post('/v1/geos', { name: 'taken', publicKey: second.publicKeyArmored });
    assert.equal(reply.status, 409);
    assert.match(reply.body.error, /a GEO named taken exists already/);
    assert.notEqual((await asAdmin.get('/v1/geos/taken')).body.geo.keyFingerprint, second.fingerprint);
  });

  test('an invalid public key is 400 naming publicKey, and no GEO is added', async () => {
    const lines = first.publicKeyArmored.split('\n');
    const invalid = [
      'not a key',
      first.privateKeyArmored,
      `${lines.slice(0, 4).join('\n')}\n-----END PGP PUBLIC KEY BLOCK-----\n`,
      first.publicKeyArmored.replace('-----END PGP PUBLIC KEY BLOCK-----', ''),
      '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n' + Buffer.from('garbage'.repeat(20)).toString('base64') + '\n-----END PGP PUBLIC KEY BLOCK-----\n',
    ];
    for (const publicKey of invalid) {
      const reply = await asAdmin.post('/v1/geos', { name: 'badkey', publicKey });
      assert.equal(reply.status, 400, reply.text);
      assert.equal(reply.body.field, 'publicKey');
      assert.match(reply.body.error, /publicKey/);
    }
    assert.equal((await asAdmin.get('/v1/geos/badkey')).status, 404);
  });

  test('an unknown GEO is 404 for the admin', async () => {
    for (const reply of [
      await asAdmin.get('/v1/geos/nosuch'),
      await asAdmin.patch('/v1/geos/nosuch', { enabled: false }),
      await asAdmin.post('/v1/geos/nosuch/rotate-token'),
      await asAdmin.post('/v1/geos/nosuch/rotate-key', { publicKey: first.publicKeyArmored }),
    ]) {
      assert.equal(reply.status, 404, reply.text);
      assert.match(reply.body.error, /no GEO named nosuch/);
    }
  });
});

describe('rotating', () => {
  test('rotate-token: the old token is 401 at once, the new one works', async () => {
    const geo = await addGeo(api.url, api.adminToken, 'rot-token');
    const txn = (await clientFor(api.url, geo.token).post('/v1/geos/rot-token/transactions', { cycle: cycleAt(1) })).body.transaction;
    const rotated = await asAdmin.post('/v1/geos/rot-token/rotate-token');
    assert.equal(rotated.status, 200, rotated.text);
    assert.notEqual(rotated.body.token, geo.token);
    assert.ok(rotated.body.geo.tokenRotatedAt);
    assert.ok(rotated.body.token.startsWith(rotated.body.geo.tokenHint));

    const old = clientFor(api.url, geo.token);
    for (const reply of [await old.get('/v1/geos/rot-token'), await old.post(`/v1/transactions/${txn.id}/close`, { file: validFile() })]) {
      assert.equal(reply.status, 401);
      assert.match(reply.body.error, /not valid \(revoked, rotated or mistyped\)/);
    }
    const fresh = clientFor(api.url, rotated.body.token);
    assert.equal((await fresh.get('/v1/geos/rot-token')).status, 200);
    const closed = await fresh.post(`/v1/transactions/${txn.id}/close`, { file: validFile() });
    assert.equal(closed.status, 200, 'the transaction opened with the old token is closed with the new one');
    assert.equal(closed.body.transaction.state, 'delivered');
  });

  test('rotate-key: the fingerprint changes, the token keeps working', async () => {
    const geo = await addGeo(api.url, api.adminToken, 'rot-key');
    const rotated = await asAdmin.post('/v1/geos/rot-key/rotate-key', { publicKey: second.publicKeyArmored });
    assert.equal(rotated.status, 200, rotated.text);
    assert.equal(rotated.body.geo.keyFingerprint, second.fingerprint);
    assert.ok(rotated.body.geo.keyRotatedAt);
    assert.equal((await asAdmin.get('/v1/geos/rot-key')).body.geo.keyFingerprint, second.fingerprint);
    assert.equal((await clientFor(api.url, geo.token).get('/v1/geos/rot-key')).status, 200);

    const refused = await asAdmin.post('/v1/geos/rot-key/rotate-key', { publicKey: second.privateKeyArmored });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.field, 'publicKey');
    assert.match(refused.body.error, /publicKey/);
    assert.equal((await asAdmin.get('/v1/geos/rot-key')).body.geo.keyFingerprint, second.fingerprint);
  });
});

describe('disabling', () => {
  test("PATCH enabled:false makes every call with that GEO's token 403; enabled:true restores it", async () => {
    const geo = await addGeo(api.url, api.adminToken, 'switch');
    const asGeo = clientFor(api.url, geo.token);
    const txn = (await asGeo.post('/v1/geos/switch/transactions', { cycle: cycleAt(2) })).body.transaction;

    const disabled = await asAdmin.patch('/v1/geos/switch', { enabled: false });
    assert.equal(disabled.status, 200, disabled.text);
    assert.equal(disabled.body.geo.enabled, false);
    const calls = [
      await asGeo.get('/v1/geos/switch'),
      await asGeo.post('/v1/geos/switch/transactions', { cycle: cycleAt(3) }),
      await asGeo.get(`/v1/transactions/${txn.id}`),
      await asGeo.post(`/v1/transactions/${txn.id}/events`, { events: [{ at: '2026-01-01T00:00:00Z', phase: 'extract' }] }),
      await asGeo.post(`/v1/transactions/${txn.id}/close`, { file: validFile() }),
      await asGeo.post(`/v1/transactions/${txn.id}/fail`, { reason: 'x' }),
      await asGeo.get('/v1/transactions'),
    ];
    for (const reply of calls) {
      assert.equal(reply.status, 403, reply.text);
      assert.match(reply.body.error, /GEO switch is disabled/);
    }
    const forAdmin = await asAdmin.post('/v1/geos/switch/transactions', { cycle: cycleAt(3) });
    assert.equal(forAdmin.status, 403, 'not even the admin opens an hour for a disabled GEO');
    assert.match(forAdmin.body.error, /disabled/);
    assert.equal((await asAdmin.get(`/v1/transactions/${txn.id}`)).body.transaction.state, 'open', 'nothing changed');

    const enabled = await asAdmin.patch('/v1/geos/switch', { enabled: true });
    assert.equal(enabled.body.geo.enabled, true);
    assert.equal((await asGeo.post(`/v1/transactions/${txn.id}/close`, { file: validFile() })).status, 200);
  });

  test('PATCH is idempotent', async () => {
    await addGeo(api.url, api.adminToken, 'twice');
    for (let i = 0; i < 2; i++) {
      const reply = await asAdmin.patch('/v1/geos/twice', { enabled: false });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.geo.enabled, false);
    }
  });
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
