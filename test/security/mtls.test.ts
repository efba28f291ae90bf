// Mutual TLS: with a client CA configured, a GEO's token works only over a connection whose client
// certificate (signed by that CA) names the GEO in its CN or a DNS SAN; the admin needs one only when an
// admin certificate name is configured.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ApiClient } from '../../src/api/client.js';
import { ExitCode } from '../../src/exit-codes.js';
import { testPki, type CertificateFiles, type TestCa, type TestPki } from '../support/tls.js';
import { addTestGeo, call, captureApiLog, isGanymedeError, startSecureApi, type CallOptions, type SecureApi } from './support.js';

captureApiLog();
let pki: TestPki;
let ca: TestCa;
let serverCert: CertificateFiles;
const certs: Record<string, CertificateFiles> = {};
let api: SecureApi;
let adminBound: SecureApi;
const tokens: Record<string, string> = {};

before(async () => {
  pki = await testPki();
  ca = await pki.createCa('Ganymede Test CA');
  const stranger = await pki.createCa('Stranger CA');
  serverCert = await ca.issueServer();
  [certs.north, certs.south, certs.east, certs.admin, certs.forgedNorth] = await Promise.all([
    ca.issueClient('north'),
    ca.issueClient('south'),
    ca.issueClient('geo-host-17.example', ['east']),
    ca.issueClient('ops-admin'),
    stranger.issueClient('north'),
  ]);
  api = await startSecureApi({ tls: { ...serverCert, clientCaFile: ca.certFile } });
  adminBound = await startSecureApi({ tls: { ...serverCert, clientCaFile: ca.certFile, adminClientCertName: 'ops-admin' } });
  for (const name of ['north', 'south', 'east']) tokens[name] = await addTestGeo(api.db, name);
});

after(async () => {
  await api?.stop();
  await adminBound?.stop();
  await pki?.remove();
});

const withCert = (files: CertificateFiles | undefined): CallOptions => ({
  ca: readFileSync(ca.certFile),
  ...(files ? { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) } : {}),
});

describe('client certificates bound to GEOs', () => {
  test("a GEO's token with its own certificate works, through the agent's client too", async () => {
    assert.equal((await call(api.url, 'GET', '/v1/geos/north', { token: tokens.north, ...withCert(certs.north) })).status, 200);
    const client = new ApiClient({ baseUrl: api.url, token: tokens.north!, as: 'GEO north', caFile: ca.certFile, clientCertFile: certs.north!.certFile, clientKeyFile: certs.north!.keyFile });
    // Its agent caches TLS sessions: a resumed session still carries the verified certificate.
    for (let n = 0; n < 3; n++) assert.equal((await client.request<{ geo: { name: string } }>('GET', '/v1/geos/north')).geo.name, 'north');
  });

  test('a DNS SAN names the GEO as well as the CN does', async () => {
    assert.equal((await call(api.url, 'GET', '/v1/geos/east', { token: tokens.east, ...withCert(certs.east) })).status, 200);
  });

  test("GEO north's certificate with GEO south's token is 403, and the agent's client says to check the certificate", async () => {
    const reply = await call(api.url, 'GET', '/v1/geos/south', { token: tokens.south, ...withCert(certs.north) });
    assert.equal(reply.status, 403);
    assert.match(reply.body.error, /the client certificate is for north, but GEO south's token needs one for south/);
    const client = new ApiClient({ baseUrl: api.url, token: tokens.south!, as: 'GEO south', caFile: ca.certFile, clientCertFile: certs.north!.certFile, clientKeyFile: certs.north!.keyFile });
    await assert.rejects(client.request('GET', '/v1/geos/south'), (error: unknown) => {
      isGanymedeError(ExitCode.config, /answered 403 .*client certificate is for north/)(error);
      assert.match((error as { hint: string }).hint, /api\.client_cert_file/);
      return true;
    });
  });

  test('no client certificate when one is required is refused', async () => {
    const reply = await call(api.url, 'GET', '/v1/geos/north', { token: tokens.north, ...withCert(undefined) });
    assert.equal(reply.status, 403);
    assert.match(reply.body.error, /GEO north's token needs a client certificate for north signed by the API's client CA; none was presented/);
  });

  test('a certificate for the right name from another CA is refused', async () => {
    const reply = await call(api.url, 'GET', '/v1/geos/north', { token: tokens.north, ...withCert(certs.forgedNorth) });
    assert.equal(reply.status, 403);
    assert.match(reply.body.error, /the client certificate \(north\) is not accepted: [A-Z_]+; it must be signed by the API's client CA/);
  });

  test('a wrong token is still 401 whatever the certificate', async () => {
    assert.equal((await call(api.url, 'GET', '/v1/geos/north', { token: 'gmd_north_wrong', ...withCert(certs.north) })).status, 401);
  });

  test('the admin token needs no client certificate unless an admin certificate name is configured', async () => {
    assert.equal((await call(api.url, 'GET', '/v1/geos', { token: api.adminToken, ...withCert(undefined) })).status, 200);
    const bare = await call(adminBound.url, 'GET', '/v1/geos', { token: adminBound.adminToken, ...withCert(undefined) });
    assert.equal(bare.status, 403);
    assert.match(bare.body.error, /the admin token needs a client certificate for ops-admin/);
    const geoCert = await call(adminBound.url, 'GET', '/v1/geos', { token: adminBound.adminToken, ...withCert(certs.north) });
    assert.equal(geoCert.status, 403);
    assert.equal((await call(adminBound.url, 'GET', '/v1/geos', { token: adminBound.adminToken, ...withCert(certs.admin) })).status, 200);
  });
});
