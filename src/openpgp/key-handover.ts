// A centre key handing over to its successor: the old key signs the new public key, so an agent that
// trusts the old key can take the new one from the API without trusting the API (or the network).
import * as openpgp from 'openpgp';
import type { PrivateKey, PublicKey } from 'openpgp';
import { fingerprintOf } from './keys.js';

/** The exact bytes signed: the armored public key as published, so nothing needs normalising. */
const signedBytes = (armoredPublicKey: string) => new TextEncoder().encode(armoredPublicKey);

export async function signHandover(oldKey: PrivateKey, newPublicKeyArmored: string): Promise<string> {
  const message = await openpgp.createMessage({ binary: signedBytes(newPublicKeyArmored) });
  return openpgp.sign({ message, signingKeys: oldKey, detached: true, format: 'armored' });
}

/** True when `signature` is a valid signature of `oldKey` over the armored new key. */
export async function verifyHandover(oldKey: PublicKey, newPublicKeyArmored: string, signature: string): Promise<boolean> {
  try {
    const message = await openpgp.createMessage({ binary: signedBytes(newPublicKeyArmored) });
    const result = await openpgp.verify({ message, signature: await openpgp.readSignature({ armoredSignature: signature }), verificationKeys: oldKey, expectSigned: true });
    const [first] = result.signatures;
    if (!first) return false;
    await first.verified;
    return first.keyID.equals(oldKey.getKeyID()) || oldKey.getKeys(first.keyID).length > 0;
  } catch {
    return false;
  }
}

export { fingerprintOf };
