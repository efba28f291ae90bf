// Transport.copyFrom against the rig's real Swift, as swift:// and through its s3api: the store copies an
// object from one container or bucket to another, the bytes never pass through this process (a counting
// relay in front of the store shows it), the copy outlives its source (a large object's included: the copy
// refers to none of the source's segments), and stores that cannot copy between them say so.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { openTransport } from '../../src/transport/location.js';
import { withRetry } from '../../src/transport/retry.js';
import type { Transport } from '../../src/transport/transport.js';
import { startSwift, type SwiftServer } from '../support/swift.js';
import { startCountingProxy, type CountingProxy } from '../archive/counting-proxy.js';
import { chunksOf, readAll } from './conformance.js';

const mebibyte = 1024 * 1024;
// What a copy request and its answer take on the wire, headers and manifests included: far below any file here.
const requestBytes = 64 * 1024;

let server: SwiftServer;
let relay: CountingProxy;
const opened: Transport[] = [];

before(async () => {
  server = await startSwift();
  relay = await startCountingProxy(server.proxyUrl);
});
after(async () => {
  for (const transport of opened) await transport.close();
  await relay?.close();
  await server?.stop();
});

const swiftUrl = (auth: string, path: string, extra = '') => `swift://${path}?auth=${encodeURIComponent(auth)}&user=${encodeURIComponent(server.user)}${extra}`;
const s3Url = (endpoint: string, path: string, extra = '') =>
  `s3://${encodeURIComponent(server.s3.accessKey)}@${path}?endpoint=${encodeURIComponent(endpoint)}&region=${server.s3.region}${extra}`;

/** As the archive opens its stores: behind the retry wrapper, which copyFrom must see through. */
async function store(url: string): Promise<Transport> {
  const transport = withRetry(await openTransport(url, { secret: url.startsWith('s3:') ? server.s3.secretKey : server.key }));
  opened.push(transport);
  return transport;
}

/** The object's headers and its container's names, straight from Swift with the rig's login. */
async function swiftApi(): Promise<{ head(path: string): Promise<Headers>; list(container: string): Promise<string[]> }> {
  const auth = await fetch(server.authUrl, { headers: { 'X-Auth-User': server.user, 'X-Auth-Key': server.key } });
  await auth.arrayBuffer();
  const headers = { 'X-Auth-Token': auth.headers.get('x-auth-token')! };
  return {
    async head(path) {
      const response = await fetch(`${server.storageUrl}/${path}`, { method: 'HEAD', headers });
      assert.equal(response.status, 200, path);
      return response.headers;
    },
    async list(container) {
      const response = await fetch(`${server.storageUrl}/${container}?format=json`, { headers });
      if (response.status === 404) return [];
      return ((await response.json()) as Array<{ name: string }>).map((object) => object.name);
    },
  };
}

/** Copies and asserts that neither the file's bytes went up nor came down through the relay. */
async function copyInStore(target: Transport, source: Transport, sourceName: string, name: string, size: number): Promise<void> {
  relay.reset();
  assert.deepEqual(await target.copyFrom!(source, sourceName, name), { size });
  assert.ok(relay.sent() < requestBytes && relay.received() < requestBytes, `${relay.sent()} bytes sent, ${relay.received()} received for a copy of ${size} bytes`);
}

const isFailed = (pattern: RegExp) => (error: unknown) => error instanceof GanymedeError && error.exitCode === ExitCode.failed && pattern.test(error.message);

