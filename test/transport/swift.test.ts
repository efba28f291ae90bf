// The Swift transport against Debian's real OpenStack Swift: the conformance suite (plain objects, and
// Static Large Objects with small segments), then what only Swift can get wrong.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { openTransport, parseLocation } from '../../src/transport/location.js';
import { withRetry } from '../../src/transport/retry.js';
import type { PutSource, Transport } from '../../src/transport/transport.js';
import { startKeystoneStandIn } from '../support/keystone-stand-in.js';
import { startSwift, type SwiftServer } from '../support/swift.js';
import { chunksOf, describeTransportConformance, readAll } from './conformance.js';

// One Swift for the whole file: starting one takes seconds.
let started: Promise<SwiftServer> | undefined;
const sharedSwift = () => (started ??= startSwift());
after(async () => (await started)?.stop());

const urlOf = (server: SwiftServer, path: string, extra = '') =>
  `swift://${path}?auth=${encodeURIComponent(server.authUrl)}&user=${encodeURIComponent(server.user)}${extra}`;

describeTransportConformance('swift', async () => {
  const server = await sharedSwift();
  return { transport: await openTransport(urlOf(server, 'conformance/archive'), { secret: server.key }), stop: async () => {} };
});

// 3 MB files in 1 MiB segments: every large put of the suite becomes a Static Large Object.
describeTransportConformance('swift, static large objects', async () => {
  const server = await sharedSwift();
  return { transport: await openTransport(urlOf(server, 'conformance-slo', `&segment_bytes=${1024 * 1024}`), { secret: server.key }), stop: async () => {} };
});

function isGanymedeError(exitCode: number, pattern: RegExp, secret?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof GanymedeError, String(error));
    assert.equal(error.exitCode, exitCode, error.message);
    assert.match(error.message, pattern);
    assert.doesNotMatch(`${error.message} ${error.hint}`, /\n/);
    if (secret) assert.ok(!`${error.message} ${error.hint}`.includes(secret), 'the secret is not repeated');
    return true;
  };
}

/** Lists a container straight from Swift, past the transport. */
async function listContainer(server: SwiftServer, container: string): Promise<string[]> {
  const auth = await fetch(server.authUrl, { headers: { 'X-Auth-User': server.user, 'X-Auth-Key': server.key } });
  const response = await fetch(`${auth.headers.get('x-storage-url')}/${container}?format=json`, { headers: { 'X-Auth-Token': auth.headers.get('x-auth-token')! } });
  if (response.status === 404) return [];
  return ((await response.json()) as Array<{ name: string }>).map((object) => object.name);
}

/** A source that gives `first` on its first read and `second` on every later one. */
function changingSource(first: Buffer, second: Buffer): PutSource {
  let reads = 0;
  return () => (++reads === 1 ? chunksOf(first) : chunksOf(second))();
}

