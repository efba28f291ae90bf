// OpenPGP keys for GEOs (sign) and the centre (decrypt). Keys are v4 curve25519 "legacy" (EdDSA primary
// key + ECDH cv25519 subkey): GnuPG 2.2 reads and uses them, unlike openpgp.js 6's v6 keys or its
// RFC 9580 Ed25519/X25519 algorithms, and they generate in milliseconds where RSA-4096 takes seconds.
import * as openpgp from 'openpgp';
import type { Key, PrivateKey, PublicKey } from 'openpgp';

/** A key that cannot be used, with a one-line message naming where it came from. */
export class OpenPgpKeyError extends Error {
  override name = 'OpenPgpKeyError';
}

export interface GenerateKeyPairOptions {
  name: string;
  email?: string;
  /** Protects the private key; without it the private key is stored in the clear (keep the file 0600). */
  passphrase?: string;
}

export interface GeneratedKeyPair {
  publicKeyArmored: string;
  privateKeyArmored: string;
  /** Upper-case hex, as `gpg --with-colons` prints it. */
  fingerprint: string;
}

export async function generateKeyPair({ name, email, passphrase }: GenerateKeyPairOptions): Promise<GeneratedKeyPair> {
  const generated = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [email ? { name, email } : { name }],
    ...(passphrase === undefined ? {} : { passphrase }),
    format: 'armored',
    // v6Keys/aeadProtect off: no SEIPDv2 feature flag on the key, so no sender ever picks a format GnuPG 2.2 can't read.
    config: { v6Keys: false, aeadProtect: false },
  });
  const publicKey = await openpgp.readKey({ armoredKey: generated.publicKey });
  return {
    publicKeyArmored: generated.publicKey,
    privateKeyArmored: generated.privateKey,
    fingerprint: fingerprintOf(publicKey),
  };
}

/** What the caller means to do with a key; checks that a valid (sub)key for it exists. */
export type PublicKeyUse = 'encrypt' | 'verify' | 'any';
export type PrivateKeyUse = 'sign' | 'decrypt' | 'any';

/**
 * Reads one armored public key. Refuses private keys (a private key where a public one is expected is a
 * key about to be distributed by mistake), expired, revoked and otherwise invalid keys.
 */
export async function readPublicKey(armored: string, label: string, use: PublicKeyUse = 'any'): Promise<PublicKey> {
  const key = await parseKey(armored, label);
  if (key.isPrivate()) {
    throw new OpenPgpKeyError(`${label}: holds a private key where a public key is expected; export the public key (gpg --export --armor)`);
  }
  await assertUsable(key, label);
  if (use === 'encrypt') await assertCapable(() => key.getEncryptionKey(), key, label, 'encryption');
  if (use === 'verify') await assertCapable(() => key.getSigningKey(), key, label, 'signing');
  return key;
}

/** Reads one armored private key and unlocks it with the passphrase when it is protected. */
export async function readPrivateKey(
  armored: string,
  label: string,
  passphrase?: string,
  use: PrivateKeyUse = 'any',
): Promise<PrivateKey> {
  const key = await parseKey(armored, label);
  if (!key.isPrivate()) {
    throw new OpenPgpKeyError(`${label}: holds a public key where a private key is expected (fingerprint ${fingerprintOf(key)})`);
  }
  await assertUsable(key, label);
  let unlocked: PrivateKey = key;
  if (!key.isDecrypted()) {
    if (passphrase === undefined) {
      throw new OpenPgpKeyError(`${label}: private key ${fingerprintOf(key)} is protected by a passphrase and none was given`);
    }
    try {
      unlocked = await openpgp.decryptKey({ privateKey: key, passphrase });
    } catch (error) {
      throw new OpenPgpKeyError(`${label}: cannot unlock private key ${fingerprintOf(key)}: ${oneLine(error)} (wrong passphrase?)`);
    }
  }
  if (use === 'sign') await assertCapable(() => unlocked.getSigningKey(), key, label, 'signing');
  if (use === 'decrypt') await assertCapable(() => unlocked.getDecryptionKeys(), key, label, 'decryption');
  return unlocked;
}

/**
 * Reads every private key of an armored block (the centre's file holds its current key and, after
 * `keys rotate`, the retired ones), each checked and unlocked like readPrivateKey. Keys no longer usable
 * (expired, revoked) are left out, as long as one usable key remains.
 */
