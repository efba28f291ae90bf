// GnuPG 2.2 must read what agents write, and agents' files may have been written by GnuPG.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { readPrivateKey, readPublicKey } from '../../src/openpgp/keys.js';
import { OpenPgpRefusal } from '../../src/openpgp/open.js';
import { sealStream } from '../../src/openpgp/seal.js';
import { chunksOf, GnuPg, makeParty, openAll, sha256, type TestParty } from './fixtures.js';

let gpg: GnuPg;
let centre: TestParty;
let geo: TestParty;
let otherGeo: TestParty;
// Half random, half text: incompressible like a zstd dump, yet gpg's compression has something to do.
const payload = Buffer.concat([randomBytes(1024 * 1024), Buffer.from('INSERT INTO `events` VALUES (1,2,3);\n'.repeat(30_000))]);

before(async () => {
  gpg = await GnuPg.create();
  [centre, geo, otherGeo] = await Promise.all([
    makeParty('Centre', 'centre@example.test'),
    makeParty('GEO one', 'geo1@example.test'),
    makeParty('GEO two', 'geo2@example.test'),
  ]);
  for (const party of [centre, geo, otherGeo]) await gpg.import(party.pair.privateKeyArmored);
});

after(async () => {
  await gpg?.close();
});

/** Status lines of `gpg --status-fd 1` (output goes to a file, so stdout carries only these). */
function parseStatusLines(stdout: string): string[] {
  return stdout.split('\n').filter((line) => line.startsWith('[GNUPG:] ')).map((line) => line.slice(9));
}

async function gpgEncrypt(name: string, args: string[]): Promise<Buffer> {
  const input = await gpg.writeTemp(`${name}.plain`, payload);
  const output = `${input}.gpg`;
  const result = await gpg.run(['--trust-model', 'always', '--yes', '-o', output, ...args, '--encrypt', input]);
  assert.equal(result.exitCode, 0, result.stderr);
  return readFile(output);
}

const fromGeo = ['-r', 'centre@example.test', '-u', 'geo1@example.test', '--sign'];
const openOptions = () => ({ decryptionKeys: centre.privateKey, expectedSigningKeys: geo.publicKey, label: 'gpg-made.pgp' });

describe('GnuPG 2.2 reads what sealStream writes', () => {
  test('imports the generated keys as EdDSA + cv25519 with the same fingerprint', async () => {
    const { stdout } = await gpg.run(['--with-colons', '--list-keys', 'geo1@example.test']);
    const records = stdout.split('\n').map((line) => line.split(':'));
    assert.equal(records.find((r) => r[0] === 'pub')?.[3], '22');
    assert.equal(records.find((r) => r[0] === 'sub')?.[3], '18');
    assert.equal(records.find((r) => r[0] === 'fpr')?.[9], geo.pair.fingerprint);
  });

  test('gpg --decrypt opens it, finds no compression or AEAD, and reports a good signature by the GEO key', async () => {
    const sealed = await buffer(sealStream(chunksOf(payload), { encryptionKeys: centre.publicKey, signingKey: geo.privateKey }));
    const path = await gpg.writeTemp('agent.pgp', sealed);

    const packets = await gpg.run(['--list-packets', path]);
    assert.match(packets.stdout, /:encrypted data packet:\s+length: unknown\s+mdc_method: 2/);
    assert.doesNotMatch(packets.stdout, /compressed packet|aead/i);

    const result = await gpg.run(['--status-fd', '1', '-o', `${path}.out`, '--decrypt', path]);
    assert.equal(result.exitCode, 0, result.stderr);
    const status = parseStatusLines(result.stdout);
    assert.ok(status.some((line) => line.startsWith(`GOODSIG ${geo.pair.fingerprint.slice(-16)} `)), status.join('\n'));
    const validSig = status.find((line) => line.startsWith('VALIDSIG '))?.split(' ');
    assert.equal(validSig?.[1], geo.pair.fingerprint);
    assert.equal(validSig?.at(-1), geo.pair.fingerprint, 'primary key fingerprint');
    assert.ok(status.includes('DECRYPTION_OKAY') && status.includes('GOODMDC'), status.join('\n'));
    assert.ok(!status.some((line) => /^(BADSIG|ERRSIG|BADMDC|DECRYPTION_FAILED)/.test(line)), status.join('\n'));
    assert.equal(sha256(await readFile(`${path}.out`)), sha256(payload));
  });
});

