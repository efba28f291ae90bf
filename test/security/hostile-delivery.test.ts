// What a compromised GEO can put in its inbox, with its own signing key and SFTP account: symbolic links
// (to /dev/zero, to the centre's private key), a FIFO, its directory swapped for a link, and signed tars
// with a negative pax size, a huge base-256 size, a zstd and a gzip bomb, a part larger than any agent
// writes. `archive` runs first and skips the links and the FIFO unread; then `jupiter drain`: each hostile
// transaction is refused on its first decrypt attempt, not retried, its file quarantined as it was (a link
// stays a link), and no refusal names the size or hash of a link's target; meanwhile the honest GEO's hour
// is decrypted, loaded, transformed and cleaned.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startCentre, type Centre, type CentreGeo } from '../support/centre-fixture.js';
import { tempDir } from '../support/ganymede.js';
import { readPrivateKey, readPublicKey } from '../../src/openpgp/keys.js';
import { openDelivery } from '../../src/load/open-delivery.js';
import { assertWarehouseHoldsSource, attemptsOf, deliverByHand, sealedFor, sourceStatements, sourceTables, txnRow } from '../pipeline-e2e/support.js';
import { base256, paxEntry, rawHeader, tarWithPlan, zeroBomb } from './hostile-tar.js';

const cycle = '2026-04-02T07';
const mib = 1024 * 1024;
let centre: Centre;
let plan: string;
let planFile: string;
const txnIds = new Map<string, number>();
let archived: { code: number; stdout: string; stderr: string };
let drained: { code: number; stdout: string; stderr: string };
const elsewhere = tempDir('elsewhere');

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const fileName = (geo: string) => `${geo}_${cycle}_d1.tar.zst.gpg`;

/** Opens the GEO's hour, lets `place` put something at the file's path in its inbox, closes it as reported. */
const deliver = (geo: CentreGeo, place: (path: string) => void, reported: { size: number; sha256: string }) =>
  deliverByHand(centre, geo, cycle, fileName(geo.name), { place, ...reported });

/** `compressed` signed by the GEO and encrypted to the centre, as its agent would: the bytes are the GEO's to choose. */
const deliverSigned = async (geo: CentreGeo, compressed: Buffer) => deliverByHand(centre, geo, cycle, fileName(geo.name), await sealedFor(centre, geo, compressed));

const zstd = (bytes: Buffer) => execFileSync('zstd', ['-q', '-c'], { input: bytes, maxBuffer: 1 << 28 });
const part = (n: number) => `data/${planFile}.${String(n).padStart(6, '0')}`;

interface Hostile {
  geo: string;
  what: string;
  reason: RegExp;
  /** A link or FIFO: archive skips it unread. */
  unreadable?: boolean;
  make(geo: CentreGeo): Promise<number>;
}

const emptySha = sha256(Buffer.alloc(0));
const hostiles: Hostile[] = [
  {
    geo: 'zero-link',
    what: 'a symbolic link to /dev/zero, reported as an empty file',
    reason: /is a symbolic link; the inbox takes regular files only and never follows a link/,
    unreadable: true,
    make: (geo) => deliver(geo, (path) => symlinkSync('/dev/zero', path), { size: 0, sha256: emptySha }),
  },
  {
    geo: 'secret-link',
    what: "a symbolic link to the centre's private key",
    reason: /is a symbolic link; the inbox takes regular files only and never follows a link/,
    unreadable: true,
    make: (geo) => deliver(geo, (path) => symlinkSync(centre.keys.privateFile, path), { size: 1, sha256: sha256(Buffer.from('x')) }),
  },
  {
    geo: 'fifo',
    what: 'a FIFO',
    reason: /is a FIFO \(named pipe\); the inbox takes regular files only/,
    unreadable: true,
    make: (geo) => deliver(geo, (path) => execFileSync('mkfifo', [path]), { size: 0, sha256: emptySha }),
  },
  {
    geo: 'negative-pax',
    what: 'a signed tar with a pax header size=-1536',
    reason: /not a compressed tar dump: a pax header's size is not a number in range: "-1536"/,
    make: (geo) => deliverSigned(geo, zstd(tarWithPlan(plan, [paxEntry(['size=-1536']), rawHeader({ path: part(1), size: 10 }), Buffer.alloc(512)]))),
  },
  {
    geo: 'huge-size',
    what: 'a signed tar with a base-256 size of 2^88',
    reason: /not a compressed tar dump: a tar header's size is out of range/,
    make: (geo) => deliverSigned(geo, zstd(tarWithPlan(plan, [rawHeader({ path: part(1), raw: { size: base256(1n << 88n, 12) } })]))),
  },
  {
    geo: 'zstd-bomb',
    what: 'a zstd bomb: a few kB that unpack to 320 MiB',
    reason: /takes the dump past 16777216 bytes, the most this delivery may unpack to \(centre\.max_unpacked_bytes 16777216\)/,
    make: (geo) => deliverSigned(geo, zeroBomb(plan, planFile, 40, 8 * mib, 'zstd')),
  },
  {
    geo: 'gzip-bomb',
    what: 'a gzip bomb: 320 kB that unpack to 320 MiB',
    reason: /takes the dump past 16777216 bytes, the most this delivery may unpack to/,
    make: (geo) => deliverSigned(geo, zeroBomb(plan, planFile, 40, 8 * mib, 'gzip')),
  },
  {
    geo: 'oversized-part',
    what: 'a part larger than any agent writes (9 MiB where the plan\'s tables come in parts of at most 8 MiB)',
    reason: /is 9437184 bytes; an agent writes parts of at most 8388608/,
    make: (geo) => deliverSigned(geo, zstd(tarWithPlan(plan, [rawHeader({ path: part(1), size: 9 * mib }), Buffer.alloc(9 * mib)]))),
  },
];

