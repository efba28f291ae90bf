// The agent's client refuses to send its token over plain http:// to another machine unless told to
// (api.allow_insecure); loopback stays allowed, since the token never leaves the host.
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { ApiClient, checkApiUrl } from '../../src/api/client.js';
import { ExitCode } from '../../src/exit-codes.js';
import { addTestGeo, captureApiLog, isGanymedeError, startSecureApi, type SecureApi } from './support.js';

captureApiLog();
/** An IPv4 address of this machine that is not loopback, if it has one. */
const outsideAddress = Object.values(networkInterfaces())
  .flat()
  .find((entry) => entry && entry.family === 'IPv4' && !entry.internal)?.address;

describe('checkApiUrl', () => {
  test('plain http to another machine is a one-line config error naming api.allow_insecure', () => {
    for (const url of ['http://10.20.30.40:8080', 'http://api.example.com', 'http://[2001:db8::1]:8080', 'http://127.example.com']) {
      assert.throws(() => checkApiUrl(url), isGanymedeError(ExitCode.config, /plain http:\/\/ to another machine.*set api\.allow_insecure to true$/), url);
      assert.equal(checkApiUrl(url, true).href.startsWith('http://'), true);
    }
  });

  test('loopback http and any https are fine; other schemes are not', () => {
    for (const url of ['http://127.0.0.1:8080', 'http://127.1.2.3', 'http://localhost:8080', 'http://[::1]:8080', 'https://10.20.30.40:8443']) assert.doesNotThrow(() => checkApiUrl(url), url);
    assert.throws(() => checkApiUrl('ftp://10.0.0.1/'), isGanymedeError(ExitCode.config, /expected http:\/\/ or https:\/\//));
  });
});

describe('ApiClient over plain http', { skip: outsideAddress ? false : 'this machine has no non-loopback IPv4 address' }, () => {
  let api: SecureApi;
  let token: string;

  before(async () => {
    api = await startSecureApi({ host: '0.0.0.0' });
    token = await addTestGeo(api.db, 'north');
  });
  after(async () => {
    await api?.stop();
  });

  test('to a non-loopback address: refused before connecting, unless allowInsecure', async () => {
    const baseUrl = `http://${outsideAddress}:${api.port}`;
    const refused = new ApiClient({ baseUrl, token, as: 'GEO north' });
    await assert.rejects(refused.request('GET', '/v1/geos/north'), isGanymedeError(ExitCode.config, /api\.allow_insecure/));
    const allowed = new ApiClient({ baseUrl, token, as: 'GEO north', allowInsecure: true });
    assert.equal((await allowed.request<{ geo: { name: string } }>('GET', '/v1/geos/north')).geo.name, 'north');
  });

  test('https:// to an API that serves plain HTTP is a config error about the TLS handshake, not "unreachable"', async () => {
    const client = new ApiClient({ baseUrl: `https://127.0.0.1:${api.port}`, token, as: 'GEO north' });
    await assert.rejects(client.request('GET', '/v1/geos/north'), isGanymedeError(ExitCode.config, /^the TLS handshake with the status API at 127\.0\.0\.1:\d+ failed: /));
  });

  test('to loopback: allowed without the option', async () => {
    const client = new ApiClient({ baseUrl: `http://127.0.0.1:${api.port}`, token, as: 'GEO north' });
    assert.equal((await client.request<{ geo: { name: string } }>('GET', '/v1/geos/north')).geo.name, 'north');
  });
});
