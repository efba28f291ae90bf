// HTTPS on the status API with a test CA made by openssl: the agent's client trusts only the configured
// CA, the server speaks TLS 1.2 and later only, and a bad certificate or key stops the start.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { ApiClient } from '../../src/api/client.js';
import { serverTlsOptions } from '../../src/api/tls.js';
import { runApiServe } from '../../src/commands/api/serve.js';
import { ExitCode } from '../../src/exit-codes.js';
import { testConfig } from '../support/ganymede.js';
import { mysqlUrlFor } from '../support/mysql.js';
import { testPki, type CertificateFiles, type TestCa, type TestPki } from '../support/tls.js';
import { addTestGeo, call, captureApiLog, isGanymedeError, startSecureApi, type SecureApi } from './support.js';

const log = captureApiLog();
let pki: TestPki;
let ca: TestCa;
let otherCa: TestCa;
let serverCert: CertificateFiles;
let api: SecureApi;
let northToken: string;

before(async () => {
  pki = await testPki();
  [ca, otherCa] = await Promise.all([pki.createCa('Ganymede Test CA'), pki.createCa('Somebody Else CA')]);
  serverCert = await ca.issueServer();
  api = await startSecureApi({ tls: serverCert });
  northToken = await addTestGeo(api.db, 'north');
});

after(async () => {
  await api?.stop();
  await pki?.remove();
});

/** Connects with TLS 1.0-1.1 only (ciphers allowed down to level 0): the handshake's error, or the version agreed. */
function handshakeWithOldTls(port: number): Promise<{ protocol?: string | null; code?: string }> {
  return new Promise((resolve) => {
    const socket: TLSSocket = connect({ host: '127.0.0.1', port, ca: readFileSync(ca.certFile), minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }, () => {
      resolve({ protocol: socket.getProtocol() });
      socket.end();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ code: error.code ?? error.message }));
  });
}

