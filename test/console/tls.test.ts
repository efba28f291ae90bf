// The console over `ganymede api` with api.tls.* set: its cookies carry Secure, so a browser never sends
// the session over plain HTTP, and signing in and reading a page work over HTTPS.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { after, before, test } from 'node:test';
import { startTestApi, type TestApi } from '../support/ganymede.js';
import { testPki, type TestPki } from '../support/tls.js';
import { hiddenField } from '../support/console.js';

let pki: TestPki;
let api: TestApi;
let ca: Buffer;
let origin: string;

before(async () => {
  pki = await testPki();
  const authority = await pki.createCa('console-ca');
  const server = await authority.issueServer();
  ca = readFileSync(authority.certFile);
  api = await startTestApi({ 'api.tls.cert_file': server.certFile, 'api.tls.key_file': server.keyFile });
  origin = api.url.replace(/^http:/, 'https:');
});
after(async () => {
  await api?.stop();
  await pki?.remove();
});

function fetchTls(path: string, options: { method?: string; cookie?: string; form?: Record<string, string> } = {}): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const outgoing = request(new URL(path, origin), {
      method: options.method ?? 'GET',
      ca,
      agent: false,
      headers: { ...(options.cookie ? { cookie: options.cookie } : {}), ...(body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) } : {}) },
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

const cookiePair = (line: string) => line.split(';')[0]!;

test('over HTTPS the sign-in and session cookies are Secure, HttpOnly and SameSite=Strict, and the session works', async () => {
  const form = await fetchTls('/console/sign-in');
  assert.equal(form.status, 200);
  const signinCookie = form.headers['set-cookie']!.find((line) => line.startsWith('ganymede_console_signin='))!;
  assert.match(signinCookie, /; Secure$/);
  const signedIn = await fetchTls('/console/sign-in', { method: 'POST', cookie: cookiePair(signinCookie), form: { signin: hiddenField(form.text, 'signin'), next: '/console', token: api.adminToken } });
  assert.equal(signedIn.status, 303, signedIn.text);
  const session = signedIn.headers['set-cookie']!.find((line) => line.startsWith('ganymede_console='))!;
  assert.deepEqual(session.split('; ').slice(1), ['Path=/console', 'Max-Age=43200', 'HttpOnly', 'SameSite=Strict', 'Secure']);
  const grid = await fetchTls('/console', { cookie: cookiePair(session) });
  assert.equal(grid.status, 200);
  assert.match(grid.text, /GEOs × UTC hours/);
});
