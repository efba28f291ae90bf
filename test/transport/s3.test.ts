// The S3 transport against the real Swift's s3api (the S3 API of the same one-node Swift the swift tests
// use): the conformance suite, then what only S3 can get wrong.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { openTransport, parseLocation } from '../../src/transport/location.js';
import { withRetry } from '../../src/transport/retry.js';
import type { PutSource, Transport } from '../../src/transport/transport.js';
import { startSwift, type SwiftServer } from '../support/swift.js';
import { chunksOf, describeTransportConformance, readAll } from './conformance.js';

let started: Promise<SwiftServer> | undefined;
const sharedSwift = () => (started ??= startSwift());
after(async () => (await started)?.stop());

const mebibyte = 1024 * 1024;
const urlOf = (server: SwiftServer, path: string, extra = '') =>
  `s3://${encodeURIComponent(server.s3.accessKey)}@${path}?endpoint=${encodeURIComponent(server.s3.endpoint)}&region=${server.s3.region}${extra}`;

describeTransportConformance('s3', async () => {
  const server = await sharedSwift();
  return { transport: await openTransport(urlOf(server, 'conformance/archive'), { secret: server.s3.secretKey }), stop: async () => {} };
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

function changingSource(first: Buffer, second: Buffer): PutSource {
  let reads = 0;
  return () => (++reads === 1 ? chunksOf(first) : chunksOf(second))();
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('s3 transport', () => {
  let server: SwiftServer;
  let transport: Transport;

  before(async () => {
    server = await sharedSwift();
    transport = await openTransport(urlOf(server, 'specific'), { secret: server.s3.secretKey });
  });
  after(() => transport.close());

  it('parses s3:// URLs, and refuses a secret in them', async () => {
    assert.deepEqual(parseLocation('s3://AKIAEXAMPLE@archive/geo/eu/?endpoint=https://s3.example&region=eu-west-1&part_bytes=8388608'), {
      scheme: 's3', bucket: 'archive', prefix: 'geo/eu', endpoint: 'https://s3.example', region: 'eu-west-1', pathStyle: true, accessKeyId: 'AKIAEXAMPLE', partBytes: 8 * mebibyte,
    });
    assert.deepEqual(parseLocation('s3://archive'), {
      scheme: 's3', bucket: 'archive', prefix: '', endpoint: undefined, region: 'us-east-1', pathStyle: false, accessKeyId: undefined, partBytes: 512 * mebibyte,
    });
    for (const [url, pattern] of [
      ['s3://AKIA:hunter22@archive', /holds a secret key/],
      ['s3://archive?endpoint=ftp://h', /not http\(s\)/],
      ['s3://archive?part_bytes=1000', /part_bytes=1000/],
      ['s3://archive?secret=hunter22', /holds a secret/],
      ['s3://archive?region=x&colour=red', /unknown parameter colour/],
    ] as const) {
      assert.throws(() => parseLocation(url), isGanymedeError(ExitCode.config, pattern, 'hunter22'));
    }
    await assert.rejects(openTransport('s3://archive'), isGanymedeError(ExitCode.config, /no secret access key is configured for s3:\/\/archive/));
    await assert.rejects(openTransport('s3://archive', { secret: 's' }), isGanymedeError(ExitCode.config, /no access key id is configured/));
  });

  it('turns a wrong secret key into a config error that is not retried', async () => {
    const retries: string[] = [];
    const wrong = withRetry(await openTransport(urlOf(server, 'specific'), { secret: 'not-the-secret' }), { baseDelayMs: 1, onRetry: (line) => retries.push(line) });
    await assert.rejects(wrong.list(), isGanymedeError(ExitCode.config, /s3:\/\/specific: could not list: .*SignatureDoesNotMatch/, 'not-the-secret'));
    assert.deepEqual(retries, []);
    await wrong.close();
  });

  it('refuses a source that changes between the MD5 pass and the upload, and stores nothing', async () => {
    const first = randomBytes(200_000);
    const second = Buffer.from(first);
    second[1_000] = first[1_000]! ^ 0xff;
    await assert.rejects(transport.put('changing/same-size', changingSource(first, second)), isGanymedeError(ExitCode.failed, /MD5 the store computed differs .* nothing was stored/));
    assert.equal(await transport.stat('changing/same-size'), undefined);
    await assert.rejects(transport.put('changing/shorter', changingSource(first, first.subarray(0, 150_000))), isGanymedeError(ExitCode.failed, /gave 200000 bytes when its checksum was computed and 150000 when it was sent/));
    assert.deepEqual(await transport.list('changing/'), []);
  });

  it('sends a file over part_bytes as a multipart upload: one object, byte-identical, no upload left open', async () => {
    const multipart = await openTransport(urlOf(server, 'multipart/archive', `&part_bytes=${5 * mebibyte}`), { secret: server.s3.secretKey });
    const content = randomBytes(11 * mebibyte + 7);
    assert.deepEqual(await multipart.put('dump.tar.gpg', chunksOf(content), { expectedSize: content.length }), { size: content.length });
    assert.ok((await readAll(await multipart.get('dump.tar.gpg'))).equals(content), 'byte-identical');
    assert.deepEqual((await multipart.list()).map((entry) => [entry.name, entry.size]), [['dump.tar.gpg', content.length]]);

    // A part the store refuses aborts the upload: the older version stays whole, no parts are kept.
    const changed = Buffer.from(content);
    changed[6 * mebibyte] = content[6 * mebibyte]! ^ 1;
    await assert.rejects(multipart.put('dump.tar.gpg', changingSource(content, changed)), isGanymedeError(ExitCode.failed, /MD5/));
    assert.ok((await readAll(await multipart.get('dump.tar.gpg'))).equals(content));
    const client = new S3Client({ region: server.s3.region, endpoint: server.s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: server.s3.accessKey, secretAccessKey: server.s3.secretKey } });
    try {
      assert.deepEqual((await client.send(new ListMultipartUploadsCommand({ Bucket: 'multipart' }))).Uploads ?? [], []);
    } finally {
      client.destroy();
    }
    await multipart.remove('dump.tar.gpg');
    assert.deepEqual(await multipart.list(), []);
    await multipart.close();
  });

  it('calls a store that does not answer unreachable, and retries it', async () => {
    const url = `s3://key@down?endpoint=http://127.0.0.1:${await closedPort()}`;
    const retries: string[] = [];
    const down = withRetry(await openTransport(url, { secret: 'x' }), { maxAttempts: 3, baseDelayMs: 1, onRetry: (line) => retries.push(line) });
    await assert.rejects(down.list(), isGanymedeError(ExitCode.unreachable, /s3:\/\/down: could not list: .*ECONNREFUSED.*\(gave up after 3 attempts\)$/));
    assert.equal(retries.length, 2);
    await down.close();
  });
});
