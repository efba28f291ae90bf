// `ganymede keys rotate` and `keys list`: the centre's own key pair. A rotation puts a new key in front
// of centre.private_key_file (the old ones stay behind it, so decrypt still opens every file encrypted
// to them) and publishes the new public key through the API, signed by the old key; agents take it over
// at their next run.
import { open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { requireSettings, type LoadedConfig } from '../../config/load.js';
import { configError, messageOf } from '../../errors.js';
import { acquireHostLock } from '../../lock.js';
import { ChainMovedError, deliveriesWaitingSince, listCentreKeys, recordKeyHandover, type CentreKey, type KeyHandover } from '../../state/centre-keys.js';
import type { Db } from '../../state/db.js';
import { formatTime, renderTable } from '../../render/table.js';
import { auditCli } from '../audit.js';
import { withStateDb } from '../context.js';

export interface KeysRotateResult {
  from: string;
  to: string;
  privateKeyFile: string;
  publicKeyFile: string;
  /** True when this run finished a rotation that an earlier, interrupted run had begun. */
  resumed: boolean;
}

async function readCentreKeys(file: string) {
  const { readPrivateKeys, OpenPgpKeyError } = await import('../../openpgp/keys.js');
  const armored = await readFile(file, 'utf8').catch((error: unknown) => {
    throw configError(`centre.private_key_file: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? messageOf(error)}`);
  });
  try {
    return { armored, keys: await readPrivateKeys(armored, `centre.private_key_file ${file}`, undefined, 'decrypt') };
  } catch (error) {
    if (error instanceof OpenPgpKeyError) throw configError(error.message);
    throw error;
  }
}

/**
 * Replaces the file's content in one rename, keeping its 0600 mode and its owner (run under sudo, it
 * must stay readable by the workers' user), and makes the rename durable before anything is published:
 * after a power cut, agents must never encrypt to a key the file lost.
 */
async function replacePrivateFile(file: string, content: string): Promise<void> {
  const owner = await stat(file);
  const temporary = join(dirname(file), `.${basename(file)}.rotating`);
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(content);
    if (process.getuid?.() === 0) await handle.chown(owner.uid, owner.gid);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Publishes a handover, with its audit row in the same database transaction. */
async function publish(db: Db, handover: KeyHandover, resumed: boolean): Promise<void> {
  try {
    await recordKeyHandover(db, handover, (connection) => auditCli(connection, 'keys.rotate', 'centre-key', { from: handover.from.fingerprint, to: handover.to.fingerprint, ...(resumed ? { resumed } : {}) }));
  } catch (error) {
    if (error instanceof ChainMovedError) throw configError(error.message, { hint: 'rotate on one central host only; see `ganymede keys list`' });
    throw error;
  }
}

export async function runKeysRotate({ loaded }: { loaded: LoadedConfig }): Promise<KeysRotateResult> {
  requireSettings(loaded, ['centre.private_key_file', 'mysql.url'], '`keys rotate`');
  const file = loaded.config.centre.private_key_file!;
  const lock = await acquireHostLock('keys-rotate', file, '`ganymede keys rotate`');
  try {
    return await withStateDb(loaded, (db) => rotate(db, file));
  } finally {
    await lock.release();
  }
}

/** Where a rotation starts from: the key file's keys and the published chain, checked against each other. */
async function rotationStart(db: Db, file: string) {
  const { fingerprintOf } = await import('../../openpgp/keys.js');
  const { armored, keys } = await readCentreKeys(file);
  const chain = await listCentreKeys(db);
  const newest = chain.at(-1)?.fingerprint;
  const [first, second] = keys;
  const inFile = fingerprintOf(first!);
  if (newest !== undefined && newest !== inFile) {
    // An interrupted rotation wrote the file and stopped before the database: finish publishing it.
    const interrupted = second && fingerprintOf(second) === newest && !chain.some((key) => key.fingerprint === inFile);
    if (!interrupted) {
      throw configError(
        `centre.private_key_file ${file} starts with key ${inFile}, but the newest centre key published is ${newest}`,
        { hint: 'was the file replaced by hand? put back the file `keys rotate` wrote (its first key must be the newest of `ganymede keys list`)' },
      );
    }
  }
  const resume = (newest === undefined && second !== undefined) || (newest !== undefined && newest !== inFile);
  return { armored, first: first!, second, inFile, resume };
}

const publicKeyFileFor = (file: string, fingerprint: string) => join(dirname(file), `centre-${fingerprint.slice(-16)}.pub.asc`);

async function rotate(db: Db, file: string): Promise<KeysRotateResult> {
  const { fingerprintOf, generateKeyPair, prependPrivateKey, readPrivateKey } = await import('../../openpgp/keys.js');
  const { signHandover } = await import('../../openpgp/key-handover.js');
  const { armored, first, second, inFile, resume } = await rotationStart(db, file);
  const publicKeyFile = (fingerprint: string) => publicKeyFileFor(file, fingerprint);

  if (resume) {
    const publicArmored = first.toPublic().armor();
    await writeFile(publicKeyFile(inFile), publicArmored, { mode: 0o644 });
    await publish(db, {
      from: { fingerprint: fingerprintOf(second!), publicKey: second!.toPublic().armor() },
      to: { fingerprint: inFile, publicKey: publicArmored, signature: await signHandover(second!, publicArmored) },
    }, true);
    return { from: fingerprintOf(second!), to: inFile, privateKeyFile: file, publicKeyFile: publicKeyFile(inFile), resumed: true };
  }

  const pair = await generateKeyPair({ name: 'ganymede centre' });
  const next = await readPrivateKey(pair.privateKeyArmored, 'the new centre key', undefined, 'decrypt');
  const signature = await signHandover(first, pair.publicKeyArmored);
  // The file first: once the new key is published, agents encrypt to it, so decrypt must already have it.
  await replacePrivateFile(file, await prependPrivateKey(armored, next));
  await writeFile(publicKeyFile(pair.fingerprint), pair.publicKeyArmored, { mode: 0o644 });
  await publish(db, {
    from: { fingerprint: inFile, publicKey: first.toPublic().armor() },
    to: { fingerprint: pair.fingerprint, publicKey: pair.publicKeyArmored, signature },
  }, false);
  return { from: inFile, to: pair.fingerprint, privateKeyFile: file, publicKeyFile: publicKeyFile(pair.fingerprint), resumed: false };
}

export interface KeysRotatePlan {
  dryRun: true;
  /** The key agents encrypt to now. */
  from: string;
  /** The key a resumed rotation would publish (already first in the key file); null when a new one would be made. */
  resumes: string | null;
  privateKeyFile: string;
}

/** `--dry-run`: the key file and the published chain checked as a rotation checks them; no key is made, nothing written. */
export async function planKeysRotate({ loaded }: { loaded: LoadedConfig }): Promise<KeysRotatePlan> {
  requireSettings(loaded, ['centre.private_key_file', 'mysql.url'], '`keys rotate`');
  const file = loaded.config.centre.private_key_file!;
  const { fingerprintOf } = await import('../../openpgp/keys.js');
  return withStateDb(loaded, async (db) => {
    const { second, inFile, resume } = await rotationStart(db, file);
    return resume ? { dryRun: true, from: fingerprintOf(second!), resumes: inFile, privateKeyFile: file } : { dryRun: true, from: inFile, resumes: null, privateKeyFile: file };
  });
}

export function describeKeysRotatePlan(plan: KeysRotatePlan): string {
  if (plan.resumes) {
    return `dry run: would finish the interrupted rotation: publish key ${plan.resumes} (already first in ${plan.privateKeyFile}), signed by ${plan.from}, and write ${publicKeyFileFor(plan.privateKeyFile, plan.resumes)}; nothing was changed`;
  }
  return (
    `dry run: would make a new centre key, put it in front of ${plan.privateKeyFile} (the old keys stay in it), write its public key beside it ` +
    `(centre-<its fingerprint>.pub.asc) and publish it signed by ${plan.from}; agents would encrypt to it from their next run; nothing was changed`
  );
}

export interface CentreKeyState extends Omit<CentreKey, 'publicKey' | 'signature'> {
  state: 'current' | 'retired';
  inPrivateKeyFile: boolean;
  /** For a retired key: deliveries from before its retirement not yet decrypted (they may need it). */
  waitingDeliveries: number | null;
}

export async function runKeysList({ loaded }: { loaded: LoadedConfig }): Promise<CentreKeyState[]> {
  requireSettings(loaded, ['mysql.url'], '`keys list`');
  const { fingerprintOf } = await import('../../openpgp/keys.js');
  const file = loaded.config.centre.private_key_file;
  const inFile = file ? new Set((await readCentreKeys(file)).keys.map((key) => fingerprintOf(key))) : new Set<string>();
  return withStateDb(loaded, async (db) => {
    const chain = await listCentreKeys(db);
    const states: CentreKeyState[] = [];
    for (const [index, key] of chain.entries()) {
      const current = index === chain.length - 1;
      states.push({
        fingerprint: key.fingerprint,
        signedBy: key.signedBy,
        createdAt: key.createdAt,
        retiredAt: key.retiredAt,
        state: current ? 'current' : 'retired',
        inPrivateKeyFile: inFile.has(key.fingerprint),
        waitingDeliveries: !current && key.retiredAt ? await deliveriesWaitingSince(db, key.retiredAt) : null,
      });
    }
    return states;
  });
}

export function describeKeysList(keys: CentreKeyState[]): string {
  if (keys.length === 0) return 'the centre key was never rotated: agents use agent.centre_public_key_file as it is';
  return renderTable(
    ['FINGERPRINT', 'STATE', 'SIGNED BY', 'RETIRED', 'IN KEY FILE', 'WAITING DELIVERIES'],
    keys.map((key) => [
      key.fingerprint,
      key.state,
      key.signedBy ? `…${key.signedBy.slice(-16)}` : '-',
      key.retiredAt ? formatTime(key.retiredAt) : '-',
      key.inPrivateKeyFile ? 'yes' : 'NO',
      key.waitingDeliveries === null ? '-' : String(key.waitingDeliveries),
    ]),
  );
}
