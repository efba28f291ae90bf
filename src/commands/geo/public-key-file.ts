import { readFile } from 'node:fs/promises';
import { configError } from '../../errors.js';

/** Reads a GEO's armored public signing key and its fingerprint; any problem is a configuration error naming the file. */
export async function readGeoPublicKeyFile(path: string): Promise<{ armored: string; fingerprint: string }> {
  let armored: string;
  try {
    armored = await readFile(path, 'utf8');
  } catch (error) {
    throw configError(`cannot read the public key file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const { readPublicKey, fingerprintOf, OpenPgpKeyError } = await import('../../openpgp/keys.js');
  try {
    const key = await readPublicKey(armored, path, 'verify');
    return { armored: key.armor(), fingerprint: fingerprintOf(key) };
  } catch (error) {
    if (error instanceof OpenPgpKeyError) throw configError(error.message, { hint: 'give the GEO\'s public key, as written by `ganymede keys generate`' });
    throw error;
  }
}
