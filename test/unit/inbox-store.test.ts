// The object-store inbox's pure parts: the signatures (against published vectors), the inbox's URL from
// config, the delivery's name and object name, the agent's check of a plan, and log redaction of signed URLs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { centreDirs } from '../../src/config/load.js';
import { GanymedeError } from '../../src/errors.js';
import { deliveryFileName, deliveryObjectName, isDeliveryFileOf } from '../../src/inbox/delivery-name.js';
import { inboxUrl, isObjectStoreInbox } from '../../src/inbox/store.js';
import { checkUploadPlan } from '../../src/inbox/upload-plan.js';
import { openInboxUploads } from '../../src/inbox/uploads.js';
import { redact } from '../../src/log.js';
import { presignS3Url } from '../../src/transport/s3-presign.js';
import { tempUrl, tempUrlSignature } from '../../src/transport/swift-tempurl.js';
import { testConfig } from '../support/ganymede.js';

test("S3 pre-signing reproduces AWS's documented example (GET test.txt, examplebucket, 2013-05-24)", () => {
  const url = presignS3Url({
    location: { bucket: 'examplebucket', endpoint: 'https://s3.amazonaws.com', region: 'us-east-1', pathStyle: false },
    accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
    secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    method: 'GET',
    key: 'test.txt',
    expiresSeconds: 86_400,
    now: new Date('2013-05-24T00:00:00Z'),
  });
  assert.equal(
    url,
    'https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
  );
});

test("a Swift TempURL signs METHOD\\nEXPIRES\\nPATH as Swift's tempurl docs say, in sha256 or sha1", () => {
  // Expected values from Python's hmac, as the middleware computes them.
  const path = '/v1/AUTH_account/container/emea/f.gpg';
  assert.equal(tempUrlSignature('PUT', 1512508563, path, 'mykey', 'sha256'), '06adb62a33012601d4b4568565413216baa69e58c7c191aaad3bbccb33bdf1fc');
  assert.equal(tempUrlSignature('PUT', 1512508563, path, 'mykey', 'sha1'), '1288c6ac42b9a7037653dc9e110d1a2998f951ec');
  assert.equal(
    tempUrl({ storageUrl: 'https://storage.example/v1/AUTH_account/', container: 'container', objectName: 'emea/f.gpg', method: 'PUT', expiresAtS: 1512508563, key: 'mykey', digest: 'sha256' }),
    'https://storage.example/v1/AUTH_account/container/emea/f.gpg?temp_url_sig=06adb62a33012601d4b4568565413216baa69e58c7c191aaad3bbccb33bdf1fc&temp_url_expires=1512508563',
  );
});

test('log lines never show the signature of a TempURL or a pre-signed S3 URL', () => {
  const line = redact('PUT https://s.example/v1/AUTH_a/c/o?temp_url_sig=abcdef0123&temp_url_expires=1 and https://b.s3.example/k?X-Amz-Credential=AKIA%2F2013&X-Amz-Signature=aeeed9bb&X-Amz-Date=1');
  assert.equal(line, 'PUT https://s.example/v1/AUTH_a/c/o?temp_url_sig=***&temp_url_expires=1 and https://b.s3.example/k?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Date=1');
});

test('the inbox URL: centre.inbox, else centre.inbox_dir or <data_dir>/inbox as file://; a file:// centre.inbox is the local inbox dir', () => {
  assert.equal(inboxUrl(testConfig({ 'site.data_dir': '/srv/g' })), 'file:///srv/g/inbox');
  assert.equal(inboxUrl(testConfig({ 'centre.inbox_dir': '/srv/in' })), 'file:///srv/in');
  const swift = testConfig({ 'centre.inbox': 'swift://inbox?auth=https://id.example/v2.0&user=u' });
  assert.equal(inboxUrl(swift), 'swift://inbox?auth=https://id.example/v2.0&user=u');
  assert.equal(isObjectStoreInbox(swift), true);
  const local = testConfig({ 'centre.inbox': 'file:///srv/deliveries/' });
  assert.equal(isObjectStoreInbox(local), false);
  assert.equal(centreDirs(local.config).inbox, '/srv/deliveries');
});