before(async () => {
  centre = await startCentre({ settings: { 'centre.max_unpacked_bytes': 16 * mib } });
  const source = await centre.addSource('hostile', sourceStatements(4));
  const honest = await centre.addGeo('honest', source);
  txnIds.set('honest', (await honest.deliver(cycle)).transactionId);

  // The honest dump's plan, for tars that get past it to their hostile part.
  const opened = await openDelivery({
    file: join(honest.inboxDir, fileName('honest')),
    decryptionKeys: await readPrivateKey(centre.keys.privateArmored, 'centre'),
    expectedSigningKeys: await readPublicKey(honest.keys.publicArmored, 'honest'),
    dir: join(elsewhere.path, 'plan-source'),
  });
  plan = readFileSync(join(opened.dir, 'plan.json'), 'utf8');
  planFile = (JSON.parse(plan) as { tables: Array<{ file: string }> }).tables[0]!.file;

  for (const hostile of hostiles) txnIds.set(hostile.geo, await hostile.make(await centre.addGeo(hostile.geo, source)));
  // Its whole directory a link to a directory that holds a file of the expected name.
  const linked = await centre.addGeo('linked-dir', source);
  writeFileSync(join(elsewhere.path, fileName('linked-dir')), 'not the inbox');
  txnIds.set('linked-dir', await deliver(linked, () => {
    rmSync(linked.inboxDir, { recursive: true });
    symlinkSync(elsewhere.path, linked.inboxDir);
  }, { size: 13, sha256: sha256(Buffer.from('not the inbox')) }));

  // The same, and the GEO disabled before decrypt runs: refused as disabled, the link not followed either.
  const offLinked = await centre.addGeo('off-linked', source);
  mkdirSync(join(elsewhere.path, 'off'));
  writeFileSync(join(elsewhere.path, 'off', fileName('off-linked')), 'not the inbox');
  txnIds.set('off-linked', await deliver(offLinked, () => {
    rmSync(offLinked.inboxDir, { recursive: true });
    symlinkSync(join(elsewhere.path, 'off'), offLinked.inboxDir);
  }, { size: 13, sha256: sha256(Buffer.from('not the inbox')) }));
  const disabled = await centre.cli(['geo', 'disable', 'off-linked']);
  assert.equal(disabled.code, 0, disabled.stderr);

  archived = await centre.cli(['archive', '--json'], 60_000);
  drained = await centre.cli(['jupiter', 'drain', '--json', '--timeout', '90'], 120_000);
});
after(async () => {
  await centre?.dispose();
  elsewhere.remove();
});

test('archive skips the links, the FIFO and the linked directory unread, and archives the regular files', () => {
  assert.equal(archived.code, 0, archived.stderr);
  const result = JSON.parse(archived.stdout) as { agentDumps: Array<{ objectKey: string }>; skipped: Array<{ file: string; reason: string }> };
  const skipped = Object.fromEntries(result.skipped.map((item) => [item.file.split('/').at(-1)!, item.reason]));
  for (const hostile of hostiles.filter((item) => item.unreadable)) {
    assert.match(skipped[fileName(hostile.geo)] ?? '', /; not read, not archived$/, hostile.geo);
    // Said once, in the result: not logged again on stderr, which cron would keep beside it.
    assert.doesNotMatch(archived.stderr, new RegExp(`${fileName(hostile.geo)}: .*; not read, not archived`), `no second line for ${hostile.geo}`);
  }
  assert.match(skipped[fileName('linked-dir')] ?? '', /the inbox directory of GEO linked-dir is a symbolic link or not a directory/);
  const keys = result.agentDumps.map((dump) => dump.objectKey.split('/').at(-1));
  assert.ok(keys.includes(fileName('honest')), 'the honest file is archived');
  for (const hostile of hostiles.filter((item) => item.unreadable)) assert.ok(!keys.includes(fileName(hostile.geo)), `${hostile.geo} not archived`);
});