describe('HTTPS on the status API', () => {
  test('an agent that trusts the configured CA talks to it, by IP address and by host name', async () => {
    for (const baseUrl of [api.url, api.url.replace('127.0.0.1', 'localhost')]) {
      const client = new ApiClient({ baseUrl, token: northToken, as: 'GEO north', caFile: ca.certFile });
      const reply = await client.request<{ geo: { name: string } }>('GET', '/v1/geos/north');
      assert.equal(reply.geo.name, 'north');
    }
    const opened = await new ApiClient({ baseUrl: api.url, token: northToken, as: 'GEO north', caFile: ca.certFile }).openTransaction('north', new Date().toISOString().slice(0, 13));
    assert.equal(opened.created, true);
  });

  test('an agent trusting another CA, or only the system CAs, refuses the server: a one-line config error naming TLS verification', async () => {
    for (const caFile of [otherCa.certFile, undefined]) {
      const client = new ApiClient({ baseUrl: api.url, token: northToken, as: 'GEO north', caFile });
      await assert.rejects(client.request('GET', '/v1/geos/north'), (error: unknown) => {
        isGanymedeError(ExitCode.config, /^TLS verification of the status API at 127\.0\.0\.1:\d+ failed: [A-Z_]+/)(error);
        assert.match((error as { hint: string }).hint, /api\.ca_file/);
        return true;
      });
    }
  });

  test('a CA file that is missing or not PEM is a config error naming api.ca_file', async () => {
    const missing = new ApiClient({ baseUrl: api.url, token: northToken, as: 'GEO north', caFile: `${pki.dir}/nope.pem` });
    await assert.rejects(missing.request('GET', '/v1/health'), isGanymedeError(ExitCode.config, /^api\.ca_file: the CA certificate .*nope\.pem does not exist$/));
    const halfClient = new ApiClient({ baseUrl: api.url, token: northToken, as: 'GEO north', caFile: ca.certFile, clientCertFile: serverCert.certFile });
    await assert.rejects(halfClient.request('GET', '/v1/health'), isGanymedeError(ExitCode.config, /api\.client_key_file is not set/));
  });

  test('TLS 1.1 is refused by the server, though the same client gets TLS 1.1 from a server that allows it', async () => {
    const permissive = createServer({ ...serverTlsOptions(serverCert), minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' }, (socket) => socket.end());
    await new Promise<void>((resolve) => permissive.listen(0, '127.0.0.1', resolve));
    try {
      const control = await handshakeWithOldTls((permissive.address() as { port: number }).port);
      assert.equal(control.protocol, 'TLSv1.1', `the client can speak TLS 1.1 (${control.code})`);
    } finally {
      permissive.close();
    }
    const refused = await handshakeWithOldTls(api.port);
    assert.equal(refused.protocol, undefined);
    assert.match(refused.code ?? '', /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/);
    assert.ok(log.some((line) => /TLS handshake from 127\.0\.0\.1 failed: ERR_SSL_UNSUPPORTED_PROTOCOL/.test(line)), log.join(''));
  });

  test('TLS 1.2 and 1.3 are accepted', async () => {
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const reply = await call(api.url, 'GET', '/v1/health', { ca: readFileSync(ca.certFile), maxVersion });
      assert.equal(reply.status, 200, maxVersion);
    }
  });

  test('a key that does not belong to the certificate, or a missing file, is a config error naming the key', async () => {
    const other = await ca.issueServer('other');
    assert.throws(() => serverTlsOptions({ certFile: serverCert.certFile, keyFile: other.keyFile }), isGanymedeError(ExitCode.config, /^api\.tls: the certificate .* and key .* cannot be used/));
    assert.throws(() => serverTlsOptions({ certFile: `${pki.dir}/missing.crt`, keyFile: other.keyFile }), isGanymedeError(ExitCode.config, /^api\.tls\.cert_file: the certificate .*missing\.crt does not exist$/));
    assert.throws(() => serverTlsOptions({ certFile: serverCert.certFile, keyFile: serverCert.keyFile, clientCaFile: `${pki.dir}/none` }), isGanymedeError(ExitCode.config, /^api\.tls\.client_ca_file:/));
  });
});

describe('`ganymede api` with api.tls.* set', () => {
  test('serves HTTPS on the configured certificate', async () => {
    const loaded = testConfig({ 'mysql.url': mysqlUrlFor(api.centre.database), 'api.listen': '127.0.0.1:0', 'logging.level': 'warn' }, { 'api.admin_token': api.adminToken });
    // The schema does not declare api.tls yet; runApiServe reads it by key, as it will be once it does.
    Object.assign(loaded.config.api, { tls: { cert_file: serverCert.certFile, key_file: serverCert.keyFile } });
    let stop!: () => void;
    const stopSignal = new Promise((resolve) => (stop = () => resolve('test')));
    let listening!: (address: { port: number; tls: boolean }) => void;
    const ready = new Promise<{ port: number; tls: boolean }>((resolve) => (listening = resolve));
    const served = runApiServe({ loaded, stopSignal, onListening: listening });
    try {
      const address = await Promise.race([ready, served.then(() => Promise.reject(new Error('stopped before listening')))]);
      assert.equal(address.tls, true);
      const client = new ApiClient({ baseUrl: `https://127.0.0.1:${address.port}`, token: api.adminToken, as: 'admin', caFile: ca.certFile });
      assert.deepEqual(await client.request('GET', '/v1/health'), { status: 'ok' });
    } finally {
      stop();
      await served;
    }
  });

  test('a key file without its certificate stops the start with a config error', async () => {
    const loaded = testConfig({ 'mysql.url': mysqlUrlFor(api.centre.database), 'api.listen': '127.0.0.1:0' });
    Object.assign(loaded.config.api, { tls: { key_file: serverCert.keyFile } });
    await assert.rejects(runApiServe({ loaded, stopSignal: Promise.resolve('test') }), isGanymedeError(ExitCode.config, /api\.tls\.cert_file is not set/));
  });
});