test('the config refuses centre.inbox with centre.inbox_dir, and an agent.inbox that is no inbox', () => {
  const problems = (settings: Record<string, string>) => {
    try {
      testConfig(settings);
    } catch (error) {
      assert.ok(error instanceof GanymedeError);
      return error.details;
    }
    return [];
  };
  assert.deepEqual(problems({ 'centre.inbox': 'file:///a', 'centre.inbox_dir': '/b' }), ['centre.inbox_dir: set together with centre.inbox; keep one (centre.inbox_dir is the same as centre.inbox file:///dir)']);
  assert.match(problems({ 'agent.inbox': 'ftp://h/in' })[0] ?? '', /^agent\.inbox: expected api \(upload through the pre-signed URLs the API hands out\), sftp:/);
  for (const inbox of ['api', 'swift://inbox/emea?auth=https://id.example/v2.0&user=u', 's3://KEY@bucket/emea', 'file:///in/emea']) assert.deepEqual(problems({ 'agent.inbox': inbox }), [], inbox);
});

test('the API signs uploads only for an object-store inbox, and says which setting is missing when it cannot', async () => {
  assert.equal(await openInboxUploads(testConfig({ 'centre.inbox_dir': '/srv/in' })), undefined);
  const swift = { 'centre.inbox': 'swift://inbox?auth=https://id.example/v2.0&user=u&segment_bytes=1000' };
  const withoutKey = await openInboxUploads(testConfig(swift, { 'centre.inbox_secret': 'store-secret' }));
  assert.equal(withoutKey?.unavailable, "the centre cannot sign uploads: centre.inbox is swift:// but centre.inbox_temp_url_key_file is not set on the API's host");
  const ready = await openInboxUploads(testConfig(swift, { 'centre.inbox_secret': 'store-secret', 'centre.inbox_temp_url_key': 'temp-key' }));
  assert.deepEqual([ready?.unavailable, ready?.maxBytes], [undefined, 1000 * 1000]);
  await assert.rejects(openInboxUploads(testConfig(swift)), /no key \(or password, or API key\) is configured for swift:\/\/inbox/);
  const s3 = await openInboxUploads(testConfig({ 'centre.inbox': 's3://KEY@bucket/in?endpoint=https://s3.example' }, { 'centre.inbox_secret': 's3-secret' }));
  assert.deepEqual([s3?.unavailable, s3?.maxBytes], [undefined, 5 * 1024 ** 3]);
});

test("a delivery's name is its transaction's, with either compression; its object is below the GEO's prefix", () => {
  const txn = { geo: 'emea', cycle: '2026-11-20T01', delivery: 2 };
  assert.ok(isDeliveryFileOf(deliveryFileName('emea', '2026-11-20T01', 2, 'zstd'), txn));
  assert.ok(isDeliveryFileOf('emea_2026-11-20T01_d2.tar.gz.gpg', txn));
  for (const other of ['emea_2026-11-20T01_d1.tar.gz.gpg', 'emea_2026-11-20T02_d2.tar.gz.gpg', 'apac_2026-11-20T01_d2.tar.gz.gpg', 'emea_2026-11-20T01_d2.tar.gz']) assert.ok(!isDeliveryFileOf(other, txn), other);
  assert.equal(deliveryObjectName('emea', 'f.gpg'), 'emea/f.gpg');
});

test("the agent refuses a malformed plan before sending a byte, naming what is wrong but never a URL", () => {
  const part = { url: 'https://s.example/v1/AUTH_a/c/o?temp_url_sig=secret', size: 10 };
  const plan = { target: 'swift://c/emea/f', expiresAt: '2026-01-01T00:00:00Z', checksumHeader: 'etag', parts: [part] };
  assert.deepEqual(checkUploadPlan(plan, 10), plan);
  assert.equal(checkUploadPlan({ ...plan, parts: [part, { ...part, size: 5 }] }, 10), "its parts add up to 15 bytes, not the file's 10");
  assert.equal(checkUploadPlan({ ...plan, parts: [{ ...part, url: 'file:///etc/passwd' }] }, 10), 'a part has no http(s) URL');
  assert.equal(checkUploadPlan({ ...plan, checksumHeader: 'crc' }, 10), 'its checksum header is unknown');
  assert.equal(checkUploadPlan(undefined, 10), 'it has no target or expiry');
});
