// A centre key handing over to its successor: the old key signs the new public key, so an agent that
// trusts the old key can take the new one from the API without trusting the API (or the network). What
// is signed names its purpose and both fingerprints, so the signature can never be mistaken for (or
// replayed as) any other signature the centre key makes, such as on an archived dump.
import * as openpgp from 'openpgp';
import type { PrivateKey, PublicKey } from 'openpgp';
import { fingerprintOf } from './keys.js';

const purpose = 'ganymede-centre-key-handover/v1';

async function signedBytes(fromFingerprint: string, newPublicKeyArmored: string): Promise<Uint8Array> {
  const next = await openpgp.readKey({ armoredKey: newPublicKeyArmored });
  return new TextEncoder().encode(`${purpose}\nfrom ${fromFingerprint}\nto ${fingerprintOf(next)}\n${newPublicKeyArmored}`);
}

export async function signHandover(oldKey: PrivateKey, newPublicKeyArmored: string): Promise<string> {
  const message = await openpgp.createMessage({ binary: await signedBytes(fingerprintOf(oldKey), newPublicKeyArmored) });
  return openpgp.sign({ message, signingKeys: oldKey, detached: true, format: 'armored' });
}

/** True when `signature` is a valid handover signature of `oldKey` to the armored new key. */
export async function verifyHandover(oldKey: PublicKey, newPublicKeyArmored: string, signature: string): Promise<boolean> {
  try {
    const message = await openpgp.createMessage({ binary: await signedBytes(fingerprintOf(oldKey), newPublicKeyArmored) });
    const result = await openpgp.verify({ message, signature: await openpgp.readSignature({ armoredSignature: signature }), verificationKeys: oldKey, expectSigned: true });
    const [first] = result.signatures;
    if (!first) return false;
    await first.verified;
    return oldKey.getKeys(first.keyID).length > 0;
  } catch {
    return false;
  }
}