test('drain ends: the honest hour is done, every hostile transaction refused', () => {
  assert.equal(drained.code, 6, drained.stderr);
  const result = JSON.parse(drained.stdout) as { transactions: Array<{ geo: string; state: string }> };
  assert.deepEqual(
    Object.fromEntries(result.transactions.map((txn) => [txn.geo, txn.state])),
    { honest: 'done', 'linked-dir': 'refused', 'off-linked': 'refused', ...Object.fromEntries(hostiles.map((hostile) => [hostile.geo, 'refused'])) },
  );
});

test('the honest GEO delivered alongside went through every step into the warehouse', async () => {
  const id = txnIds.get('honest')!;
  assert.deepEqual((await attemptsOf(centre, id)).map((attempt) => [attempt.step, attempt.outcome]), [
    ['decrypt', 'succeeded'],
    ['load', 'succeeded'],
    ['etl', 'succeeded'],
    ['clean', 'succeeded'],
  ]);
  const honest = centre.geos.get('honest')!;
  await assertWarehouseHoldsSource(await centre.warehouse(), 'honest', honest.sourceDatabase);
});

const secretSize = () => String(statSync(centre.keys.privateFile).size);
const secretSha = () => sha256(readFileSync(centre.keys.privateFile));

for (const hostile of hostiles) {
  test(`refused once and quarantined as it was: ${hostile.what}`, async () => {
    const id = txnIds.get(hostile.geo)!;
    const txn = await txnRow(centre, id);
    assert.equal(txn.state, 'refused');
    assert.match(txn.error ?? '', new RegExp(`^${fileName(hostile.geo).replace(/\./g, '\\.')} refused: `));
    assert.match(txn.error ?? '', hostile.reason);
    assert.deepEqual((await attemptsOf(centre, id)).map((attempt) => [attempt.step, attempt.stepState, attempt.outcome]), [['decrypt', 'failed', 'failed']], 'one attempt, not retried');

    const quarantined = join(centre.paths.quarantine(hostile.geo), fileName(hostile.geo));
    const kind = lstatSync(quarantined);
    if (hostile.geo.endsWith('-link')) assert.ok(kind.isSymbolicLink(), 'the link itself is quarantined, not what it points to');
    else if (hostile.geo === 'fifo') assert.ok(kind.isFIFO());
    else assert.ok(kind.isFile());
    assert.equal(existsSync(join(centre.paths.inbox(hostile.geo), fileName(hostile.geo))), false, 'gone from the inbox');
    assert.equal(existsSync(join(centre.paths.work(id), 'dump')), false, 'nothing unpacked');
    assert.equal(existsSync(join(centre.paths.work(id), 'dump.unverified')), false, 'nothing half unpacked left');

    for (const text of [txn.error ?? '', (await centre.cli(['txn', 'show', String(id)])).stdout]) {
      assert.ok(!text.includes(secretSha()), 'no hash of a link target');
      assert.doesNotMatch(text, new RegExp(`\\b${secretSize()} bytes`), 'no size of a link target');
    }
    const warehouse = await centre.warehouse();
    for (const collection of sourceTables) assert.equal(await warehouse.collection(collection).countDocuments({ geo: hostile.geo }), 0);
  });
}

test("the link to the centre's key is moved as a link: the key is where it was, unread and unchanged", () => {
  assert.equal(readlinkSync(join(centre.paths.quarantine('secret-link'), fileName('secret-link'))), centre.keys.privateFile);
  assert.equal(readFileSync(centre.keys.privateFile, 'utf8'), centre.keys.privateArmored);
});

test('a GEO directory swapped for a link: refused once, and nothing in the linked directory is touched', async () => {
  const id = txnIds.get('linked-dir')!;
  const txn = await txnRow(centre, id);
  assert.equal(txn.state, 'refused');
  assert.match(txn.error ?? '', /refused: the inbox directory of GEO linked-dir is a symbolic link or not a directory; nothing in it is read or moved/);
  assert.deepEqual((await attemptsOf(centre, id)).map((attempt) => [attempt.step, attempt.outcome]), [['decrypt', 'failed']]);
  assert.equal(readFileSync(join(elsewhere.path, fileName('linked-dir')), 'utf8'), 'not the inbox', 'the file behind the link stays where it was');
  assert.equal(existsSync(centre.paths.quarantine('linked-dir')) && existsSync(join(centre.paths.quarantine('linked-dir'), fileName('linked-dir'))), false);
});

test('a disabled GEO whose directory is a link: refused as disabled, once, and nothing behind the link is moved', async () => {
  const id = txnIds.get('off-linked')!;
  const txn = await txnRow(centre, id);
  assert.equal(txn.state, 'refused');
  assert.match(txn.error ?? '', /GEO off-linked is disabled; its file was not moved: the inbox directory of GEO off-linked is a symbolic link/);
  assert.deepEqual((await attemptsOf(centre, id)).map((attempt) => [attempt.step, attempt.outcome]), [['decrypt', 'failed']]);
  assert.equal(readFileSync(join(elsewhere.path, 'off', fileName('off-linked')), 'utf8'), 'not the inbox');
});
