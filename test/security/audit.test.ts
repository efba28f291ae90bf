// The audit trail: recordAudit/listAudit against the real database, and a row with the source address
// for every admin change made through the API (and none for refused or read-only calls).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAudit, recordAudit, type AuditActor } from '../../src/state/audit.js';
import { geoPublicKey } from '../api/support.js';
import { addTestGeo, call, captureApiLog, startSecureApi, type SecureApi } from './support.js';

const log = captureApiLog();
let api: SecureApi;

before(async () => {
  api = await startSecureApi();
});
after(async () => {
  await api?.stop();
});

describe('recordAudit and listAudit', () => {
  test('store rows and filter them by actor, action, target and time, newest first', async () => {
    const at = (minute: number) => new Date(Date.UTC(2030, 0, 1, 0, minute));
    await recordAudit(api.db, { actor: 'os:alice', action: 'geo.remove', target: 'geo:old', detail: 'by hand' }, at(1));
    await recordAudit(api.db, { actor: 'geo:north', action: 'txn.force', target: 'txn:12', detail: { cycle: '2030-01-01T00' }, sourceAddress: '10.0.0.9' }, at(2));
    await recordAudit(api.db, { actor: 'os:alice', action: 'txn.cancel', target: 'txn:12' }, at(3));
    const alice = await listAudit(api.db, { actor: 'os:alice' });
    assert.deepEqual(alice.map((row) => row.action), ['txn.cancel', 'geo.remove']);
    assert.equal(alice[1]!.detail, 'by hand');
    assert.equal(alice[0]!.detail, null);
    assert.equal(alice[0]!.sourceAddress, null);
    const [north] = await listAudit(api.db, { target: 'txn:12', action: 'txn.force' });
    assert.deepEqual(JSON.parse(north!.detail!), { cycle: '2030-01-01T00' });
    assert.equal(north!.sourceAddress, '10.0.0.9');
    assert.deepEqual(north!.at, at(2));
    assert.deepEqual((await listAudit(api.db, { from: at(2), to: at(3) })).map((row) => row.action), ['txn.force']);
    assert.equal((await listAudit(api.db, { from: at(1), limit: 1 })).length, 1);
  });

  test('refuses an actor that is not admin-token, geo:<name>, viewer:<name> (a console viewer) or os:<user>', async () => {
    for (const actor of ['admin', 'geo:', 'geo:North', 'viewer:', 'viewer:Alice', 'os:', 'root']) {
      await assert.rejects(recordAudit(api.db, { actor: actor as AuditActor, action: 'x', target: 'y' }), /not admin-token, geo:<name>, viewer:<name> or os:<user>/, actor);
    }
  });
});

describe('the API records its admin changes', () => {
  const from = { localAddress: '127.0.0.7' };
  let geoToken: string;

  before(async () => {
    geoToken = await addTestGeo(api.db, 'north');
  });

  test('geo add, disable, enable, rotate-token and rotate-key each leave one row with the source address', async () => {
    const publicKey = await geoPublicKey();
    const admin = { token: api.adminToken, ...from };
    const added = await call(api.url, 'POST', '/v1/geos', { ...admin, json: { name: 'east', publicKey } });
    assert.equal(added.status, 201);
    assert.equal((await call(api.url, 'PATCH', '/v1/geos/east', { ...admin, json: { enabled: false } })).status, 200);
    assert.equal((await call(api.url, 'PATCH', '/v1/geos/east', { ...admin, json: { enabled: true } })).status, 200);
    const rotated = await call(api.url, 'POST', '/v1/geos/east/rotate-token', admin);
    assert.equal(rotated.status, 200);
    assert.equal((await call(api.url, 'POST', '/v1/geos/east/rotate-key', { ...admin, json: { publicKey } })).status, 200);

    const rows = (await listAudit(api.db, { target: 'geo:east' })).reverse();
    assert.deepEqual(
      rows.map((row) => [row.actor, row.action, row.sourceAddress]),
      [
        ['admin-token', 'geo.add', '127.0.0.7'],
        ['admin-token', 'geo.disable', '127.0.0.7'],
        ['admin-token', 'geo.enable', '127.0.0.7'],
        ['admin-token', 'geo.rotate-token', '127.0.0.7'],
        ['admin-token', 'geo.rotate-key', '127.0.0.7'],
      ],
    );
    assert.deepEqual(JSON.parse(rows[0]!.detail!), { keyFingerprint: added.body.geo.keyFingerprint });
    assert.deepEqual(JSON.parse(rows[3]!.detail!), { tokenHint: rotated.body.geo.tokenHint });
    for (const row of rows) {
      for (const token of [added.body.token, rotated.body.token]) assert.equal((row.detail ?? '').includes(token), false, 'no token in the trail');
    }
  });

  test('refused, failed and read-only calls leave no row', async () => {
    const before = (await listAudit(api.db, { limit: 10_000 })).length;
    assert.equal((await call(api.url, 'PATCH', '/v1/geos/north', { token: geoToken, json: { enabled: false } })).status, 403);
    assert.equal((await call(api.url, 'POST', '/v1/geos/north/rotate-token', { token: 'gmd_wrong' })).status, 401);
    assert.equal((await call(api.url, 'POST', '/v1/geos', { token: api.adminToken, json: { name: 'east', publicKey: await geoPublicKey() } })).status, 409);
    assert.equal((await call(api.url, 'POST', '/v1/geos/nowhere/rotate-token', { token: api.adminToken })).status, 404);
    assert.equal((await call(api.url, 'GET', '/v1/geos', { token: api.adminToken })).status, 200);
    assert.equal((await listAudit(api.db, { limit: 10_000 })).length, before);
    assert.deepEqual(log.filter((line) => /ERROR/.test(line)), []);
  });
});

describe('when the audit row cannot be written', () => {
  test('the change is still answered, and the log says the trail misses it (last: it drops the table)', async () => {
    await api.db.query('DROP TABLE audit_log');
    const reply = await call(api.url, 'PATCH', '/v1/geos/north', { token: api.adminToken, json: { enabled: false } });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.geo.enabled, false);
    assert.ok(log.some((line) => /ERROR.*the audit trail misses geo\.disable of GEO north from 127\.0\.0\.1/.test(line)), log.join(''));
  });
});
