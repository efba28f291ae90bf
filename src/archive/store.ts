// The archive store (archive.url, default file://<data_dir>/archive) and the centre's keys the archive
// signs and encrypts with.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PrivateKey, PublicKey } from 'openpgp';
import type { LoadedConfig } from '../config/load.js';
import { requireSettings } from '../config/load.js';
import { configError } from '../errors.js';
import { openConfiguredStore } from '../transport/location.js';
import type { Transport } from '../transport/transport.js';
import type { Logger } from '../log.js';

export function archiveUrl(loaded: LoadedConfig): string {
  return loaded.config.archive.url ?? `file://${join(loaded.config.site.data_dir, 'archive')}`;
}

export async function openArchiveStore(loaded: LoadedConfig, log: Logger): Promise<Transport> {
  const { archive } = loaded.config;
  return openConfiguredStore(
    archiveUrl(loaded),
    { keyFile: archive.key_file, hostKey: archive.host_key, secret: loaded.secret('archive.secret'), accessKeyId: archive.access_key_id },
    (line) => log.warn(line),
  );
}

export interface CentreKeys {
  /** The current key: what new archives are encrypted to and signed with. */
  privateKey: PrivateKey;
  publicKey: PublicKey;
  /** Every key of the file, the retired ones after `keys rotate` included: what archived files may need. */
  allPrivateKeys: PrivateKey[];
  allPublicKeys: PublicKey[];
}

export async function readCentreKeys(loaded: LoadedConfig): Promise<CentreKeys> {
  requireSettings(loaded, ['centre.private_key_file'], 'the archive');
  const { readPrivateKeys, OpenPgpKeyError } = await import('../openpgp/keys.js');
  const file = loaded.config.centre.private_key_file!;
  try {
    const all = await readPrivateKeys(await readFile(file, 'utf8'), `centre.private_key_file ${file}`, undefined, 'any');
    return { privateKey: all[0]!, publicKey: all[0]!.toPublic(), allPrivateKeys: all, allPublicKeys: all.map((key) => key.toPublic()) };
  } catch (error) {
    if (error instanceof OpenPgpKeyError) throw configError(error.message);
    throw error;
  }
}
