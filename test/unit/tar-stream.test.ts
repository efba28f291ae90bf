import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { partName, tarEnd, tarEntry, tarParts } from '../../src/dump/tar-stream.js';
import { tempDir } from '../support/ganymede.js';

async function* chunks(data: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield data.subarray(at, at + size);
    at += size;
  }
}

test('a stream cut into tar parts: GNU tar extracts them and their concatenation is the stream, byte for byte', async () => {
  const dir = tempDir('tar');
  try {
    const table = randomBytes(100_000);
    const out: Buffer[] = [tarEntry('manifest.json', '{"tables":2}')];
    const parts = tarParts('data/0001.tsv', chunks(table, [1, 7_000, 33_333, 0, 512]), 30_000);
    let result = await parts.next();
    while (!result.done) (out.push(result.value), (result = await parts.next()));
    assert.equal(result.value, 4, '100000 bytes in parts of 30000 make 4 parts');
    const empty = tarParts('data/0002.tsv', chunks(Buffer.alloc(0), [1]), 30_000);
    assert.equal((await empty.next()).done, true, 'an empty table has no part');
    out.push(tarEnd());
    const archive = join(dir.path, 'dump.tar');
    writeFileSync(archive, Buffer.concat(out));

    const listing = execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(listing, ['manifest.json', ...[1, 2, 3, 4].map((n) => partName('data/0001.tsv', n))]);
    execFileSync('tar', ['-xf', archive, '-C', dir.path]);
    const names = readdirSync(join(dir.path, 'data')).sort();
    const joined = Buffer.concat(names.map((name) => readFileSync(join(dir.path, 'data', name))));
    assert.equal(createHash('sha256').update(joined).digest('hex'), createHash('sha256').update(table).digest('hex'));
    assert.equal(readFileSync(join(dir.path, 'manifest.json'), 'utf8'), '{"tables":2}');
  } finally {
    dir.remove();
  }
});
