// What `worker send` trusts in a shared feed store: only a manifest of its own cycle, naming plain files with
// a size and sha256; and a file only as the manifest describes it, or the read fails before its last byte.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { Readable } from 'node:stream';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { readFeedFile, readFeedManifest, type FeedFile } from '../../src/feed/store.js';
import { FileTransport } from '../../src/transport/file.js';
import { tempDir } from '../support/ganymede.js';

const cycle = '2026-10-01T05';
const body = Buffer.from('{"id":1}\n');
const file: FeedFile = { name: 'accounts.ndjson.gz', collection: 'accounts', rows: 1, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') };
const manifestOf = (files: unknown[], forCycle = cycle) => ({ format: 'ganymede-feed', version: 1, cycle: forCycle, encoding: 'ndjson', mode: 'full', geos: ['emea'], missingGeos: [], files });

async function withStore(work: (store: FileTransport) => Promise<void>): Promise<void> {
  const dir = tempDir('feed-store-manifest');
  try {
    await work(new FileTransport(dir.path));
  } finally {
    dir.remove();
  }
}

const put = (store: FileTransport, name: string, content: unknown) =>
  store.put(`${cycle}/${name}`, () => Readable.from([Buffer.isBuffer(content) ? content : Buffer.from(JSON.stringify(content))]));

const failed = (pattern: RegExp) => (error: GanymedeError) => error.exitCode === ExitCode.failed && pattern.test(error.message);

test('no manifest is no feed; a manifest of another cycle, or naming a path rather than a file, is refused', async () => {
  await withStore(async (store) => {
    assert.equal(await readFeedManifest(store, cycle), undefined);
    await put(store, 'manifest.json', manifestOf([file], '2026-10-01T04'));
    await assert.rejects(readFeedManifest(store, cycle), failed(/is not a feed manifest of cycle 2026-10-01T05: it is the manifest of cycle 2026-10-01T04/));
    await put(store, 'manifest.json', manifestOf([{ ...file, name: '../../etc/cron.d/x' }]));
    await assert.rejects(readFeedManifest(store, cycle), failed(/it names a file "..\/..\/etc\/cron.d\/x"/));
    await put(store, 'manifest.json', manifestOf([file]));
    const feed = await readFeedManifest(store, cycle);
    assert.deepEqual(feed?.manifest.files, [file]);
  });
});

test('a feed file is read only as its manifest says: longer, shorter or different, the read fails at its end', async () => {
  await withStore(async (store) => {
    const read = async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of readFeedFile(store, cycle, file)) chunks.push(chunk);
      return Buffer.concat(chunks);
    };
    await put(store, file.name, body);
    assert.ok((await read()).equals(body));
    await put(store, file.name, Buffer.concat([body, Buffer.from('x')]));
    await assert.rejects(read(), failed(/accounts.ndjson.gz is not the file its manifest names \(at least 10 bytes, not 9\); it was not sent/));
    await put(store, file.name, body.subarray(1));
    await assert.rejects(read(), failed(/\(8 bytes, not 9\)/));
    await put(store, file.name, Buffer.from('{"id":2}\n'));
    await assert.rejects(read(), failed(/\(sha256 [0-9a-f]{64}, not [0-9a-f]{64}\)/));
  });
});
