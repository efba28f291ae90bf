// What a signed delivery may unpack to: a zstd or gzip bomb is refused as it streams, once it passes the
// limit (nothing is left in the work dir); an entry no agent writes (a part over 8 MiB, a file the plan
// does not name, data before the plan, anything after the manifest) is refused at its header; the limit
// is the smaller of centre.max_unpacked_bytes and the ratio; a full disk is a retried failure.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { openDelivery, UnpackLimitRefusal, DeliveryRefusal } from '../../src/load/open-delivery.js';
import { sealStream } from '../../src/openpgp/seal.js';
import { checkFreeSpace, ratioFloorBytes, unpackLimit } from '../../src/load/unpack-limits.js';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { tarEntry } from '../../src/dump/tar-stream.js';
import { makeParty, type TestParty } from '../openpgp/fixtures.js';
import { tempDir } from '../support/ganymede.js';
import { rawHeader, tarWithPlan, zeroBomb } from '../security/hostile-tar.js';

const mib = 1024 * 1024;
const plan = JSON.stringify({ kind: 'plan', tables: [{ name: 'big', file: '0001.tsv' }] });
let centre: TestParty;
let geo: TestParty;
const work = tempDir('open-limits');
let count = 0;

before(async () => {
  [centre, geo] = await Promise.all([makeParty('centre'), makeParty('geo')]);
});
after(() => work.remove());

/** `compressed` sealed as the GEO would, written to a file; opened with `limit`. */
async function open(compressed: Buffer, limitBytes?: number) {
  const file = join(work.path, `delivery-${++count}.gpg`);
  writeFileSync(file, await buffer(sealStream(Readable.from([compressed]), { encryptionKeys: centre.publicKey, signingKey: geo.privateKey })));
  const dir = join(work.path, `dump-${count}`);
  const opening = openDelivery({ file, decryptionKeys: centre.privateKey, expectedSigningKeys: geo.publicKey, dir, ...(limitBytes ? { limit: { bytes: limitBytes, why: 'the test limit' } } : {}) });
  return { opening, dir };
}

const zstd = (bytes: Buffer) => execFileSync('zstd', ['-q', '-c'], { input: bytes, maxBuffer: 1 << 28 });

test('a zstd bomb (a few kB unpacking to 400 MiB) is refused once it passes the limit, and nothing is left behind', async () => {
  const bomb = zeroBomb(plan, '0001.tsv', 50, 8 * mib, 'zstd');
  assert.ok(bomb.length < 200_000, `the bomb is small (${bomb.length} bytes)`);
  const { opening, dir } = await open(bomb, 20 * mib);
  await assert.rejects(opening, (error: unknown) => {
    assert.ok(error instanceof UnpackLimitRefusal, String(error));
    assert.match(error.message, /passes 20971520 bytes, the most this delivery may unpack to \(the test limit\)|takes the dump past 20971520 bytes/);
    return true;
  });
  assert.equal(existsSync(dir), false);
  assert.equal(existsSync(`${dir}.unverified`), false, 'the staging dir is removed');
});

test('a gzip bomb the same way', async () => {
  const { opening } = await open(zeroBomb(plan, '0001.tsv', 20, 8 * mib, 'gzip'), 12 * mib);
  await assert.rejects(opening, UnpackLimitRefusal);
});

test('the limit counts the stream, not only the sizes headers declare: 1 MiB pax headers over and over', async () => {
  // No entry is written at all; only the decompressed bytes grow.
  const globals = Array.from({ length: 40 }, () => Buffer.concat([rawHeader({ path: 'g', size: mib, type: 'g' }), Buffer.alloc(mib)]));
  const { opening } = await open(zstd(tarWithPlan(plan, globals)), 8 * mib);
  await assert.rejects(opening, (error: unknown) => error instanceof UnpackLimitRefusal && /its decompressed data passes 8388608 bytes/.test(error.message));
});

test('a dump within the limit opens as before', async () => {
  const manifest = tarEntry('manifest.json', JSON.stringify({ kind: 'manifest' }));
  const { opening } = await open(zstd(tarWithPlan(plan, [tarEntry('data/0001.tsv.000001', 'a\tb\n'), manifest])), 1 * mib);
  await assert.rejects(opening, /malformed dump manifest/, 'it gets as far as reading the manifest');
});

