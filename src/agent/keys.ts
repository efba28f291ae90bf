// The agent's two keys: its own private signing key and the centre's public encryption key.
import { readFile } from 'node:fs/promises';
import type { PrivateKey, PublicKey } from 'openpgp';
import { configError } from '../errors.js';

async function readKeyFile(path: string, key: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw configError(`${key}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

export interface AgentKeys {
  signingKey: PrivateKey;
  centreKey: PublicKey;
}

export async function readAgentKeys(signingKeyFile: string, centrePublicKeyFile: string): Promise<AgentKeys> {
  const { readPrivateKey, readPublicKey, OpenPgpKeyError } = await import('../openpgp/keys.js');
  const [signingText, centreText] = await Promise.all([
    readKeyFile(signingKeyFile, 'agent.signing_key_file'),
    readKeyFile(centrePublicKeyFile, 'agent.centre_public_key_file'),
  ]);
  try {
    return {
      signingKey: await readPrivateKey(signingText, `agent.signing_key_file ${signingKeyFile}`, undefined, 'sign'),
      centreKey: await readPublicKey(centreText, `agent.centre_public_key_file ${centrePublicKeyFile}`, 'encrypt'),
    };
  } catch (error) {
    if (error instanceof OpenPgpKeyError) throw configError(error.message, { hint: 'see `ganymede keys generate` and README, "Keys"' });
    throw error;
  }
}
