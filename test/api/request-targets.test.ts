// Request targets that are not a plain path (`//`, `/\`, `//a:99999`, …) once made the API answer 500 and
// exit: the target was resolved as a URL, which read a host out of it and threw a second time while the
// request was logged. Each is now a 400, and the server goes on answering.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApi, type TestApi } from '../support/ganymede.js';
import { captureLog, rawGet, seenStatuses, send } from './support.js';

let api: TestApi;
let port: number;
let log: string[] = [];

before(async () => {
  api = await startTestApi();
  // after the start, which sets the logging up from the test config
  log = captureLog();
  port = Number(new URL(api.url).port);
});

after(async () => {
  await api?.stop();
});

const hostile = ['//', '///', '//@', '//a:99999', '//[', '/\\', '/v1//health', '/v1/%zz', '/v1/geos/%', '/..', '/v1/./health', '*', 'http://evil.example/v1/health', '/v1/health?x=%G1', '/v1/health?a=[1]'];

for (const target of hostile) {
  test(`GET ${target} is a 400 naming the problem, and /v1/health still answers`, async () => {
    const reply = await rawGet(port, target);
    assert.equal(reply.status, 400, reply.text);
    assert.match(reply.text, /malformed request target: [^\n]+; send a path such as \/v1\/health/);
    const health = await send(api.url, 'GET', '/v1/health');
    assert.equal(health.status, 200);
  });
}

test('plain paths still route: a trailing slash or an unknown path is 404, a query is read', async () => {
  assert.equal((await rawGet(port, '/v1/health/')).status, 404);
  assert.equal((await rawGet(port, '/nothing-here')).status, 404);
  assert.equal((await rawGet(port, '/v1/health?verbose=1')).status, 200);
  assert.equal((await rawGet(port, '/v1/transactions?limit=%31')).status, 401, 'percent-escapes are fine; the token is missing');
});

test('no request made the server fail, and each refused target was logged escaped, on one line', () => {
  assert.deepEqual(seenStatuses.filter((status) => status >= 500 || status === 0), []);
  assert.deepEqual(log.filter((line) => / ERROR /.test(line)), []);
  assert.ok(log.some((line) => line.includes('GET //a:99999 400')), log.join(''));
});
