// `worker decrypt`: the delivered file must be what the agent reported (size, sha256), decrypt with the
// centre's key, carry a valid signature of *this transaction's* GEO, and unpack into the transaction's
// work dir. Anything else is refused for good and the file moved to quarantine; MySQL is not touched.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { requireSettings } from '../../config/load.js';
import { GanymedeError, configError, failedError, messageOf, refusedError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { findGeo } from '../../state/geos.js';
import type { StepOutcome } from '../../state/steps.js';
import type { StepContext } from '../../worker/runtime.js';
import { dumpDir, inboxFile, quarantineFile } from '../../worker/paths.js';

async function sha256Of(path: string, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), hash, { signal });
  return hash.digest('hex');
}

async function quarantine(context: StepContext, from: string, reason: string): Promise<never> {
  const to = quarantineFile(context.loaded.config, context.txn);
  await mkdir(dirname(to), { recursive: true, mode: 0o700 });
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    await copyFile(from, to);
    await unlink(from);
  }
  context.log.warn(`refused and moved to quarantine ${to}: ${reason}`);
  throw refusedError(`${context.txn.file!.name} refused: ${reason}; moved to ${to}`, 'the agent may deliver the hour again (agent run --cycle … --force)');
}

export async function decryptStep(context: StepContext): Promise<StepOutcome> {
  const { config } = context.loaded;
  requireSettings(context.loaded, ['centre.private_key_file'], '`worker decrypt`');
  const { txn } = context;
  if (!txn.file) throw failedError(`transaction ${txn.id} has no delivered file recorded`);
  const file = inboxFile(config, txn);

  // done in 3 steps; step 1: the file is the one the agent reported
  const found = await stat(file).catch(() => undefined);
  if (!found) throw refusedError(`${file} is not in the inbox although the agent reported it delivered`, 'the agent may deliver the hour again');
  if (found.size !== txn.file.size) await quarantine(context, file, `its size is ${found.size} bytes, the agent reported ${txn.file.size} (truncated or replaced)`);
  const sha256 = await sha256Of(file, context.signal);
  if (sha256 !== txn.file.sha256) await quarantine(context, file, `its sha256 is ${sha256}, the agent reported ${txn.file.sha256}`);

  // step 2: keys: the centre's private key(s), and the public key of this transaction's GEO only
  const { readPrivateKey, readPublicKey, OpenPgpKeyError } = await import('../../openpgp/keys.js');
  const geo = await findGeo(context.db, txn.geo);
  if (!geo) throw failedError(`GEO ${txn.geo} of transaction ${txn.id} is no longer registered`);
  let keys;
  try {
    keys = {
      centre: await readPrivateKey(await readFile(config.centre.private_key_file!, 'utf8'), `centre.private_key_file ${config.centre.private_key_file}`, undefined, 'decrypt'),
      geo: await readPublicKey(geo.publicKey, `the registered key of GEO ${geo.name}`, 'verify'),
    };
  } catch (error) {
    if (error instanceof OpenPgpKeyError) throw configError(error.message);
    throw error;
  }

  // step 3: decrypt, verify and unpack; only a verified dump reaches the work dir
  const { openDelivery, DeliveryRefusal } = await import('../../pipeline/open-delivery.js');
  const { OpenPgpRefusal } = await import('../../openpgp/open.js');
  const { DumpManifestError } = await import('../../pipeline/dump-manifest.js');
  const target = dumpDir(config, txn);
  await rm(target, { recursive: true, force: true });
  try {
    const opened = await openDelivery({ file, decryptionKeys: keys.centre, expectedSigningKeys: keys.geo, dir: target, signal: context.signal, label: txn.file.name });
    const rows = opened.manifest.tables.reduce((sum, table) => sum + table.rows, 0);
    await context.event({ phase: 'decrypt', message: `signed by ${opened.signerFingerprint}; ${opened.manifest.tables.length} tables`, rows, bytes: opened.bytes });
    return { rows, bytes: opened.bytes };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new GanymedeError(ExitCode.failed, `the work dir ${target} is full (${code})`, { hint: 'free space or move centre.work_dir; the step will be retried' });
    }
    const dataProblem = error instanceof OpenPgpRefusal || error instanceof DeliveryRefusal || error instanceof DumpManifestError || /^TAR_|Z_DATA_ERROR|Z_BUF_ERROR|unexpected end of file|incorrect header check/i.test(`${code ?? ''} ${messageOf(error)}`);
    if (dataProblem) await quarantine(context, file, messageOf(error));
    throw error;
  }
}