describe('openStream reads what GnuPG 2.2 writes', () => {
  const variants: Array<[string, string[]]> = [
    ['--compress-algo none', ['--compress-algo', 'none']],
    // Our keys list "uncompressed" first, so gpg's default does not compress for them: zlib and bzip2 force it.
    ['default compression', []],
    ['--compress-algo zlib', ['--compress-algo', 'zlib']],
    ['--compress-algo bzip2', ['--compress-algo', 'bzip2']],
    ['--throw-keyids (anonymous recipient)', ['--throw-keyids']],
  ];
  for (const [name, args] of variants) {
    test(`gpg --encrypt --sign ${name}: opened and verified`, async () => {
      const encrypted = await gpgEncrypt(name.replace(/\W+/g, '-'), [...fromGeo, ...args]);
      const outcome = await openAll(encrypted, openOptions());
      assert.equal(outcome.error, undefined, String(outcome.error));
      assert.deepEqual(outcome.verification, { signerFingerprint: geo.pair.fingerprint });
      assert.equal(sha256(outcome.plaintext), sha256(payload));
    });
  }

  test('gpg --encrypt without --sign: refused as unsigned', async () => {
    const encrypted = await gpgEncrypt('unsigned', ['-r', 'centre@example.test', '--compress-algo', 'none']);
    const outcome = await openAll(encrypted, openOptions());
    assert.ok(outcome.error instanceof OpenPgpRefusal);
    assert.equal(outcome.error.reason, 'unsigned');
  });

  test("gpg signed with another GEO's key: refused, naming that key", async () => {
    const encrypted = await gpgEncrypt('other', ['-r', 'centre@example.test', '-u', 'geo2@example.test', '--sign']);
    const outcome = await openAll(encrypted, openOptions());
    assert.ok(outcome.error instanceof OpenPgpRefusal);
    assert.equal(outcome.error.reason, 'unexpected-signer');
    assert.match(outcome.error.message, new RegExp(`signed by key ${otherGeo.pair.fingerprint}`));
  });

  test('gpg encrypted to another key: refused as wrong-key', async () => {
    const encrypted = await gpgEncrypt('wrong', ['-r', 'geo2@example.test', '-u', 'geo1@example.test', '--sign']);
    const outcome = await openAll(encrypted, openOptions());
    assert.ok(outcome.error instanceof OpenPgpRefusal);
    assert.equal(outcome.error.reason, 'wrong-key');
  });
});

describe('a centre key made by GnuPG 2.2 itself', () => {
  test('is read by readPrivateKey/readPublicKey and works both ways', async () => {
    const made = await gpg.run(['--quick-gen-key', 'GnuPG Centre <gpg-centre@example.test>', 'default', 'default', 'never']);
    assert.equal(made.exitCode, 0, made.stderr);
    const exportedPublic = await gpg.run(['--armor', '--export', 'gpg-centre@example.test']);
    const exportedSecret = await gpg.run(['--armor', '--export-secret-keys', 'gpg-centre@example.test']);
    const publicKey = await readPublicKey(exportedPublic.stdout, 'gpg-centre.pub', 'encrypt');
    const privateKey = await readPrivateKey(exportedSecret.stdout, 'gpg-centre.sec', '', 'decrypt');

    const sealed = await buffer(sealStream(chunksOf(payload), { encryptionKeys: publicKey, signingKey: geo.privateKey }));
    const path = await gpg.writeTemp('to-gpg-centre.pgp', sealed);
    const result = await gpg.run(['--status-fd', '1', '-o', `${path}.out`, '--decrypt', path]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.ok(parseStatusLines(result.stdout).some((line) => line.startsWith('GOODSIG ')));
    assert.equal(sha256(await readFile(`${path}.out`)), sha256(payload));

    const outcome = await openAll(sealed, { decryptionKeys: privateKey, expectedSigningKeys: geo.publicKey, label: 'x' });
    assert.equal(outcome.error, undefined, String(outcome.error));
    assert.equal(sha256(outcome.plaintext), sha256(payload));
  });
});
