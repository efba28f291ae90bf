// The failure limits let valid tokens through and catch guesses spread over many addresses: the limiter
// on a fake clock (checks bounded per address and once the global budget is spent, IPv6 by /64), then
// the real API with guesses from 40 loopback addresses (all of 127/8 is this machine on Linux).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuthFailureLimiter, addressKeyOf } from '../../src/api/rate-limit.js';
import { addTestGeo, call, captureApiLog, startSecureApi, type SecureApi } from './support.js';

describe('AuthFailureLimiter: what may still be checked', () => {
  const clock = () => {
    let now = 5_000_000;
    return { now: () => now, advance: (ms: number) => (now += ms) };
  };

  test('a limited address is still checked; past five times its allowance it is not, until its window ends', () => {
    const time = clock();
    const limiter = new AuthFailureLimiter({ maxFailures: 2, windowMs: 60_000, now: time.now });
    for (let n = 0; n < 9; n++) limiter.recordFailure('10.0.0.1');
    assert.ok(limiter.blockedForMs('10.0.0.1') > 0);
    assert.equal(limiter.mayCheck('10.0.0.1'), true, 'nine failures: limited, still checked');
    limiter.recordFailure('10.0.0.1');
    assert.equal(limiter.mayCheck('10.0.0.1'), false, 'ten: no more checks');
    time.advance(60_000);
    assert.equal(limiter.mayCheck('10.0.0.1'), true, 'a new window');
  });

  test('a spent global budget makes every failure a 429, and stops checks from addresses that already failed', () => {
    const time = clock();
    const limiter = new AuthFailureLimiter({ maxFailures: 10, maxGlobalFailures: 5, windowMs: 60_000, now: time.now });
    for (let n = 1; n <= 4; n++) limiter.recordFailure(`10.0.1.${n}`);
    assert.equal(limiter.globalBlockedForMs(), 0);
    assert.equal(limiter.takeGlobalNotice(), false);
    time.advance(10_000);
    limiter.recordFailure('10.0.1.5');
    assert.equal(limiter.globalBlockedForMs(), 50_000, 'until 60 s after the first failure anywhere');
    assert.equal(limiter.takeGlobalNotice(), true, 'said once');
    assert.equal(limiter.takeGlobalNotice(), false);
    assert.equal(limiter.mayCheck('10.0.1.1'), false, 'an address that failed in this window');
    assert.equal(limiter.mayCheck('10.0.9.9'), true, 'an address that did not');
    time.advance(50_000);
    assert.equal(limiter.globalBlockedForMs(), 0);
    assert.equal(limiter.mayCheck('10.0.1.1'), true);
  });

  test('IPv6 addresses count by their /64', () => {
    assert.equal(addressKeyOf('2001:db8:0:1:aaaa::1'), '2001:db8:0:1::/64');
    assert.equal(addressKeyOf('2001:0db8:0000:0001:ffff:ffff:ffff:ffff'), '2001:db8:0:1::/64');
    assert.equal(addressKeyOf('::1'), '0:0:0:0::/64');
    assert.equal(addressKeyOf('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressKeyOf('::ffff:10.1.2.3'), '0:0:0:0::/64');
    assert.equal(addressKeyOf('10.1.2.3'), '10.1.2.3');
    assert.equal(addressKeyOf('not:an::address::'), 'not:an::address::', 'kept as it is when it does not parse');
    const limiter = new AuthFailureLimiter({ maxFailures: 3, windowMs: 60_000 });
    for (let n = 1; n <= 3; n++) limiter.recordFailure(`2001:db8:0:1::${n}`);
    assert.ok(limiter.blockedForMs('2001:db8:0:1::ffff') > 0, 'another address of the same /64');
    assert.equal(limiter.blockedForMs('2001:db8:0:2::1'), 0, 'another /64');
  });
});

describe('the API limits failures from all addresses together', () => {
  const log = captureApiLog();
  let api: SecureApi;
  let token: string;

  before(async () => {
    api = await startSecureApi({ authFailures: { maxFailures: 10, maxGlobalFailures: 30, windowMs: 60_000 } });
    token = await addTestGeo(api.db, 'north');
  });
  after(async () => {
    await api?.stop();
  });

  test('one guess from each of 40 addresses: the first 30 are 401, the rest 429; valid tokens from fresh addresses are served', async () => {
    const statuses: number[] = [];
    for (let n = 1; n <= 40; n++) {
      const reply = await call(api.url, 'GET', '/v1/geos/north', { token: `gmd_north_guess${n}`, localAddress: `127.0.1.${n}` });
      statuses.push(reply.status);
      if (reply.status === 429) {
        assert.match(reply.body.error, /^too many failed authentications from many addresses; try again in \d+ s$/);
        assert.ok(Number(reply.headers['retry-after']) >= 1);
      }
    }
    assert.deepEqual(statuses, [...Array<number>(30).fill(401), ...Array<number>(10).fill(429)]);
    assert.equal((await call(api.url, 'GET', '/v1/geos/north', { token, localAddress: '127.0.2.1' })).status, 200, 'a GEO token from an address that never failed');
    assert.equal((await call(api.url, 'GET', '/v1/geos', { token: api.adminToken, localAddress: '127.0.2.2' })).status, 200, 'the admin token too');
    const fromGuesser = await call(api.url, 'GET', '/v1/geos/north', { token, localAddress: '127.0.1.7' });
    assert.equal(fromGuesser.status, 429, 'an address that already guessed in this window gets no check while the budget is spent');
    assert.equal(log.filter((line) => /30 failed authentications from all addresses within 60 s; every wrong token gets 429/.test(line)).length, 1, log.join(''));
  });
});