for (const [what, entries, pattern] of [
  ['a part larger than any agent writes (9 MiB)', () => [rawHeader({ path: 'data/0001.tsv.000001', size: 9 * mib })], /"data\/0001\.tsv\.000001" is 9437184 bytes; an agent writes parts of at most 8388608/],
  ['a part of a file the plan does not name', () => [tarEntry('data/0002.tsv.000001', 'x')], /"data\/0002\.tsv\.000001" belongs to no table of plan\.json/],
  ['parts out of order', () => [tarEntry('data/0001.tsv.000002', 'x')], /"data\/0001\.tsv\.000002" is out of order/],
  ['an entry after the manifest', () => [tarEntry('manifest.json', '{}'), tarEntry('data/0001.tsv.000001', 'x')], /"data\/0001\.tsv\.000001" follows manifest\.json/],
] as const) {
  test(`refused at its header: ${what}`, async () => {
    const { opening, dir } = await open(zstd(tarWithPlan(plan, entries())));
    await assert.rejects(opening, (error: unknown) => error instanceof DeliveryRefusal && pattern.test(error.message));
    assert.equal(existsSync(`${dir}.unverified`), false);
  });
}

test("one file's parts interleaved with another's are refused: the load streams each table as its parts arrive", async () => {
  const twoFiles = JSON.stringify({ kind: 'plan', tables: [{ name: 'big', file: '0001.tsv' }, { name: 'small', file: '0002.tsv' }] });
  const entries = [tarEntry('data/0001.tsv.000001', 'a\n'), tarEntry('data/0002.tsv.000001', 'b\n'), tarEntry('data/0001.tsv.000002', 'c\n')];
  const { opening, dir } = await open(zstd(tarWithPlan(twoFiles, entries)));
  await assert.rejects(opening, (error: unknown) => error instanceof DeliveryRefusal && /"data\/0001\.tsv\.000002" comes after another file's parts/.test(error.message));
  assert.equal(existsSync(`${dir}.unverified`), false);
});

test('data before plan.json is refused', async () => {
  const { opening } = await open(zstd(Buffer.concat([tarEntry('data/0001.tsv.000001', 'x'), tarEntry('plan.json', plan), Buffer.alloc(1024)])));
  await assert.rejects(opening, /"data\/0001\.tsv\.000001" comes before plan\.json/);
});

test('the limit: the smaller of the absolute size and the ratio, the ratio not below 256 MiB', () => {
  assert.deepEqual(unpackLimit({ maxUnpackedBytes: 64 * 1024 ** 3, maxUnpackRatio: 200 }, 10 * mib), { bytes: 2000 * mib, why: 'centre.max_unpack_ratio 200 × the 10485760 bytes delivered' });
  assert.deepEqual(unpackLimit({ maxUnpackedBytes: 64 * 1024 ** 3, maxUnpackRatio: 200 }, 137_000), { bytes: ratioFloorBytes, why: 'centre.max_unpack_ratio 200 × the 137000 bytes delivered' });
  assert.deepEqual(unpackLimit({ maxUnpackedBytes: mib, maxUnpackRatio: 200 }, 137_000), { bytes: mib, why: 'centre.max_unpacked_bytes 1048576' });
});

test('too little free space is a retried failure naming the directory and the sizes, not a refusal', async () => {
  const limit = unpackLimit({ maxUnpackedBytes: 64 * 1024 ** 3, maxUnpackRatio: 200 }, 5 * mib);
  await checkFreeSpace(work.path, 5 * mib, limit, 0);
  await assert.rejects(checkFreeSpace(work.path, 5 * mib, limit, 2 ** 60), (error: unknown) => {
    assert.ok(error instanceof GanymedeError);
    assert.equal(error.exitCode, ExitCode.failed);
    assert.match(error.message, new RegExp(`^${work.path} has \\d+ bytes free; unpacking a delivery of 5242880 bytes needs about 52428800 \\(10 × its size\\) and centre.min_free_bytes ${2 ** 60} left over$`));
    return true;
  });
  assert.deepEqual(readdirSync(work.path).filter((name) => name.startsWith('dump')), [], 'nothing written');
});
