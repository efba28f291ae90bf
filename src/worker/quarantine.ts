// Quarantine: where a delivered file goes when the centre will not process it (it failed verification,
// or its GEO was disabled). Moved, never deleted, so an operator can look at it.
import { copyFile, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Config } from '../config/schema.js';
import { failedError, refusedError } from '../errors.js';
import { findGeo, type Geo } from '../state/geos.js';
import type { Db } from '../state/db.js';
import type { Transaction } from '../state/transactions.js';
import type { Logger } from '../log.js';
import { inboxFile, quarantineFile } from './paths.js';

/**
 * Moves the transaction's file from the inbox to quarantine; a second call (after a crash) finds it
 * there. A file of the same name already in quarantine is never overwritten: the newcomer gets the
 * transaction and delivery in its name, so no GEO can wipe out the evidence of an earlier refusal.
 */
export async function moveToQuarantine(config: Config, txn: Transaction): Promise<string> {
  const from = inboxFile(config, txn);
  const plain = quarantineFile(config, txn);
  await mkdir(dirname(plain), { recursive: true, mode: 0o700 });
  const [source, taken] = await Promise.all([stat(from).catch(() => undefined), stat(plain).catch(() => undefined)]);
  if (!source) {
    if (taken) return plain;
    throw refusedError(`${txn.file!.name} is neither in the inbox nor in quarantine`, 'the agent may deliver the hour again');
  }
  const to = taken ? `${plain}.txn-${txn.id}-d${txn.delivery}` : plain;
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    await copyFile(from, to);
    await unlink(from);
  }
  return to;
}

/**
 * A disabled GEO's deliveries are not processed: the file goes to quarantine and the step is refused.
 * Nothing is deleted; after `geo enable`, the agent delivers the hour again. Returns the (enabled) GEO.
 */
export async function refuseIfGeoDisabled(db: Db, config: Config, txn: Transaction, log: Logger): Promise<Geo> {
  const geo = await findGeo(db, txn.geo);
  if (!geo) throw failedError(`GEO ${txn.geo} of transaction ${txn.id} is no longer registered`);
  if (geo.enabled) return geo;
  const where = txn.file ? await moveToQuarantine(config, txn) : undefined;
  const reason = `GEO ${geo.name} is disabled${where ? `; its file was moved to ${where}` : ''}`;
  log.warn(`refused: ${reason}`);
  throw refusedError(`transaction ${txn.id} refused: ${reason}`, `after \`ganymede geo enable ${geo.name}\`, the agent delivers the hour again (agent run --cycle ${txn.cycle} --force)`);
}
