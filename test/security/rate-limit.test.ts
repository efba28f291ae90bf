// Failed authentications per source address: the limiter itself on a fake clock, then the real API,
// with requests from several loopback addresses (all of 127/8 is this machine on Linux).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiClient } from '../../src/api/client.js';
import { AuthFailureLimiter } from '../../src/api/rate-limit.js';
import { ExitCode } from '../../src/exit-codes.js';
import { addTestGeo, call, captureApiLog, isGanymedeError, startSecureApi, type SecureApi } from './support.js';

describe('AuthFailureLimiter', () => {
  const clock = () => {
    let now = 1_000_000;
    return { now: () => now, advance: (ms: number) => (now += ms) };
  };

  test('blocks an address after maxFailures within the window, for the rest of the window only', () => {
    const time = clock();
    const limiter = new AuthFailureLimiter({ maxFailures: 10, windowMs: 60_000, now: time.now });
    for (let n = 1; n <= 9; n++) {
      assert.equal(limiter.recordFailure('10.0.0.1'), false);
      time.advance(1_000);
    }
    assert.equal(limiter.blockedForMs('10.0.0.1'), 0, 'nine failures: still allowed');
    assert.equal(limiter.recordFailure('10.0.0.1'), true, 'the tenth uses up the allowance');
    assert.equal(limiter.blockedForMs('10.0.0.1'), 51_000, 'until 60 s after the first failure');
    assert.equal(limiter.blockedForMs('10.0.0.2'), 0, 'another address is not affected');
    time.advance(50_999);
    assert.equal(limiter.blockedForMs('10.0.0.1'), 1);
    time.advance(1);
    assert.equal(limiter.blockedForMs('10.0.0.1'), 0, 'a new window');
    assert.equal(limiter.recordFailure('10.0.0.1'), false, 'counting starts again');
  });

  test('memory is bounded: expired windows go first, then the oldest', () => {
    const time = clock();
    const limiter = new AuthFailureLimiter({ maxFailures: 1, windowMs: 1_000, maxAddresses: 100, now: time.now });
    const address = (n: number) => `10.1.${n >> 8}.${n & 255}`;
    for (let n = 0; n < 1_000; n++) limiter.recordFailure(address(n));
    assert.equal(limiter.size, 100);
    assert.ok(limiter.blockedForMs(address(999)) > 0, 'the newest is kept');
    assert.ok(limiter.blockedForMs(address(900)) > 0, 'the 100th newest is kept');
    assert.equal(limiter.blockedForMs(address(899)), 0, 'older ones were forgotten');
    time.advance(1_000);
    limiter.recordFailure('10.9.9.9');
    assert.equal(limiter.size, 1, 'every expired window was dropped');
  });
});

