// `worker decrypt`: the delivered file must be what the agent reported (size, sha256), decrypt with the
// centre's key, carry a valid signature of *this transaction's* GEO, and unpack into the transaction's
// work dir. Anything else is refused for good and the file moved to quarantine; MySQL is not touched.
// The file is read only as a regular file opened without following links (inbox-file.ts), and what it
// unpacks to is bounded (unpack-limits.ts).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { centreDirs, requireSettings } from '../../config/load.js';
import { GanymedeError, configError, failedError, messageOf, refusedError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { listRetiredGeoKeys, signingKeysForDelivery, type Geo } from '../../state/geos.js';
import type { StepOutcome } from '../../state/steps.js';
import type { StepContext } from '../../worker/runtime.js';
import { dumpDir } from '../../worker/paths.js';
import { InboxRefusal, type InboxFile } from '../../worker/inbox-file.js';
import { openDeliveryFile, quarantineDelivery, refuseIfGeoDisabled } from '../../inbox/delivery.js';
import { listCentreKeys } from '../../state/centre-keys.js';
import { checkFreeSpace, unpackLimit } from '../../pipeline/unpack-limits.js';

async function sha256Of(file: InboxFile, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(file.read(), hash, { signal });
  return hash.digest('hex');
}

async function quarantine(context: StepContext, reason: string): Promise<never> {
  let to;
  try {
    to = await quarantineDelivery(context.loaded, context.txn, context.log);
  } catch (error) {
    if (!(error instanceof InboxRefusal)) throw error;
    // The GEO's directory is a link: nothing in it is touched, the transaction is refused all the same.
    context.log.warn(`refused, not moved: ${reason}; ${error.message}`);
    throw refusedError(`${context.txn.file!.name} refused: ${reason}; ${error.message}`, 'the agent may deliver the hour again (agent run --cycle … --force)');
  }
  context.log.warn(`refused and moved to quarantine ${to}: ${reason}`);
  throw refusedError(`${context.txn.file!.name} refused: ${reason}; moved to ${to}`, 'the agent may deliver the hour again (agent run --cycle … --force)');
}

export async function decryptStep(context: StepContext): Promise<StepOutcome> {
  requireSettings(context.loaded, ['centre.private_key_file'], '`worker decrypt`');
  const { txn } = context;
  if (!txn.file) throw failedError(`transaction ${txn.id} has no delivered file recorded`);

  // done in 3 steps; step 1: the GEO may deliver, and the file is the one the agent reported
  const geo = await refuseIfGeoDisabled(context.db, context.loaded, txn, context.log);
  let file: InboxFile | undefined;
  try {
    file = await openDeliveryFile(context.loaded, txn.geo, txn.file.name, context.log);
  } catch (error) {
    if (error instanceof InboxRefusal) await quarantine(context, error.message);
    throw error;
  }
  if (!file) throw refusedError(`${txn.file.name} is not in the inbox of GEO ${txn.geo} although the agent reported it delivered`, 'the agent may deliver the hour again');
  try {
    return await checkAndOpen(context, geo, file, txn.file);
  } finally {
    await file.close();
  }
}

async function checkAndOpen(context: StepContext, geo: Geo, file: InboxFile, reported: { name: string; size: number; sha256: string }): Promise<StepOutcome> {
  const { config } = context.loaded;
  const { txn } = context;
  if (file.size !== reported.size) await quarantine(context, `its size is ${file.size} bytes, the agent reported ${reported.size} (truncated or replaced)`);
  const sha256 = await sha256Of(file, context.signal);
  if (sha256 !== reported.sha256) await quarantine(context, `its sha256 is ${sha256}, the agent reported ${reported.sha256}`);

  // step 2: keys: the centre's private keys (more than one after `keys rotate`), and the public keys of
  // this transaction's GEO that were in force when the file was delivered
  const { fingerprintOf, readPrivateKeys, readGeoSigningKeys, OpenPgpKeyError } = await import('../../openpgp/keys.js');
  const geoKeys = await signingKeysForDelivery(context.db, geo, txn.deliveredAt);
  let keys;
  try {
    keys = {
      centre: await readPrivateKeys(await readFile(config.centre.private_key_file!, 'utf8'), `centre.private_key_file ${config.centre.private_key_file}`, undefined, 'decrypt'),
      geo: await readGeoSigningKeys(geoKeys.map((key) => key.armored), geo.name),
    };
  } catch (error) {
    if (error instanceof OpenPgpKeyError) throw configError(error.message);
    throw error;
  }
  // After `keys rotate` on another central host, agents encrypt to a key this host may not have yet: a
  // fault of this host, retried later, never a reason to refuse the GEO's file.
  const newest = (await listCentreKeys(context.db)).at(-1);
  if (newest && !keys.centre.some((key) => fingerprintOf(key) === newest.fingerprint)) {
    throw failedError(`centre.private_key_file ${config.centre.private_key_file} lacks the newest centre key ${newest.fingerprint} (published by \`keys rotate\`)`, 'copy the key file from the host that ran `ganymede keys rotate`; the step is retried');
  }

  // step 3: decrypt, verify and unpack; only a verified dump reaches the work dir
  const { openDelivery, DeliveryRefusal } = await import('../../pipeline/open-delivery.js');
  const { OpenPgpRefusal } = await import('../../openpgp/open.js');
  const { DumpManifestError } = await import('../../pipeline/dump-manifest.js');
  const target = dumpDir(config, txn);
  await rm(target, { recursive: true, force: true });
  const limit = unpackLimit({ maxUnpackedBytes: config.centre.max_unpacked_bytes, maxUnpackRatio: config.centre.max_unpack_ratio }, file.size);
  const workRoot = centreDirs(config).work;
  await mkdir(workRoot, { recursive: true, mode: 0o700 });
  await checkFreeSpace(workRoot, file.size, limit, config.centre.min_free_bytes);
  try {
    const opened = await openDelivery({ file, decryptionKeys: keys.centre, expectedSigningKeys: keys.geo, dir: target, signal: context.signal, label: reported.name, limit });
    const rows = opened.manifest.tables.reduce((sum, table) => sum + table.rows, 0);
    await context.event({ phase: 'decrypt', message: `signed by ${opened.signerFingerprint}; ${opened.manifest.tables.length} tables`, rows, bytes: opened.bytes });
    return { rows, bytes: opened.bytes };
  } catch (error) {
    // Stopped (SIGTERM, lease lost): whatever the half-read stream said, the file was not judged.
    if (context.signal.aborted) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new GanymedeError(ExitCode.failed, `the work dir ${target} is full (${code})`, { hint: 'free space or move centre.work_dir; the step will be retried' });
    }
    const dataProblem = error instanceof OpenPgpRefusal || error instanceof DeliveryRefusal || error instanceof DumpManifestError || /^TAR_|Z_DATA_ERROR|Z_BUF_ERROR|unexpected end of file|incorrect header check/i.test(`${code ?? ''} ${messageOf(error)}`);
    if (dataProblem) await quarantine(context, await explainSigner(context, geo.id, error, messageOf(error)));
    throw error;
  }
}

/** A file signed by a key the GEO has retired: say when it was retired, so the refusal explains itself. */
async function explainSigner(context: StepContext, geoId: number, error: unknown, message: string): Promise<string> {
  if ((error as { reason?: string }).reason !== 'unexpected-signer') return message;
  for (const retired of await listRetiredGeoKeys(context.db, geoId)) {
    if (!message.includes(retired.keyFingerprint) && !message.includes(retired.keyFingerprint.slice(-16))) continue;
    const delivered = context.txn.deliveredAt?.toISOString() ?? 'an unknown time';
    return retired.revoked
      ? `${message} (GEO ${context.txn.geo} retired and revoked that key on ${retired.retiredAt.toISOString()})`
      : `${message} (GEO ${context.txn.geo} retired that key on ${retired.retiredAt.toISOString()}; a retired key only counts for files delivered before then, this one was delivered ${delivered})`;
  }
  return message;
}