describe('swift copyFrom', () => {
  it('copies a plain object between containers in the store, and the copy outlives its source', async () => {
    const inbox = await store(swiftUrl(`${relay.url}/auth/v1.0`, 'plain-inbox/in'));
    const archive = await store(swiftUrl(`${relay.url}/auth/v1.0`, 'plain-archive/centre'));
    const content = randomBytes(2 * mebibyte);
    await inbox.put('emea/hour.gpg', chunksOf(content));
    await copyInStore(archive, inbox, 'emea/hour.gpg', 'agent/2026-01-01T00/emea/hour.gpg', content.length);
    await inbox.remove('emea/hour.gpg');
    assert.ok((await readAll(await archive.get('agent/2026-01-01T00/emea/hour.gpg'))).equals(content));
    assert.deepEqual(await (await swiftApi()).list('plain-archive'), ['centre/agent/2026-01-01T00/emea/hour.gpg']);
  });

  it('copies a Static Large Object up to segment_bytes as one plain object, which needs none of the source segments', async () => {
    const inbox = await store(swiftUrl(`${relay.url}/auth/v1.0`, 'slo-inbox', `&segment_bytes=${mebibyte}`));
    const archive = await store(swiftUrl(`${relay.url}/auth/v1.0`, 'whole-archive'));
    const content = randomBytes(3 * mebibyte + 77);
    await inbox.put('emea/large.gpg', chunksOf(content));
    const api = await swiftApi();
    assert.equal((await api.list('slo-inbox_segments')).length, 4, 'the source is a large object');
    await copyInStore(archive, inbox, 'emea/large.gpg', 'large.gpg', content.length);
    assert.equal((await api.head('whole-archive/large.gpg')).get('x-static-large-object'), null);
    await inbox.remove('emea/large.gpg');
    assert.deepEqual(await api.list('slo-inbox_segments'), [], 'the source went with its segments');
    assert.ok((await readAll(await archive.get('large.gpg'))).equals(content));
  });

  it('copies one past segment_bytes range by range into segments of its own, and a copy over it leaves none of the old ones', async () => {
    const inbox = await store(swiftUrl(`${relay.url}/auth/v1.0`, 'slo-source', `&segment_bytes=${mebibyte}`));
    const archive = await store(swiftUrl(`${relay.url}/auth/v1.0`, 'slo-archive/centre', `&segment_bytes=${mebibyte}`));
    const api = await swiftApi();
    const first = randomBytes(3 * mebibyte + 5);
    await inbox.put('emea/large.gpg', chunksOf(first));
    await copyInStore(archive, inbox, 'emea/large.gpg', 'agent/large.gpg', first.length);
    assert.equal((await api.head('slo-archive/centre/agent/large.gpg')).get('x-static-large-object'), 'True');
    assert.equal((await api.list('slo-archive_segments')).length, 4);

    const second = randomBytes(2 * mebibyte + 9);
    await inbox.put('emea/large.gpg', chunksOf(second));
    await copyInStore(archive, inbox, 'emea/large.gpg', 'agent/large.gpg', second.length);
    assert.equal((await api.list('slo-archive_segments')).length, 3, 'the first copy\'s segments are gone');

    await inbox.remove('emea/large.gpg');
    assert.deepEqual(await api.list('slo-source_segments'), []);
    assert.ok((await readAll(await archive.get('agent/large.gpg'))).equals(second));
    await archive.remove('agent/large.gpg');
    assert.deepEqual(await api.list('slo-archive_segments'), [], 'removed with its own segments');
  });

  it('copies a plain object past segment_bytes as ranges too: one request never copies more than segment_bytes', async () => {
    const inbox = await store(swiftUrl(`${relay.url}/auth/v1.0`, 'range-inbox'));
    const archive = await store(swiftUrl(`${relay.url}/auth/v1.0`, 'range-archive', `&segment_bytes=${mebibyte}`));
    const content = randomBytes(2 * mebibyte + 1);
    await inbox.put('emea/hour.gpg', chunksOf(content));
    const api = await swiftApi();
    assert.equal((await api.head('range-inbox/emea/hour.gpg')).get('x-static-large-object'), null, 'the source is one object');
    await copyInStore(archive, inbox, 'emea/hour.gpg', 'hour.gpg', content.length);
    assert.equal((await api.list('range-archive_segments')).length, 3);
    await inbox.remove('emea/hour.gpg');
    assert.ok((await readAll(await archive.get('hour.gpg'))).equals(content));
  });

  it('cannot copy from a directory, nor from the store reached at another address; a missing source fails by name', async () => {
    const archive = await store(swiftUrl(`${relay.url}/auth/v1.0`, 'none-archive'));
    const dir = mkdtempSync(join(tmpdir(), 'gmd-copy-'));
    try {
      const local = await store(`file://${dir}`);
      await local.put('emea/hour.gpg', chunksOf(Buffer.from('local')));
      assert.equal(await archive.copyFrom!(local, 'emea/hour.gpg', 'hour.gpg'), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The same Swift at its own address: another storage URL, which X-Copy-From cannot name.
    const elsewhere = await store(swiftUrl(server.authUrl, 'none-inbox'));
    await elsewhere.put('emea/hour.gpg', chunksOf(Buffer.from('elsewhere')));
    assert.equal(await archive.copyFrom!(elsewhere, 'emea/hour.gpg', 'hour.gpg'), undefined);
    assert.deepEqual(await archive.list(), []);

    const inbox = await store(swiftUrl(`${relay.url}/auth/v1.0`, 'none-inbox'));
    await assert.rejects(archive.copyFrom!(inbox, 'emea/gone.gpg', 'gone.gpg'), isFailed(/swift:\/\/none-inbox: there is no emea\/gone\.gpg to copy/));
  });
});

describe('s3 copyFrom', () => {
  it('copies an object between buckets with CopyObject, and the copy outlives its source', async () => {
    const inbox = await store(s3Url(relay.url, 's3-inbox/in'));
    const archive = await store(s3Url(relay.url, 's3-archive/centre'));
    const content = randomBytes(2 * mebibyte);
    await inbox.put('emea/hour.gpg', chunksOf(content));
    await copyInStore(archive, inbox, 'emea/hour.gpg', 'agent/emea/hour.gpg', content.length);
    await inbox.remove('emea/hour.gpg');
    assert.ok((await readAll(await archive.get('agent/emea/hour.gpg'))).equals(content));
  });

  it('copies one past part_bytes as parts that are ranges of the source (UploadPartCopy)', async () => {
    const inbox = await store(s3Url(relay.url, 's3-large-inbox'));
    const archive = await store(s3Url(relay.url, 's3-large-archive', `&part_bytes=${5 * mebibyte}`));
    const content = randomBytes(11 * mebibyte + 3);
    await inbox.put('emea/large.gpg', chunksOf(content));
    await copyInStore(archive, inbox, 'emea/large.gpg', 'large.gpg', content.length);
    await inbox.remove('emea/large.gpg');
    assert.ok((await readAll(await archive.get('large.gpg'))).equals(content));
    // s3api keeps a multipart object as a Static Large Object: made of 3 parts, not one copy.
    assert.equal((await (await swiftApi()).list('s3-large-archive+segments')).length, 3);
  });

  it('cannot copy from another endpoint, another key or a swift:// store', async () => {
    const archive = await store(s3Url(relay.url, 's3-none-archive'));
    const direct = await store(s3Url(server.s3.endpoint, 's3-none-inbox'));
    await direct.put('emea/hour.gpg', chunksOf(Buffer.from('direct')));
    assert.equal(await archive.copyFrom!(direct, 'emea/hour.gpg', 'hour.gpg'), undefined);
    const otherKey = withRetry(await openTransport(s3Url(relay.url, 's3-none-inbox').replace(encodeURIComponent(server.s3.accessKey), 'someone-else'), { secret: 'x' }));
    assert.equal(await archive.copyFrom!(otherKey, 'emea/hour.gpg', 'hour.gpg'), undefined);
    const swift = await store(swiftUrl(`${relay.url}/auth/v1.0`, 's3-none-inbox'));
    assert.equal(await archive.copyFrom!(swift, 'emea/hour.gpg', 'hour.gpg'), undefined);
    assert.deepEqual(await archive.list(), []);
    const inbox = await store(s3Url(relay.url, 's3-none-inbox'));
    await assert.rejects(archive.copyFrom!(inbox, 'emea/gone.gpg', 'gone.gpg'), isFailed(/s3:\/\/s3-none-inbox: there is no emea\/gone\.gpg to copy/));
  });
});