describe('the API refuses an address after 10 failed authentications in 60 s', () => {
  const log = captureApiLog();
  let api: SecureApi;
  let token: string;

  before(async () => {
    api = await startSecureApi({ authFailures: { maxFailures: 10, windowMs: 60_000 } });
    token = await addTestGeo(api.db, 'north');
  });
  after(async () => {
    await api?.stop();
  });

  test('the 11th request with a bad token gets 429 and Retry-After; a good token from another address is unaffected', async () => {
    const attacker = { localAddress: '127.0.0.3' };
    for (let n = 1; n <= 10; n++) {
      const reply = await call(api.url, 'GET', '/v1/geos/north', { token: `gmd_north_guess${n}`, ...attacker });
      assert.equal(reply.status, 401, `attempt ${n}`);
    }
    const refused = await call(api.url, 'GET', '/v1/geos/north', { token: 'gmd_north_guess11', ...attacker });
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${refused.headers['retry-after']}`);
    assert.match(refused.body.error, /^too many failed authentications from 127\.0\.0\.3; try again in \d+ s$/);

    const goodFromAttacker = await call(api.url, 'GET', '/v1/geos/north', { token, ...attacker });
    assert.equal(goodFromAttacker.status, 200, 'a valid token from the limited address is served');
    assert.equal((await call(api.url, 'GET', '/v1/geos', { token: api.adminToken, ...attacker })).status, 200, 'and so is the admin token');
    assert.equal((await call(api.url, 'GET', '/v1/geos/north', { token: 'gmd_north_guess12', ...attacker })).status, 429, 'a wrong one is still 429');
    assert.equal((await call(api.url, 'GET', '/v1/health', attacker)).status, 200, 'health needs no token and is not limited');

    assert.equal((await call(api.url, 'GET', '/v1/geos/north', { token, localAddress: '127.0.0.1' })).status, 200, 'another address with a good token');
    assert.equal((await call(api.url, 'GET', '/v1/geos/north', { token: 'gmd_north_wrong', localAddress: '127.0.0.4' })).status, 401, 'another address has its own count');
    assert.equal(log.filter((line) => /127\.0\.0\.3: 10 failed authentications within 60 s; its wrong tokens get 429/.test(line)).length, 1, log.join(''));
  });

  test('successful authentications are not counted and do not reset the count', async () => {
    const from = { localAddress: '127.0.0.5' };
    for (let n = 0; n < 9; n++) assert.equal((await call(api.url, 'GET', '/v1/geos/north', { token: 'gmd_bad', ...from })).status, 401);
    for (let n = 0; n < 20; n++) assert.equal((await call(api.url, 'GET', '/v1/geos/north', { token, ...from })).status, 200);
    assert.equal((await call(api.url, 'GET', '/v1/geos/north', { token: 'gmd_bad', ...from })).status, 401, 'the tenth failure');
    assert.equal((await call(api.url, 'GET', '/v1/geos/north', { token, ...from })).status, 200, 'limited, yet a valid token is served');
    assert.equal((await call(api.url, 'GET', '/v1/geos/north', { token: 'gmd_bad', ...from })).status, 429);
  });

  test('an address that keeps failing (five times its allowance) has no token looked at until its window ends', async () => {
    const from = { localAddress: '127.0.0.6' };
    const statuses: number[] = [];
    for (let n = 1; n <= 50; n++) statuses.push((await call(api.url, 'GET', '/v1/geos/north', { token: `gmd_north_guess${n}`, ...from })).status);
    assert.deepEqual(statuses, [...Array<number>(10).fill(401), ...Array<number>(40).fill(429)]);
    const valid = await call(api.url, 'GET', '/v1/geos/north', { token, ...from });
    assert.equal(valid.status, 429, 'a guess that happened to be right would tell it nothing now');
    assert.match(valid.body.error, /^too many failed authentications from 127\.0\.0\.6; try again in \d+ s$/);
    assert.equal((await call(api.url, 'GET', '/v1/geos/north', { token, localAddress: '127.0.0.7' })).status, 200, 'other addresses are not affected');
  });

  test("the agent's client turns 429 into a retry-later error with the wait (last: it limits 127.0.0.1, the client's address)", async () => {
    for (let n = 0; n < 10; n++) await call(api.url, 'GET', '/v1/geos/north', { token: 'gmd_bad', localAddress: '127.0.0.1' });
    assert.equal((await new ApiClient({ baseUrl: api.url, token, as: 'GEO north' }).request<{ geo: { name: string } }>('GET', '/v1/geos/north')).geo.name, 'north', 'its valid token is served');
    const client = new ApiClient({ baseUrl: api.url, token: 'gmd_north_stale', as: 'GEO north' });
    await assert.rejects(client.request('GET', '/v1/geos/north'), (error: unknown) => {
      isGanymedeError(ExitCode.unreachable, /answered 429 .*too many failed authentications from 127\.0\.0\.1/)(error);
      assert.match((error as { hint: string }).hint, /try again in \d+ s/);
      return true;
    });
  });
});
