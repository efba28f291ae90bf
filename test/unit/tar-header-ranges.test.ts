// Every numeric field of a tar header is range-checked by the centre's reader: a GEO signs whatever bytes
// it likes, and a pax `size=-1536` once sent the reader backwards over the same three blocks forever (a
// worker at full CPU that no SIGTERM could reach). Each hostile header is a TarFormatError at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readTar, TarFormatError } from '../../src/load/tar-reader.js';
import { tarEntry } from '../../src/dump/tar-stream.js';
import { base256, paxEntry, rawHeader, tarWithPlan } from '../security/hostile-tar.js';

/**
 * Reads `archive` in one chunk. The sink gives up after many writes: a reader going round in circles
 * never yields to a timer, so without this a regression would hang the test instead of failing it.
 */
async function read(archive: Buffer): Promise<Array<{ path: string; size: number }>> {
  const entries: Array<{ path: string; size: number }> = [];
  let writes = 0;
  await readTar((async function* () {
    yield archive;
  })(), async (entry) => {
    entries.push({ path: entry.path, size: entry.size });
    return {
      write: async () => {
        if (++writes > 10_000) throw new Error('the reader went round in circles');
      },
      end: async () => undefined,
    };
  });
  return entries;
}

const refusedAs = (pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof TarFormatError, `a TarFormatError, not ${String(error)}`);
  assert.match(error.message, pattern);
  return true;
};

const data = (size: number) => Buffer.concat([Buffer.alloc(size, 0x61), Buffer.alloc((512 - (size % 512)) % 512)]);

test('a pax size of -1536 (the one that hung a worker) is refused, not read backwards', async () => {
  const archive = tarWithPlan('{}', [paxEntry(['size=-1536']), rawHeader({ path: 'data/0001.tsv.000001', size: 10 }), data(10)]);
  await assert.rejects(read(archive), refusedAs(/pax header's size is not a number in range: "-1536"/));
});

test('pax numbers out of range or not numbers are refused: size past 2^53, uid, mtime garbage', async () => {
  for (const [record, pattern] of [
    ['size=99999999999999999', /pax header's size is not a number in range/],
    ['size=1e3', /pax header's size is not a number in range/],
    ['size=', /pax header's size is not a number in range/],
    ['uid=-1', /pax header's uid is not a number in range/],
    ['mtime=12abc', /pax header's mtime is not a number in range/],
  ] as const) {
    const archive = tarWithPlan('{}', [paxEntry([record]), rawHeader({ path: 'data/0001.tsv.000001', size: 10 }), data(10)]);
    await assert.rejects(read(archive), refusedAs(pattern), record);
  }
});

test('a pax record not ended by its newline is refused rather than read loosely', async () => {
  const body = Buffer.from('12 size=500X');
  const pax = Buffer.concat([rawHeader({ path: 'PaxHeaders/x', size: body.length, type: 'x' }), body, Buffer.alloc(512 - body.length)]);
  await assert.rejects(read(tarWithPlan('{}', [pax, rawHeader({ path: 'data/0001.tsv.000001', size: 5 }), data(5)])), refusedAs(/pax header record is malformed/));
});

test('base-256 sizes: negative and past 2^53 are refused; one in range is read', async () => {
  await assert.rejects(read(tarWithPlan('{}', [rawHeader({ path: 'data/0001.tsv.000001', raw: { size: base256(-1536n, 12) } })])), refusedAs(/size is negative \(base-256\)/));
  await assert.rejects(read(tarWithPlan('{}', [rawHeader({ path: 'data/0001.tsv.000001', raw: { size: base256(1n << 80n, 12) } })])), refusedAs(/size is out of range/));
  const entries = await read(tarWithPlan('{}', [rawHeader({ path: 'data/0001.tsv.000001', raw: { size: base256(700n, 12) } }), data(700)]));
  assert.deepEqual(entries.at(-1), { path: 'data/0001.tsv.000001', size: 700 });
});

test('the fields the reader does not use are checked too: mode, uid, gid, mtime', async () => {
  for (const [field, value, pattern] of [
    ['mode', base256(1n << 40n, 8), /mode is out of range/],
    ['uid', base256(-1n, 8), /uid is negative/],
    ['gid', '12x', /gid is not an octal number/],
    ['mtime', base256(-86_400n, 12), /mtime is negative/],
  ] as const) {
    const archive = tarWithPlan('{}', [rawHeader({ path: 'data/0001.tsv.000001', size: 3, raw: { [field]: value } }), data(3)]);
    await assert.rejects(read(archive), refusedAs(pattern), field);
  }
});

test('GNU long names and pax headers over 1 MiB are refused before they are held in memory', async () => {
  for (const type of ['L', 'x', 'g']) {
    const archive = tarWithPlan('{}', [rawHeader({ path: '././@LongLink', size: 2 * 1024 * 1024, type })]);
    await assert.rejects(read(archive), refusedAs(/is over 1 MiB \(2097152 bytes\)/), type);
  }
});

test('a pax size is for the file after it: plain archives and a pax size in range still read', async () => {
  const archive = tarWithPlan('{"p":1}', [paxEntry(['size=700', 'mtime=1767225600.5']), rawHeader({ path: 'data/0001.tsv.000001', size: 1 }), data(700), tarEntry('manifest.json', '{}')]);
  assert.deepEqual(await read(archive), [
    { path: 'plan.json', size: 7 },
    { path: 'data/0001.tsv.000001', size: 700 },
    { path: 'manifest.json', size: 2 },
  ]);
});
