// Delivery into a swift:// inbox against the rig's real Swift: through the API's TempURLs (no GEO holds a
// store credential), in segments past segment_bytes, and with a GEO's own credentials; what a GEO may not
// get signed; what the store refuses; and that no URL reaches a log, an event or an error.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { uploadThroughApi } from '../../src/agent/presigned-upload.js';
import type { ApiClient } from '../../src/api/client.js';
import { runAgent } from '../../src/commands/agent/run.js';
import { runConfigCheck } from '../../src/commands/config/check.js';
import { ExitCode } from '../../src/exit-codes.js';
import { deliveryFileName } from '../../src/inbox/delivery-name.js';
import { openInboxStore } from '../../src/inbox/store.js';
import type { UploadPlan } from '../../src/inbox/upload-plan.js';
import { tempUrl } from '../../src/transport/swift-tempurl.js';
import type { AgentFixture } from '../support/agent-fixture.js';
import { writePrivateFile } from '../support/ganymede.js';
import { startSwift, type SwiftServer } from '../support/swift.js';
import { captureLogs, geoClient, randomFile, setTempUrlKey, storedDigest, storeInboxFixture, swiftInboxUrl, swiftObjects, throughApi, unmaskedSignature } from './inbox-store-support.js';
import { adminApi, inSource, isGanymedeError, storedEvents, transactions } from './support.js';

const segmentBytes = 100_000;

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

