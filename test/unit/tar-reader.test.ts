// The centre's tar reader: it gives back exactly what the agent's writer and GNU tar put in, whatever
// the chunking of the stream; it names links and directories for the caller to refuse; it refuses a
// truncated archive and a damaged header.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readTar, TarFormatError, type TarEntryHeader } from '../../src/load/tar-reader.js';
import { tarEnd, tarEntry, tarParts } from '../../src/dump/tar-stream.js';
import { tempDir } from '../support/ganymede.js';

async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

/** Every entry with its bytes, as the reader hands them out. */
async function readAll(archive: Buffer, chunkSize: number): Promise<Array<TarEntryHeader & { data: Buffer }>> {
  const entries: Array<TarEntryHeader & { data: Buffer }> = [];
  await readTar(chunked(archive, chunkSize), async (entry) => {
    const parts: Buffer[] = [];
    return {
      write: async (chunk) => void parts.push(Buffer.from(chunk)),
      end: async () => void entries.push({ ...entry, data: Buffer.concat(parts) }),
    };
  });
  return entries;
}

async function collect(generator: AsyncGenerator<Buffer, number>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let next = await generator.next(); !next.done; next = await generator.next()) out.push(next.value);
  return out;
}

test("the agent's tar comes back byte for byte, in chunks of 7, 512, 513 bytes or 1 MiB (and of 1 byte, a small one)", async () => {
  const table = randomBytes(3 * 1024 * 1024 + 123);
  const archive = Buffer.concat([
    tarEntry('plan.json', '{"tables":1}'),
    ...(await collect(tarParts('data/0001.tsv', chunked(table, 65_536), 1024 * 1024))),
    tarEntry('empty.json', ''),
    tarEntry('manifest.json', 'x'.repeat(512)),
    tarEnd(),
  ]);
  for (const size of [7, 512, 513, 1024 * 1024]) {
    const entries = await readAll(archive, size);
    assert.deepEqual(entries.map((entry) => [entry.path, entry.size, entry.type]), [
      ['plan.json', 12, 'file'],
      ['data/0001.tsv.000001', 1024 * 1024, 'file'],
      ['data/0001.tsv.000002', 1024 * 1024, 'file'],
      ['data/0001.tsv.000003', 1024 * 1024, 'file'],
      ['data/0001.tsv.000004', 123, 'file'],
      ['empty.json', 0, 'file'],
      ['manifest.json', 512, 'file'],
    ], `chunks of ${size}`);
    assert.ok(Buffer.concat(entries.slice(1, 5).map((entry) => entry.data)).equals(table), `chunks of ${size}`);
  }
  const small = Buffer.concat([tarEntry('a', 'hello'), tarEntry('b', randomBytes(1500)), tarEnd()]);
  assert.deepEqual((await readAll(small, 1)).map((entry) => entry.data.length), [5, 1500]);
});

test('GNU tar archives: pax and GNU long names, a symlink and a directory named by their type', async () => {
  const dir = tempDir('tar-reader');
  try {
    const long = `${'d'.repeat(120)}/${'f'.repeat(150)}.tsv`;
    mkdirSync(join(dir.path, 'src', 'd'.repeat(120)), { recursive: true });
    writeFileSync(join(dir.path, 'src', long), 'long content');
    symlinkSync('/etc/passwd', join(dir.path, 'src', 'link'));
    for (const format of ['pax', 'gnu']) {
      const archive = execFileSync('tar', ['-c', '--no-recursion', `--format=${format}`, '-C', join(dir.path, 'src'), long, 'link', 'd'.repeat(120)]);
      const entries = await readAll(archive, 4096);
      const byPath = new Map(entries.map((entry) => [entry.path.replace(/\/$/, ''), entry]));
      assert.equal(byPath.get(long)?.data.toString(), 'long content', format);
      assert.equal(byPath.get('link')?.type, '2', `${format}: a symlink`);
      assert.equal(byPath.get('d'.repeat(120))?.type, '5', `${format}: a directory`);
    }
  } finally {
    dir.remove();
  }
});

test('a truncated archive and a damaged header are refused, naming which', async () => {
  const archive = Buffer.concat([tarEntry('plan.json', 'x'.repeat(2000)), tarEntry('manifest.json', '{}'), tarEnd()]);
  await assert.rejects(readAll(archive.subarray(0, 1500), 256), (error: unknown) => error instanceof TarFormatError && /ends inside an entry, \d+ bytes short \(truncated\)/.test(error.message));
  await assert.rejects(readAll(archive.subarray(0, 2560 + 100), 256), (error: unknown) => error instanceof TarFormatError && /ends inside a header \(truncated\)/.test(error.message));
  const damaged = Buffer.from(archive);
  damaged[2560 + 3]! ^= 0x20; // a byte of the second header's name
  await assert.rejects(readAll(damaged, 4096), (error: unknown) => error instanceof TarFormatError && /wrong checksum/.test(error.message));
});
