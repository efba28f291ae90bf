// The zstd stream's write callback means "zstd has the bytes": the agent refills a chunk's memory as
// soon as its callback fires, so a callback that came while the bytes still sat in the pipe's queue let
// zstd read the refill and deliver a corrupt file (found in review: 3 runs of 3).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { zstdStream } from '../../src/dump/zstd.js';

test('each chunk may be overwritten once its write has called back: the output still decompresses to the input', async () => {
  const compressor = zstdStream('compress');
  const output: Buffer[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    compressor.once('end', resolve);
    compressor.once('error', reject);
  });
  // Nobody reads for a while (as when openpgp.js is busy): zstd's output backs up, it stops reading, its
  // input pipe fills, and further chunks wait in the pipe's queue, where a refill would corrupt them.
  const expected: Buffer[] = [];
  const written: Array<Promise<void>> = [];
  for (let i = 0; i < 2000; i++) {
    const chunk = randomBytes(4096);
    expected.push(Buffer.from(chunk));
    written.push(new Promise<void>((resolve, reject) => compressor.write(chunk, (error) => (error ? reject(error) : (chunk.fill(0x5a), resolve())))));
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  compressor.on('data', (chunk: Buffer) => output.push(chunk));
  await Promise.all(written);
  compressor.end();
  await ended;
  const roundTrip = execFileSync('zstd', ['-d', '-q', '-c'], { input: Buffer.concat(output), maxBuffer: 1 << 28 });
  assert.equal(roundTrip.length, 2000 * 4096);
  assert.ok(roundTrip.equals(Buffer.concat(expected)), 'what zstd compressed is what was written, not what the memory held later');
});

test('decompressing a stream that is not zstd fails the stream with zstd\'s own reason', async () => {
  const decompressor = zstdStream('decompress');
  const failed = new Promise<Error>((resolve) => decompressor.once('error', resolve));
  decompressor.resume();
  decompressor.end(Buffer.from('not zstd at all, just text'));
  assert.match((await failed).message, /^zstd -d exited \d+: /);
});