describe('agent run delivering into a swift:// inbox', { timeout: 300_000 }, () => {
  let server: SwiftServer;
  let fixture: AgentFixture;
  let logs: ReturnType<typeof captureLogs>;

  before(async () => {
    server = await startSwift();
    // segment_bytes lowered from Swift's 5 GiB so that a few hundred kB take the segmented path.
    fixture = await storeInboxFixture('emea', server, swiftInboxUrl(server, 'inbox', `&segment_bytes=${segmentBytes}`));
    await inSource(fixture, [
      'CREATE TABLE hosts (id INT PRIMARY KEY, name VARCHAR(40))',
      "INSERT INTO hosts VALUES (1, 'alpha'), (2, 'beta')",
      'CREATE TABLE blobs (id INT PRIMARY KEY, data LONGBLOB)',
      // Incompressible bytes, so the sealed file is past segment_bytes whatever the compressor.
      `INSERT INTO blobs VALUES (1, X'${randomBytes(350_000).toString('hex')}')`,
    ]);
    logs = captureLogs();
  });
  after(async () => {
    logs?.stop();
    await Promise.all([fixture?.dispose(), server?.stop()]);
  });

  test('a run uploads through a TempURL: the object <geo>/<name> holds exactly what was closed, and nothing else is stored', async () => {
    const result = await runAgent({ loaded: fixture.config({ ...throughApi, 'agent.source.include': 'hosts' }), cycle: '2026-11-20T01', retryBaseDelayMs: 10 });
    assert.ok(result.file.size < segmentBytes, 'one PUT');
    assert.deepEqual(await swiftObjects(server, 'inbox'), [`emea/${result.file.name}`]);
    assert.deepEqual(await storedDigest(fixture, `emea/${result.file.name}`), { sha256: result.file.sha256, size: result.file.size });
    const [txn] = await transactions(fixture);
    assert.deepEqual({ state: txn?.state, name: txn?.fileName, sha256: txn?.fileSha256 }, { state: 'delivered', name: result.file.name, sha256: result.file.sha256 });
    assert.ok((await storedEvents(fixture, result.transactionId)).some((event) => event.phase === 'delivered' && event.message === `${result.file.name} as swift://inbox/emea/${result.file.name} through a pre-signed upload`));
  });

  test('a file past segment_bytes goes up in segments, each with its own TempURL; the centre joins them; sha256 matches', async () => {
    const result = await runAgent({ loaded: fixture.config({ ...throughApi, 'agent.source.include': 'blobs' }), cycle: '2026-11-20T02', retryBaseDelayMs: 10 });
    const segments = Math.ceil(result.file.size / segmentBytes);
    assert.ok(segments >= 4, `${result.file.size} bytes`);
    assert.equal((await swiftObjects(server, 'inbox_segments')).filter((name) => name.startsWith(`emea/${result.file.name}/`)).length, segments);
    assert.deepEqual(await storedDigest(fixture, `emea/${result.file.name}`), { sha256: result.file.sha256, size: result.file.size });
  });

  test('segments are not the delivery: the object appears under its name only when the centre completes it', async () => {
    const api = geoClient(fixture);
    const { transaction } = await api.openTransaction('emea', '2026-11-20T03');
    const { path, file } = randomFile(fixture, deliveryFileName('emea', '2026-11-20T03', transaction.delivery, 'zstd'), 3 * segmentBytes + 17);
    const store = await openInboxStore(fixture.api.loaded);
    const seenBeforeComplete: unknown[] = [];
    const watching = Object.assign(Object.create(api) as ApiClient, {
      completeUpload: async (txnId: number, completed: typeof file) => {
        seenBeforeComplete.push(await store.stat(`emea/${file.name}`));
        return api.completeUpload(txnId, completed);
      },
    });
    const uploaded = await uploadThroughApi({ api: watching, txnId: transaction.id, file, path, retry: { baseDelayMs: 10 } });
    assert.deepEqual(uploaded, { target: `swift://inbox/emea/${file.name}`, parts: 4 });
    assert.deepEqual(seenBeforeComplete, [undefined]);
    assert.equal((await store.stat(`emea/${file.name}`))?.size, file.size);
    assert.deepEqual(await storedDigest(fixture, `emea/${file.name}`), { sha256: file.sha256, size: file.size });
    await store.close();
  });

  test('a URL the store refuses half way (expired) is renewed once, and the upload carries on at the same segment', async () => {
    const api = geoClient(fixture);
    const { transaction } = await api.openTransaction('emea', '2026-11-20T10');
    const { path, file } = randomFile(fixture, deliveryFileName('emea', '2026-11-20T10', transaction.delivery, 'zstd'), 3 * segmentBytes + 5);
    let requests = 0;
    const stale = Object.assign(Object.create(api) as ApiClient, {
      requestUpload: async (txnId: number, requested: typeof file) => {
        const reply = await api.requestUpload(txnId, requested);
        // The first plan's third URL no longer works, as one past its expiry would not.
        if (++requests === 1) (reply.upload as UploadPlan).parts[2]!.url = (reply.upload as UploadPlan).parts[2]!.url.replace(/temp_url_expires=\d+/, 'temp_url_expires=1');
        return reply;
      },
    });
    const retries: string[] = [];
    await uploadThroughApi({ api: stale, txnId: transaction.id, file, path, retry: { baseDelayMs: 10, onRetry: (line) => retries.push(line) } });
    assert.equal(requests, 2);
    assert.deepEqual(retries, []);
    assert.deepEqual(await storedDigest(fixture, `emea/${file.name}`), { sha256: file.sha256, size: file.size });
    assert.equal((await swiftObjects(server, 'inbox_segments')).filter((name) => name.startsWith(`emea/${file.name}/`)).length, 4, 'no segment twice');
  });

  test('a store that cannot be reached is retried, then fails as unreachable, with no URL in any retry line or the error', async () => {
    const api = geoClient(fixture);
    const { transaction } = await api.openTransaction('emea', '2026-11-20T11');
    const { path, file } = randomFile(fixture, deliveryFileName('emea', '2026-11-20T11', transaction.delivery, 'zstd'), 1000);
    const closed = await closedPort();
    const unreachable = Object.assign(Object.create(api) as ApiClient, {
      requestUpload: async (txnId: number, requested: typeof file) => {
        const reply = await api.requestUpload(txnId, requested);
        for (const part of (reply.upload as UploadPlan).parts) part.url = part.url.replace(/^http:\/\/[^/]+/, `http://127.0.0.1:${closed}`);
        return reply;
      },
    });
    const retries: string[] = [];
    await assert.rejects(
      uploadThroughApi({ api: unreachable, txnId: transaction.id, file, path, retry: { maxAttempts: 3, baseDelayMs: 10, onRetry: (line) => retries.push(line) } }),
      isGanymedeError(ExitCode.unreachable, new RegExp(`^uploading ${file.name.replace(/\./g, '\\.')}: could not store swift://inbox/emea/.*ECONNREFUSED.*\\(gave up after 3 attempts\\)$`)),
    );
    assert.equal(retries.length, 2);
    assert.deepEqual(retries.filter((line) => /temp_url|\?/.test(line)), []);
  });

  test('a single PUT in flight is not visible: the object appears whole when its last byte is in', async () => {
    const api = geoClient(fixture);
    const { transaction } = await api.openTransaction('emea', '2026-11-20T04');
    const { file } = randomFile(fixture, deliveryFileName('emea', '2026-11-20T04', transaction.delivery, 'zstd'), 1000);
    const plan = (await api.requestUpload(transaction.id, file)).upload as UploadPlan;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new Uint8Array(600));
        await held;
        controller.enqueue(new Uint8Array(400));
        controller.close();
      },
    });
    const put = fetch(plan.parts[0]!.url, { method: 'PUT', body, headers: { 'Content-Length': '1000' }, duplex: 'half' } as RequestInit);
    const store = await openInboxStore(fixture.api.loaded);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await store.stat(`emea/${file.name}`), undefined, 'nothing under the name while bytes are missing');
    release();
    assert.equal((await put).status, 201);
    assert.equal((await store.stat(`emea/${file.name}`))?.size, 1000);
    await store.close();
  });

  test("a GEO gets no upload for another GEO's transaction, another name, a closed hour, or past the store's limit", async () => {
    const added = await adminApi(fixture, 'POST', '/v1/geos', { name: 'apac', publicKey: readFileSync(fixture.keys.geoPublic, 'utf8') });
    const apacToken = added.json.token as string;
    const emea = geoClient(fixture);
    const { transaction } = await emea.openTransaction('emea', '2026-11-20T05');
    const name = deliveryFileName('emea', '2026-11-20T05', transaction.delivery, 'zstd');
    const file = { name, size: 1000, sha256: 'a'.repeat(64) };
    const upload = async (token: string, body: unknown) => {
      const response = await fetch(`${fixture.api.url}/v1/transactions/${transaction.id}/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const json = (await response.json()) as { error?: string; upload?: UploadPlan };
      return { status: response.status, error: json.error, urls: json.upload?.parts.length ?? 0 };
    };
    assert.deepEqual(await upload(apacToken, { file }), { status: 403, error: "GEO apac's token cannot act for GEO emea", urls: 0 });
    for (const other of [deliveryFileName('emea', '2026-11-20T06', transaction.delivery, 'zstd'), deliveryFileName('emea', '2026-11-20T05', transaction.delivery + 1, 'zstd'), deliveryFileName('apac', '2026-11-20T05', 1, 'zstd')]) {
      const refused = await upload(fixture.token, { file: { ...file, name: other } });
      assert.equal(refused.status, 403, other);
      assert.match(refused.error ?? '', new RegExp(`${other.replace(/\./g, '\\.')} is not the file of transaction ${transaction.id} \\(emea, 2026-11-20T05, delivery 1\\)`));
    }
    for (const hostile of ['../apac/x.gpg', 'emea/x.gpg', '']) assert.equal((await upload(fixture.token, { file: { ...file, name: hostile } })).status, 400, hostile);
    assert.deepEqual(await upload(fixture.token, { file: { ...file, size: 1000 * segmentBytes + 1 } }), {
      status: 413, error: `field "file.size": ${1000 * segmentBytes + 1} bytes is more than the ${1000 * segmentBytes} the centre's inbox takes through pre-signed uploads`, urls: 0,
    });
    assert.equal((await upload(fixture.token, { file })).status, 200);
    await emea.closeTransaction(transaction.id, file);
    assert.deepEqual(await upload(fixture.token, { file }), { status: 409, error: `transaction ${transaction.id} is delivered, not open; open it again before uploading`, urls: 0 });
  });

  test('the store refuses a TempURL that was tampered with, points at another object, or has expired', async () => {
    const api = geoClient(fixture);
    const { transaction } = await api.openTransaction('emea', '2026-11-20T07');
    const { file } = randomFile(fixture, deliveryFileName('emea', '2026-11-20T07', transaction.delivery, 'zstd'), 100);
    const url = ((await api.requestUpload(transaction.id, file)).upload as UploadPlan).parts[0]!.url;
    const put = async (target: string) => (await fetch(target, { method: 'PUT', body: 'x'.repeat(100) })).status;
    const flipped = url.replace(/temp_url_sig=([0-9a-f])/, (_whole, digit: string) => `temp_url_sig=${digit === '0' ? '1' : '0'}`);
    assert.equal(await put(flipped), 401);
    assert.equal(await put(url.replace(`/emea/${file.name}`, '/apac/stolen.gpg')), 401);
    assert.equal(await put(url.replace(/temp_url_expires=\d+/, `temp_url_expires=${Math.floor(Date.now() / 1000) + 86_400}`)), 401, 'a later expiry breaks the signature');
    const storageUrl = new URL(url).origin + new URL(url).pathname.split('/inbox/')[0];
    const expired = tempUrl({ storageUrl, container: 'inbox', objectName: `emea/${file.name}`, method: 'PUT', expiresAtS: Math.floor(Date.now() / 1000) - 1, key: server.tempUrlKey, digest: 'sha256' });
    assert.equal(await put(expired), 401);
    assert.equal(await put(url.replace(/\?.*$/, '')), 401, 'no signature, no access');
    const store = await openInboxStore(fixture.api.loaded);
    assert.deepEqual((await store.list('apac/')).concat(await store.list(`emea/${file.name}`)), []);
    await store.close();
  });

  test('URLs the store refuses (the Temp-URL-Key changed) fail the run as refused, the hour agent_failed, with no URL in the error', async () => {
    await setTempUrlKey(server.authUrl, server.user, server.key, 'a-key-the-centre-does-not-know');
    try {
      await assert.rejects(
        runAgent({ loaded: fixture.config({ ...throughApi, 'agent.source.include': 'hosts' }), cycle: '2026-11-20T08', retryBaseDelayMs: 10 }),
        isGanymedeError(ExitCode.refused, /^the object store refused the upload URL for swift:\/\/inbox\/emea\/emea_2026-11-20T08_d1\.tar\.zst\.gpg \(HTTP 401\)$/),
      );
    } finally {
      await setTempUrlKey(server.authUrl, server.user, server.key, server.tempUrlKey);
    }
    const txn = (await transactions(fixture)).find((row) => row.cycle === '2026-11-20T08');
    assert.equal(txn?.state, 'agent_failed');
    assert.doesNotMatch(txn?.error ?? '', /temp_url|\?/);
  });

  test("a GEO's own credentials (agent.inbox swift://inbox/<geo>) deliver through the same transport, to the same object name", async () => {
    const own = swiftInboxUrl(server, 'inbox/emea');
    const result = await runAgent({ loaded: fixture.config({ 'agent.inbox': own, 'agent.inbox_secret_file': writePrivateFile(join(fixture.dir, 'inbox-secret'), server.key), 'agent.source.include': 'hosts' }), cycle: '2026-11-20T09', retryBaseDelayMs: 10 });
    assert.deepEqual(await storedDigest(fixture, `emea/${result.file.name}`), { sha256: result.file.sha256, size: result.file.size });
  });

  test('config check: an "api" inbox defers to the API row; a swift:// inbox is logged in to, with the GEO\'s key or refused without it', async () => {
    const rowOf = async (settings: Record<string, string>) => (await runConfigCheck({ loaded: fixture.config(settings) })).rows.find((row) => row.target === 'central inbox');
    assert.deepEqual(await rowOf(throughApi).then((row) => [row?.ok, row?.note]), [true, 'the API hands out each upload (see the api row)']);
    const own = { 'agent.inbox': swiftInboxUrl(server, 'inbox/emea') };
    assert.deepEqual(await rowOf({ ...own, 'agent.inbox_secret_file': writePrivateFile(join(fixture.dir, 'good-secret'), server.key) }).then((row) => [row?.ok, row?.note]), [true, 'swift://inbox/emea answers']);
    const wrong = await rowOf({ ...own, 'agent.inbox_secret_file': writePrivateFile(join(fixture.dir, 'bad-secret'), 'not-the-key') });
    assert.equal(wrong?.ok, false);
    assert.match(wrong?.error ?? '', /refused the login of test:tester \(HTTP 401\)/);
  });

  test('no log line, event or transaction error holds a signed URL', async () => {
    assert.ok(logs.lines.some((line) => /POST \/v1\/transactions\/\d+\/upload 200/.test(line)), 'the API logged the uploads it signed');
    assert.deepEqual(logs.lines.filter((line) => unmaskedSignature.test(line) || line.includes(server.tempUrlKey)), []);
    for (const txn of await transactions(fixture)) {
      assert.doesNotMatch(txn.error ?? '', /temp_url_sig/);
      for (const event of await storedEvents(fixture, txn.id)) assert.doesNotMatch(event.message ?? '', /temp_url_sig|temp_url_expires/);
    }
  });
});
