// Which centre key the agent encrypts to. It trusts the key it was configured with, or the newer one it
// took over since (kept in its work dir), and follows the chain the API publishes only as far as each
// next key is signed by the one before it: a key the API offers without that signature is ignored, so
// whoever controls the network or the API cannot make agents encrypt to their key.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PublicKey } from 'openpgp';
import type { PublishedCentreKey } from '../api/client.js';
import type { Logger } from '../log.js';
import { messageOf } from '../errors.js';

export const takenOverKeyFile = (workDir: string) => join(workDir, 'centre-key.asc');
/** The fingerprint of agent.centre_public_key_file when the key was taken over: if the config changes, the operator re-anchored trust. */
const anchorFile = (workDir: string) => join(workDir, 'centre-key.anchor');

export interface CentreKeyChoice {
  key: PublicKey;
  fingerprint: string;
  /** Set when this run took over a newer key: the one it replaced. */
  replaced?: string;
  /** Set when the API offered a key the agent could not verify, and why it was ignored. */
  ignored?: string;
}

/**
 * The key to encrypt to: `configured` (agent.centre_public_key_file), or the one taken over earlier, or a
 * newer one from `published` reached through valid handover signatures, which is then kept for next time.
 * `published` undefined (the API did not answer) keeps the trusted key.
 */
export async function chooseCentreKey(options: {
  configured: PublicKey;
  workDir: string;
  published: PublishedCentreKey[] | undefined;
  log: Logger;
}): Promise<CentreKeyChoice> {
  const { readPublicKey, fingerprintOf } = await import('../openpgp/keys.js');
  const { verifyHandover } = await import('../openpgp/key-handover.js');
  let trusted = options.configured;
  const configuredFingerprint = fingerprintOf(options.configured);
  const anchor = (await readFile(anchorFile(options.workDir), 'utf8').catch(() => '')).trim();
  const cached = await readFile(takenOverKeyFile(options.workDir), 'utf8').catch(() => undefined);
  if (cached !== undefined && anchor !== configuredFingerprint) {
    // A new key in agent.centre_public_key_file (after a leak, say) overrides whatever was taken over before.
    options.log.warn(`agent.centre_public_key_file now holds ${configuredFingerprint}: the centre key taken over earlier is dropped`);
  } else if (cached !== undefined) {
    try {
      trusted = await readPublicKey(cached, `the centre key taken over earlier (${takenOverKeyFile(options.workDir)})`, 'encrypt');
    } catch (error) {
      options.log.warn(`${messageOf(error)}; using agent.centre_public_key_file`);
    }
  }
  const trustedFingerprint = fingerprintOf(trusted);
  const chain = options.published ?? [];
  const start = chain.findIndex((key) => key.fingerprint === trustedFingerprint);
  if (chain.length === 0 || start === chain.length - 1) return { key: trusted, fingerprint: trustedFingerprint };
  if (start < 0) {
    const ignored = `the centre publishes keys up to ${chain.at(-1)!.fingerprint}, but not the key this agent trusts (${trustedFingerprint}): kept encrypting to ${trustedFingerprint}`;
    return { key: trusted, fingerprint: trustedFingerprint, ignored };
  }
  let current = trusted;
  for (const next of chain.slice(start + 1)) {
    const signer = fingerprintOf(current);
    let nextKey: PublicKey;
    try {
      nextKey = await readPublicKey(next.publicKey, `centre key ${next.fingerprint} from the API`, 'encrypt');
    } catch (error) {
      return { key: current, fingerprint: signer, ignored: `${messageOf(error)}: kept encrypting to ${signer}` };
    }
    const signed = next.signedBy === signer && next.signature !== null && fingerprintOf(nextKey) === next.fingerprint && (await verifyHandover(current, next.publicKey, next.signature));
    if (!signed) {
      return { key: current, fingerprint: signer, ignored: `the API offers centre key ${next.fingerprint} without a valid signature by ${signer}: ignored it, kept encrypting to ${signer}` };
    }
    current = nextKey;
  }
  const fingerprint = fingerprintOf(current);
  // Written whole, then renamed: a crash leaves the old file or the new one, never half of one.
  const file = takenOverKeyFile(options.workDir);
  await writeFile(`${anchorFile(options.workDir)}.tmp`, `${configuredFingerprint}\n`, { mode: 0o600 });
  await writeFile(`${file}.tmp`, current.armor(), { mode: 0o600 });
  await rename(`${anchorFile(options.workDir)}.tmp`, anchorFile(options.workDir));
  await rename(`${file}.tmp`, file);
  return { key: current, fingerprint, replaced: trustedFingerprint };
}
