import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as openpgp from 'openpgp';
import { generateKeyPair, OpenPgpKeyError, readPrivateKey, readPublicKey, type GeneratedKeyPair } from '../../src/openpgp/keys.js';

let plain: GeneratedKeyPair;
let protectedPair: GeneratedKeyPair;

before(async () => {
  [plain, protectedPair] = await Promise.all([
    generateKeyPair({ name: 'GEO one', email: 'geo1@example.test' }),
    generateKeyPair({ name: 'Centre', passphrase: 'correct horse' }),
  ]);
});

async function assertKeyError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof OpenPgpKeyError, `expected OpenPgpKeyError, got ${String(error)}`);
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
}

describe('reading keys', () => {
  test('reads what generateKeyPair wrote, for each use', async () => {
    const publicKey = await readPublicKey(plain.publicKeyArmored, 'geo1.pub', 'verify');
    await readPublicKey(plain.publicKeyArmored, 'geo1.pub', 'encrypt');
    const privateKey = await readPrivateKey(plain.privateKeyArmored, 'geo1.sec', undefined, 'sign');
    await readPrivateKey(plain.privateKeyArmored, 'geo1.sec', undefined, 'decrypt');
    assert.equal(publicKey.getFingerprint().toUpperCase(), plain.fingerprint);
    assert.equal(privateKey.isDecrypted(), true);
    assert.deepEqual(publicKey.getUserIDs(), ['GEO one <geo1@example.test>']);
  });

  test('unlocks a passphrase-protected private key, and says when the passphrase is missing or wrong', async () => {
    const unlocked = await readPrivateKey(protectedPair.privateKeyArmored, '/etc/ganymede/centre.sec', 'correct horse');
    assert.equal(unlocked.isDecrypted(), true);
    await assertKeyError(
      readPrivateKey(protectedPair.privateKeyArmored, '/etc/ganymede/centre.sec'),
      /^\/etc\/ganymede\/centre\.sec: private key [0-9A-F]{40} is protected by a passphrase and none was given$/,
    );
    await assertKeyError(
      readPrivateKey(protectedPair.privateKeyArmored, '/etc/ganymede/centre.sec', 'battery staple'),
      /^\/etc\/ganymede\/centre\.sec: cannot unlock private key [0-9A-F]{40}: .*\(wrong passphrase\?\)$/,
    );
  });

  test('refuses a public key where a private key is needed, and the reverse', async () => {
    await assertKeyError(
      readPrivateKey(plain.publicKeyArmored, 'keys/geo1.sec'),
      new RegExp(`^keys/geo1\\.sec: holds a public key where a private key is expected \\(fingerprint ${plain.fingerprint}\\)$`),
    );
    await assertKeyError(readPublicKey(plain.privateKeyArmored, 'keys/centre.pub'), /^keys\/centre\.pub: holds a private key where a public key is expected/);
  });

  test('refuses text that is not a key', async () => {
    await assertKeyError(readPublicKey('hello, I am not a key\n', 'keys/geo1.pub'), /^keys\/geo1\.pub: not an armored OpenPGP key/);
    await assertKeyError(readPublicKey('', 'keys/empty.pub'), /^keys\/empty\.pub: not an armored OpenPGP key/);
    const lines = plain.publicKeyArmored.split('\n');
    const cut = [...lines.slice(0, 4), '-----END PGP PUBLIC KEY BLOCK-----'].join('\n');
    await assertKeyError(readPublicKey(cut, 'keys/cut.pub'), /^keys\/cut\.pub: not a readable OpenPGP key: /);
    const holed = [...lines.slice(0, 3), ...lines.slice(6)].join('\n');
    await assertKeyError(readPublicKey(holed, 'keys/holed.pub'), /^keys\/holed\.pub: not a readable OpenPGP key: /);
    const message = await openpgp.encrypt({
      message: await openpgp.createMessage({ text: 'not a key' }),
      encryptionKeys: await readPublicKey(plain.publicKeyArmored, 'k'),
    });
    await assertKeyError(readPublicKey(message, 'keys/message.asc'), /^keys\/message\.asc: not a readable OpenPGP key: /);
  });

  test('refuses an expired key, saying when it expired', async () => {
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    const expired = await openpgp.generateKey({
      type: 'ecc',
      curve: 'curve25519Legacy',
      userIDs: [{ name: 'Old GEO' }],
      date: twoDaysAgo,
      keyExpirationTime: 86_400,
      format: 'armored',
    });
    const expiredOn = new Date(Math.floor(twoDaysAgo.getTime() / 1000) * 1000 + 86_400_000).toISOString();
    await assertKeyError(readPublicKey(expired.publicKey, 'keys/old.pub'), new RegExp(`^keys/old\\.pub: key [0-9A-F]{40} expired on ${expiredOn}$`));
    await assertKeyError(readPrivateKey(expired.privateKey, 'keys/old.sec'), /^keys\/old\.sec: key [0-9A-F]{40} expired on /);
  });

  test('refuses a revoked key', async () => {
    const key = await readPrivateKey(plain.privateKeyArmored, 'k');
    const revoked = await openpgp.revokeKey({ key, format: 'armored' });
    await assertKeyError(readPublicKey(revoked.publicKey, 'keys/revoked.pub'), new RegExp(`^keys/revoked\\.pub: key ${plain.fingerprint} is revoked$`));
    await assertKeyError(readPrivateKey(revoked.privateKey, 'keys/revoked.sec'), /is revoked$/);
  });

  test('refuses a key without the capability asked for', async () => {
    const signOnly = await openpgp.generateKey({
      type: 'ecc',
      curve: 'curve25519Legacy',
      userIDs: [{ name: 'Sign only' }],
      subkeys: [],
      format: 'armored',
    });
    await readPublicKey(signOnly.publicKey, 'keys/sign-only.pub', 'verify');
    await assertKeyError(readPublicKey(signOnly.publicKey, 'keys/sign-only.pub', 'encrypt'), /^keys\/sign-only\.pub: key [0-9A-F]{40} has no valid encryption key/);
    await assertKeyError(readPrivateKey(signOnly.privateKey, 'keys/sign-only.sec', undefined, 'decrypt'), /has no valid decryption key/);
  });
});