export async function readPrivateKeys(armored: string, label: string, passphrase?: string, use: PrivateKeyUse = 'any'): Promise<PrivateKey[]> {
  if (!armored.includes('-----BEGIN PGP')) throw new OpenPgpKeyError(`${label}: not an armored OpenPGP key (no "-----BEGIN PGP" line)`);
  let keys: Key[];
  try {
    keys = await openpgp.readKeys({ armoredKeys: armored });
  } catch (error) {
    throw new OpenPgpKeyError(`${label}: not a readable OpenPGP key: ${oneLine(error)}`);
  }
  if (keys.length === 1) return [await readPrivateKey(armored, label, passphrase, use)];
  const usable: PrivateKey[] = [];
  let firstProblem: unknown;
  for (const key of keys) {
    try {
      usable.push(await readPrivateKey(key.armor(), `${label} (key ${fingerprintOf(key)})`, passphrase, use));
    } catch (error) {
      firstProblem ??= error;
    }
  }
  if (usable.length === 0) throw firstProblem;
  return usable;
}

/**
 * The armored block with `key` put in front of every key `armored` holds (keys that no longer work
 * included), as one block of concatenated transferable keys: GnuPG imports it as it is.
 */
export async function prependPrivateKey(armored: string, key: PrivateKey): Promise<string> {
  const existing = await openpgp.readPrivateKeys({ armoredKeys: armored });
  const parts = [key, ...existing].map((each) => each.toPacketList().write());
  const all = new Uint8Array(parts.reduce((sum, bytes) => sum + bytes.length, 0));
  let offset = 0;
  for (const bytes of parts) {
    all.set(bytes, offset);
    offset += bytes.length;
  }
  // With the CRC24 line: GnuPG 2.2 misreads an armor block without it.
  return openpgp.armor(openpgp.enums.armor.privateKey, all, undefined, undefined, undefined, true);
}

/**
 * The keys whose signature a GEO's file may carry: the key in force first (any problem with it is an
 * error), then keys retired since, each left out once it no longer works (an expired one simply stops
 * counting).
 */
export async function readGeoSigningKeys(armored: string[], geo: string): Promise<PublicKey[]> {
  const [current, ...retired] = armored;
  if (current === undefined) throw new OpenPgpKeyError(`GEO ${geo} has no registered key`);
  const usable = await Promise.all(retired.map((key) => readPublicKey(key, `a retired key of GEO ${geo}`, 'verify').catch(() => undefined)));
  return [await readPublicKey(current, `the registered key of GEO ${geo}`, 'verify'), ...usable.filter((key) => key !== undefined)];
}

export function fingerprintOf(key: Key): string {
  return key.getFingerprint().toUpperCase();
}

async function parseKey(armored: string, label: string): Promise<Key> {
  if (!armored.includes('-----BEGIN PGP')) {
    throw new OpenPgpKeyError(`${label}: not an armored OpenPGP key (no "-----BEGIN PGP" line)`);
  }
  try {
    return await openpgp.readKey({ armoredKey: armored });
  } catch (error) {
    throw new OpenPgpKeyError(`${label}: not a readable OpenPGP key: ${oneLine(error)}`);
  }
}

async function assertUsable(key: Key, label: string): Promise<void> {
  const fingerprint = fingerprintOf(key);
  if (await key.isRevoked()) throw new OpenPgpKeyError(`${label}: key ${fingerprint} is revoked`);
  // getExpirationTime() looks at the self-signatures without judging them, so it still answers for an
  // expired key, where verifyPrimaryKey() would only say "invalid".
  const expires = await key.getExpirationTime().catch(() => null);
  if (expires instanceof Date && expires.getTime() <= Date.now()) {
    throw new OpenPgpKeyError(`${label}: key ${fingerprint} expired on ${expires.toISOString()}`);
  }
  try {
    await key.verifyPrimaryKey();
  } catch (error) {
    throw new OpenPgpKeyError(`${label}: key ${fingerprint} is not valid: ${oneLine(error)}`);
  }
}

async function assertCapable(find: () => Promise<unknown>, key: Key, label: string, what: string): Promise<void> {
  let found: unknown;
  try {
    found = await find();
  } catch (error) {
    throw new OpenPgpKeyError(`${label}: key ${fingerprintOf(key)} has no valid ${what} key: ${oneLine(error)}`);
  }
  // getDecryptionKeys() answers with an empty list rather than throwing.
  if (Array.isArray(found) && found.length === 0) {
    throw new OpenPgpKeyError(`${label}: key ${fingerprintOf(key)} has no valid ${what} key`);
  }
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, ' ').trim();
}
