// Delivery into an s3:// inbox against the rig's Swift through its s3api: through an S3 pre-signed PUT
// (SigV4 in the query, signed by the API), and with a GEO's own credentials; what the store refuses; the
// single-PUT limit; and that no signed URL reaches a log.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runAgent } from '../../src/commands/agent/run.js';
import { deliveryFileName } from '../../src/inbox/delivery-name.js';
import { openInboxStore } from '../../src/inbox/store.js';
import type { UploadPlan } from '../../src/inbox/upload-plan.js';
import { presignS3Url } from '../../src/transport/s3-presign.js';
import type { AgentFixture } from '../support/agent-fixture.js';
import { writePrivateFile } from '../support/ganymede.js';
import { startSwift, type SwiftServer } from '../support/swift.js';
import { captureLogs, geoClient, randomFile, s3InboxUrl, storedDigest, storeInboxFixture, throughApi, unmaskedSignature } from './inbox-store-support.js';
import { inSource, transactions } from './support.js';

describe('agent run delivering into an s3:// inbox', { timeout: 300_000 }, () => {
  let server: SwiftServer;
  let fixture: AgentFixture;
  let logs: ReturnType<typeof captureLogs>;

  before(async () => {
    server = await startSwift();
    fixture = await storeInboxFixture('emea', server, s3InboxUrl(server, 'deliveries/in'));
    await inSource(fixture, ['CREATE TABLE hosts (id INT PRIMARY KEY, name VARCHAR(40))', "INSERT INTO hosts VALUES (1, 'alpha'), (2, 'beta')"]);
    logs = captureLogs();
  });
  after(async () => {
    logs?.stop();
    await Promise.all([fixture?.dispose(), server?.stop()]);
  });

  test('a run uploads through a pre-signed PUT: the key <prefix>/<geo>/<name> holds exactly what was closed', async () => {
    const result = await runAgent({ loaded: fixture.config(throughApi), cycle: '2026-11-20T01', retryBaseDelayMs: 10 });
    const store = await openInboxStore(fixture.api.loaded);
    assert.deepEqual((await store.list()).map((entry) => entry.name), [`emea/${result.file.name}`]);
    await store.close();
    assert.deepEqual(await storedDigest(fixture, `emea/${result.file.name}`), { sha256: result.file.sha256, size: result.file.size });
    assert.equal((await transactions(fixture))[0]?.state, 'delivered');
  });

  test('the store refuses a pre-signed URL that was tampered with, points at another key, was stretched, or has expired', async () => {
    const api = geoClient(fixture);
    const { transaction } = await api.openTransaction('emea', '2026-11-20T02');
    const { file } = randomFile(fixture, deliveryFileName('emea', '2026-11-20T02', transaction.delivery, 'zstd'), 100);
    const plan = (await api.requestUpload(transaction.id, file)).upload as UploadPlan;
    assert.equal(plan.checksumHeader, 'content-md5');
    const url = plan.parts[0]!.url;
    const put = async (target: string) => {
      const response = await fetch(target, { method: 'PUT', body: 'x'.repeat(100) });
      return `${response.status} ${/<Code>(\w+)<\/Code>/.exec(await response.text())?.[1] ?? ''}`;
    };
    const flipped = url.replace(/X-Amz-Signature=([0-9a-f])/, (_whole, digit: string) => `X-Amz-Signature=${digit === '0' ? '1' : '0'}`);
    assert.equal(await put(flipped), '403 SignatureDoesNotMatch');
    assert.equal(await put(url.replace(`/emea/${file.name}`, '/apac/stolen.gpg')), '403 SignatureDoesNotMatch');
    assert.equal(await put(url.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=604800')), '403 SignatureDoesNotMatch');
    const expired = presignS3Url({
      location: { bucket: 'deliveries', endpoint: server.s3.endpoint, region: server.s3.region, pathStyle: true },
      accessKeyId: server.s3.accessKey,
      secret: server.s3.secretKey,
      method: 'PUT',
      key: `in/emea/${file.name}`,
      expiresSeconds: 60,
      now: new Date(Date.now() - 3_600_000),
    });
    assert.equal(await put(expired), '403 AccessDenied');
    const store = await openInboxStore(fixture.api.loaded);
    assert.deepEqual((await store.list('apac/')).concat(await store.list(`emea/${file.name}`)), []);
    // The URL it handed out works: the refusals above were the store's judgement of each change.
    assert.equal(await put(url), '200 ');
    assert.equal((await store.stat(`emea/${file.name}`))?.size, 100);
    await store.close();
  });

  test("a file past S3's single PUT (5 GiB) is refused before anything is signed", async () => {
    const api = geoClient(fixture);
    const { transaction } = await api.openTransaction('emea', '2026-11-20T03');
    const size = 5 * 1024 ** 3 + 1;
    await assert.rejects(api.requestUpload(transaction.id, { name: deliveryFileName('emea', '2026-11-20T03', transaction.delivery, 'zstd'), size, sha256: 'a'.repeat(64) }), (error: Error) => {
      assert.match(error.message, new RegExp(`answered 413 .*${size} bytes is more than the ${5 * 1024 ** 3} the centre's inbox takes through pre-signed uploads`));
      return true;
    });
  });

  test("a GEO's own credentials (agent.inbox s3://…/<geo>) deliver through the S3 transport, to the same key", async () => {
    const own = s3InboxUrl(server, 'deliveries/in/emea');
    const secretFile = writePrivateFile(join(fixture.dir, 's3-secret'), server.s3.secretKey);
    const result = await runAgent({ loaded: fixture.config({ 'agent.inbox': own, 'agent.inbox_secret_file': secretFile }), cycle: '2026-11-20T04', retryBaseDelayMs: 10 });
    assert.deepEqual(await storedDigest(fixture, `emea/${result.file.name}`), { sha256: result.file.sha256, size: result.file.size });
  });

  test('no log line holds a signed URL', () => {
    assert.ok(logs.lines.some((line) => /POST \/v1\/transactions\/\d+\/upload 200/.test(line)));
    assert.deepEqual(logs.lines.filter((line) => unmaskedSignature.test(line) || line.includes(server.s3.secretKey)), []);
  });
});
