// Files the centre must refuse, each delivered by its own GEO: a byte changed in the middle (with the
// recorded sha256 fixed up so that decrypt opens it, and without), a truncated file (recorded size fixed
// up, and as the agent reported it), a file signed by another GEO's key, an unsigned file. Each: the
// transaction `refused` with a reason naming the problem, the file in quarantine, no scratch schema,
// nothing in MongoDB for that GEO. And a file GnuPG encrypted and signed with the right key is accepted.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { Header } from 'tar';
import { gunzipSync, gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { startCentre, type Centre, type CentreGeo } from '../support/centre-fixture.js';
import { assertWarehouseHoldsSource, attemptsOf, bigTableStatements, deliverByHand, schemaExists, sealedFor, sourceStatements, sourceTables, txnRow } from './support.js';

const cycle = '2026-03-01T10';
let centre: Centre;
let gpgHome: string;
/** The compressed tar of a real agent dump (zstd, the agent's default), as GnuPG decrypted it. */
let dumpTarGz: Buffer;
const txnIds = new Map<string, number>();
let drained: { code: number; stdout: string; stderr: string };

async function gpg(args: string[], input?: Buffer | string): Promise<Buffer> {
  const result = await execa('gpg', ['--batch', '--homedir', gpgHome, '--pinentry-mode', 'loopback', '--passphrase', '', '--trust-model', 'always', ...args], {
    encoding: 'buffer',
    reject: false,
    ...(input === undefined ? {} : { input }),
  });
  assert.equal(result.exitCode, 0, `gpg ${args.join(' ')}: ${Buffer.from(result.stderr).toString()}`);
  return Buffer.from(result.stdout);
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
// The agent's name for its file (agent.compression zstd, the default); the hand-made ones use it too.
const fileName = (geo: string) => `${geo}_${cycle}_d1.tar.zst.gpg`;

const deliverBytes = (geo: CentreGeo, bytes: Buffer) => deliverByHand(centre, geo, cycle, fileName(geo.name), bytes);

/** The agent delivers, then the file is changed in the inbox; `recorded` says whether the transaction is made to match it. */
async function deliverAltered(geo: CentreGeo, alter: (bytes: Buffer) => Buffer, recorded: 'fixed up' | 'as the agent reported'): Promise<number> {
  const run = await geo.deliver(cycle);
  const path = join(geo.inboxDir, run.file.name);
  const altered = alter(readFileSync(path));
  writeFileSync(path, altered);
  if (recorded === 'fixed up') {
    await centre.db.query('UPDATE transactions SET file_size = ?, file_sha256 = ? WHERE id = ?', [altered.length, sha256(altered), run.transactionId]);
  }
  return run.transactionId;
}

function flipByteAt(bytes: Buffer, at: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at]! ^= 0x5a;
  return copy;
}
const flipMiddleByte = (bytes: Buffer) => flipByteAt(bytes, bytes.length >> 1);
const cutInHalf = (bytes: Buffer) => bytes.subarray(0, bytes.length >> 1);

const refusals: Array<{ geo: string; what: string; reason: RegExp; make: (geo: CentreGeo) => Promise<number>; big?: boolean; todo?: string }> = [
  {
    geo: 'tampered',
    what: 'a byte changed in the middle, the recorded sha256 fixed up',
    reason: /integrity check failed|modified or damaged/,
    make: (geo) => deliverAltered(geo, flipMiddleByte, 'fixed up'),
  },
  {
    // A bigger file: plaintext streams out before the integrity check at the end, and gunzip meets the
    // damage first. The reason must still say the file was modified, not only what zlib saw.
    geo: 'tampered-early',
    what: 'a byte changed near the start of a bigger file, the recorded sha256 fixed up',
    reason: /integrity check failed|modified or damaged/,
    big: true,
    make: (geo) => deliverAltered(geo, (bytes) => flipByteAt(bytes, 1000), 'fixed up'),
  },
  {
    geo: 'tampered-sha',
    what: 'a byte changed in the middle, as the agent reported it',
    reason: /its sha256 is [0-9a-f]{64}, the agent reported [0-9a-f]{64}/,
    make: (geo) => deliverAltered(geo, flipMiddleByte, 'as the agent reported'),
  },
  {
    geo: 'truncated',
    what: 'cut in half, the recorded size and sha256 fixed up',
    reason: /truncated/,
    make: (geo) => deliverAltered(geo, cutInHalf, 'fixed up'),
  },
  {
    geo: 'cut-short',
    what: 'cut in half, as the agent reported it',
    reason: /its size is \d+ bytes, the agent reported \d+ \(truncated or replaced\)/,
    make: (geo) => deliverAltered(geo, cutInHalf, 'as the agent reported'),
  },
  {
    geo: 'wrong-signer',
    what: 'signed by another GEO\'s key',
    reason: /signed by key [0-9A-F]{40}, not by the expected key [0-9A-F]{40}/,
    async make(geo) {
      const donor = centre.geos.get('donor')!;
      return deliverBytes(geo, await sealedFor(centre, donor, dumpTarGz));
    },
  },
  {
    geo: 'with-symlink',
    what: 'signed by its GEO, but its tar holds a symbolic link',
    reason: /not a compressed tar dump: the archive holds an unexpected entry "data\/0001\.tsv\.000009" \(type 2\)/,
    async make(geo) {
      // The donor's dump with a link slipped in before the end of the archive, gzip'd and sealed as an agent would.
      // The agent compresses with zstd by default (gzip when so configured): undo and redo whichever it was.
      const zstd = dumpTarGz.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
      const tar = zstd ? execFileSync('zstd', ['-dc'], { input: dumpTarGz, maxBuffer: 1 << 30 }) : gunzipSync(dumpTarGz);
      const link = Buffer.alloc(512);
      new Header({ path: 'data/0001.tsv.000009', type: 'SymbolicLink', linkpath: '/etc/passwd', mode: 0o777, size: 0, mtime: new Date() }).encode(link, 0);
      const plain = Buffer.concat([tar.subarray(0, tar.length - 1024), link, tar.subarray(tar.length - 1024)]);
      const altered = zstd ? execFileSync('zstd', ['-c', '-q'], { input: plain, maxBuffer: 1 << 30 }) : gzipSync(plain);
      return deliverBytes(geo, await sealedFor(centre, geo, altered));
    },
  },
  {
    geo: 'unsigned',
    what: 'encrypted by GnuPG without a signature',
    reason: /not signed; a signature by key [0-9A-F]{40} is required/,
    make: async (geo) => deliverBytes(geo, await gpg(['--encrypt', '-r', centre.keys.fingerprint, '--output', '-'], dumpTarGz)),
  },
];

before(async () => {
  centre = await startCentre();
  const source = await centre.addSource('refused', sourceStatements(5));
  const bigSource = await centre.addSource('refusedbig', [...sourceStatements(6), ...bigTableStatements(16)]);
  const donor = await centre.addGeo('donor', source);
  const donorRun = await donor.deliver(cycle);
  txnIds.set('donor', donorRun.transactionId);

  gpgHome = await mkdtemp(join(tmpdir(), 'gnupg-'));
  for (const armored of [centre.keys.privateArmored, donor.keys.publicArmored]) await gpg(['--import'], armored);
  dumpTarGz = await gpg(['--decrypt', '--output', '-', join(donor.inboxDir, donorRun.file.name)]);

  for (const refusal of refusals) txnIds.set(refusal.geo, await refusal.make(await centre.addGeo(refusal.geo, refusal.big ? bigSource : source)));
  const signer = await centre.addGeo('gpg-signed', source);
  await gpg(['--import'], signer.keys.privateArmored);
  const signed = await gpg(['--encrypt', '--sign', '-r', centre.keys.fingerprint, '-u', signer.keys.fingerprint, '--output', '-'], dumpTarGz);
  txnIds.set('gpg-signed', await deliverBytes(signer, signed));

  drained = await centre.cli(['jupiter', 'drain', '--json', '--timeout', '120']);
});
after(async () => {
  if (gpgHome) {
    await execa('gpgconf', ['--homedir', gpgHome, '--kill', 'all'], { reject: false });
    await rm(gpgHome, { recursive: true, force: true });
  }
  await centre?.dispose();
});

test('drain finishes, exits "failed" and lists each refused transaction with its reason', () => {
  assert.equal(drained.code, 6, drained.stderr);
  assert.match(drained.stderr, new RegExp(`drain: ${refusals.length} transactions did not finish`));
  const result = JSON.parse(drained.stdout) as { transactions: Array<{ geo: string; state: string; error: string | null }> };
  const states = Object.fromEntries(result.transactions.map((txn) => [txn.geo, txn.state]));
  assert.deepEqual(states, { donor: 'done', 'gpg-signed': 'done', ...Object.fromEntries(refusals.map((refusal) => [refusal.geo, 'refused'])) });
});

for (const refusal of refusals) {
  test(`refused: ${refusal.what}`, { todo: refusal.todo }, async () => {
    const id = txnIds.get(refusal.geo)!;
    const txn = await txnRow(centre, id);
    assert.equal(txn.state, 'refused');
    assert.match(txn.error ?? '', new RegExp(`^${fileName(refusal.geo).replace(/\./g, '\\.')} refused: `), 'the reason names the file');
    assert.match((txn.error ?? '').slice(fileName(refusal.geo).length), refusal.reason);
    assert.doesNotMatch(txn.error ?? '', /\n/, 'one line');

    const attempts = await attemptsOf(centre, id);
    assert.deepEqual(attempts.map((a) => [a.step, a.stepState, a.outcome]), [['decrypt', 'failed', 'failed']], 'decrypt ran once, was not retried, and nothing came after it');

    assert.ok(existsSync(join(centre.paths.quarantine(refusal.geo), fileName(refusal.geo))), 'the file is in quarantine');
    assert.equal(existsSync(join(centre.paths.inbox(refusal.geo), fileName(refusal.geo))), false, 'and no longer in the inbox');
    assert.equal(existsSync(join(centre.paths.work(id), 'dump')), false, 'nothing unpacked');
    assert.equal(await schemaExists(centre, centre.paths.scratchSchema(id)), false, 'no scratch schema: MySQL untouched');

    const warehouse = await centre.warehouse();
    for (const collection of [...sourceTables, '_ganymede_changes', '_ganymede_etl']) {
      assert.equal(await warehouse.collection(collection).countDocuments({ geo: refusal.geo }), 0, `nothing of ${refusal.geo} in ${collection}`);
    }

    const shown = await centre.cli(['txn', 'show', String(id)]);
    assert.match(shown.stdout, new RegExp(`GEO ${refusal.geo}, cycle ${cycle}, refused`));
    assert.match(shown.stdout, /error +\S+ refused: /);
  });
}

test('a file GnuPG encrypted to the centre and signed with the GEO\'s key is accepted and lands in the warehouse', async () => {
  const id = txnIds.get('gpg-signed')!;
  const txn = await txnRow(centre, id);
  assert.deepEqual([txn.state, txn.error], ['done', null]);
  const geo = centre.geos.get('gpg-signed')!;
  await assertWarehouseHoldsSource(await centre.warehouse(), geo.name, geo.sourceDatabase);
  assert.ok(existsSync(join(geo.inboxDir, fileName(geo.name))), 'the file stays in the inbox');
  assert.equal(existsSync(centre.paths.quarantine(geo.name)), false);
});

test('the refused GEOs may deliver the hour again: the agent opens it anew', async () => {
  const again = await centre.geos.get('tampered')!.deliver(cycle);
  assert.equal(again.transactionId, txnIds.get('tampered'), 'the same transaction, opened again');
  assert.equal((await txnRow(centre, again.transactionId)).state, 'delivered');
});