describe('swift transport', () => {
  let server: SwiftServer;
  let transport: Transport;

  before(async () => {
    server = await sharedSwift();
    transport = await openTransport(urlOf(server, 'specific'), { secret: server.key });
  });
  after(() => transport.close());

  it('parses swift:// URLs, and refuses secrets and unknown parameters in them', () => {
    assert.deepEqual(parseLocation('swift://Archive/geo/eu?auth=https%3A%2F%2Fidentity.example%2Fv2.0&user=ganymede&region=LON&key_type=api_key'), {
      scheme: 'swift', container: 'Archive', prefix: 'geo/eu', authUrl: 'https://identity.example/v2.0', authVersion: 2, user: 'ganymede', tenant: undefined,
      region: 'LON', keyType: 'api_key', interface: 'public', segmentBytes: 5 * 1024 ** 3,
    });
    assert.equal((parseLocation('swift://c?auth=http://h:8080/auth/v1.0&user=test:tester') as { authVersion: number }).authVersion, 1);
    for (const [url, pattern] of [
      ['swift://c?user=u', /names no auth URL/],
      ['swift://c?auth=https://h/v2.0', /names no user/],
      ['swift://c?auth=https://h/v2.0&user=u&key=hunter22', /holds a key/],
      ['swift://u:hunter22@c?auth=https://h/v2.0&user=u', /holds a user or password/],
      ['swift://c?auth=https://h/v3&user=u', /ends neither in \/v1\.0 nor in \/v2\.0/],
      ['swift://c?auth=https://h/v2.0&user=u&colour=red', /unknown parameter colour/],
      ['swift://c?auth=https://h/v2.0&user=u&segment_bytes=0', /segment_bytes=0/],
    ] as const) {
      assert.throws(() => parseLocation(url), isGanymedeError(ExitCode.config, pattern, 'hunter22'));
    }
  });

  it('needs a key, and turns a wrong one into a config error that is not retried', async () => {
    await assert.rejects(openTransport(urlOf(server, 'specific')), isGanymedeError(ExitCode.config, /no key .* is configured for swift:\/\/specific/));
    const retries: string[] = [];
    const wrong = withRetry(await openTransport(urlOf(server, 'specific'), { secret: 'not-the-key' }), { baseDelayMs: 1, onRetry: (line) => retries.push(line) });
    await assert.rejects(wrong.list(), isGanymedeError(ExitCode.config, /auth\/v1\.0 refused the login of test:tester \(HTTP 401\)/, 'not-the-key'));
    assert.deepEqual(retries, []);
  });

  it('refuses a source that changes between the MD5 pass and the upload, and stores nothing', async () => {
    const first = randomBytes(200_000);
    const second = Buffer.from(first);
    second[100_000] = first[100_000]! ^ 0xff;
    await assert.rejects(transport.put('changing/same-size', changingSource(first, second)), isGanymedeError(ExitCode.failed, /HTTP 422.*MD5 the store computed differs .* nothing was stored/));
    assert.equal(await transport.stat('changing/same-size'), undefined);
    await assert.rejects(transport.put('changing/shorter', changingSource(first, first.subarray(0, 150_000))), isGanymedeError(ExitCode.failed, /gave 200000 bytes when its checksum was computed and 150000 when it was sent; nothing was stored/));
    // An older version stays whole.
    await transport.put('changing/kept', chunksOf(first));
    await assert.rejects(transport.put('changing/kept', changingSource(second, first)), isGanymedeError(ExitCode.failed, /MD5/));
    assert.ok((await readAll(await transport.get('changing/kept'))).equals(first));
    assert.deepEqual((await transport.list('changing/')).map((entry) => entry.name), ['changing/kept']);
  });

  it('stores a file over the segment size as a Static Large Object: one object, byte-identical, segments removed with it', async () => {
    const large = await openTransport(urlOf(server, 'slo/archive', '&segment_bytes=100000'), { secret: server.key });
    const content = randomBytes(350_001);
    assert.deepEqual(await large.put('2024/dump.tar.gpg', chunksOf(content, 30_000), { expectedSize: content.length }), { size: content.length });
    assert.ok((await readAll(await large.get('2024/dump.tar.gpg'))).equals(content), 'byte-identical');
    assert.deepEqual((await large.list()).map((entry) => [entry.name, entry.size]), [['2024/dump.tar.gpg', content.length]]);
    assert.equal((await large.stat('2024/dump.tar.gpg'))?.size, content.length);
    assert.equal((await listContainer(server, 'slo_segments')).length, 4);

    // A new version replaces the segments; a failed one leaves none behind and the old version whole.
    const fresh = randomBytes(250_000);
    await large.put('2024/dump.tar.gpg', chunksOf(fresh));
    assert.equal((await listContainer(server, 'slo_segments')).length, 3);
    const changed = Buffer.from(fresh);
    changed[210_000] = fresh[210_000]! ^ 1;
    await assert.rejects(large.put('2024/dump.tar.gpg', changingSource(fresh, changed)), isGanymedeError(ExitCode.failed, /segment 3 of 3 .*HTTP 422/));
    assert.equal((await listContainer(server, 'slo_segments')).length, 3);
    assert.ok((await readAll(await large.get('2024/dump.tar.gpg'))).equals(fresh));

    await large.remove('2024/dump.tar.gpg');
    await large.remove('2024/dump.tar.gpg');
    assert.deepEqual(await listContainer(server, 'slo_segments'), []);
    assert.deepEqual(await large.list(), []);
  });

  it('calls a stopped store unreachable, and retries it', async () => {
    const doomed = await startSwift();
    const retries: string[] = [];
    const down = withRetry(await openTransport(urlOf(doomed, 'down'), { secret: doomed.key }), { maxAttempts: 3, baseDelayMs: 1, onRetry: (line) => retries.push(line) });
    await down.put('before', chunksOf(Buffer.from('x')));
    await doomed.stop();
    await assert.rejects(down.list(), isGanymedeError(ExitCode.unreachable, /swift:\/\/down: could not list: connect ECONNREFUSED .*\(gave up after 3 attempts\)$/));
    assert.equal(retries.length, 2);
  });

  it('logs in through Keystone v2 / Rackspace identity and uses the object-store of its region', async () => {
    const identity = await startKeystoneStandIn({
      swift: server,
      users: [{ username: 'archiver', apiKey: 'rax-api-key' }, { username: 'operator', password: 'pass-word', tenant: 'ops' }],
      regions: { DFW: 'http://127.0.0.1:9/v1/AUTH_test', ORD: server.storageUrl },
      staleTokens: ['AUTH_tk-expired'],
    });
    const url = (user: string, extra: string) => `swift://keystone/in?auth=${encodeURIComponent(identity.authUrl)}&user=${user}${extra}`;
    try {
      // The first token handed out is refused by Swift, as an expired one is: the transport logs in again.
      const byApiKey = await openTransport(url('archiver', '&key_type=api_key&region=ord'), { secret: 'rax-api-key\n' });
      await byApiKey.put('file', chunksOf(Buffer.from('through identity')));
      assert.equal((await readAll(await byApiKey.get('file'))).toString(), 'through identity');
      assert.deepEqual(identity.logins, [{ type: 'apiKey', username: 'archiver' }, { type: 'apiKey', username: 'archiver' }]);

      const byPassword = await openTransport(url('operator', '&tenant=ops&region=ORD'), { secret: 'pass-word' });
      assert.deepEqual((await byPassword.list()).map((entry) => entry.name), ['file']);

      const config = (extra: string, secret: string, pattern: RegExp) => openTransport(url('archiver', extra), { secret }).then((t) => assert.rejects(t.list(), isGanymedeError(ExitCode.config, pattern, secret)));
      await config('&key_type=api_key&region=ORD', 'wrong-key', /v2\.0 refused the login of archiver \(HTTP 401\)/);
      await config('&region=ORD', 'rax-api-key', /refused the login of archiver/);
      await config('&key_type=api_key&region=SYD', 'rax-api-key', /has no object-store in region SYD/);
      await config('&key_type=api_key', 'rax-api-key', /object-stores in 2 regions; the location names none/);
    } finally {
      await identity.stop();
    }
  });
});
