// A delivered file as the centre reads it, wherever the inbox is: a local directory (read only as a regular
// file opened without following links, inbox-file.ts) or a store every central host reaches (sftp://,
// swift://, s3://: streamed, never copied whole to a local disk first). Quarantine is beside it: a local
// quarantine directory, or the store's `_quarantine/` prefix, which no GEO's upload can reach.
import { lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { LoadedConfig } from '../config/load.js';
import { centreDirs } from '../config/load.js';
import { failedError, refusedError } from '../errors.js';
import type { Db } from '../state/db.js';
import { findGeo, type Geo } from '../state/geos.js';
import type { Logger } from '../log.js';
import type { Transaction } from '../state/transactions.js';
import type { Transport } from '../transport/transport.js';
import { InboxRefusal, openGeoInboxDir, openInboxFile, type InboxFile } from '../worker/inbox-file.js';
import { moveToQuarantine } from '../worker/quarantine.js';
import { deliveryObjectName, inboxLocation, openInboxStore } from './store.js';
import { quarantinedLocation, recordQuarantinedDelivery } from '../state/retired-deliveries.js';

const quarantinePrefix = '_quarantine';

/** Whether deliveries are read from a local directory (file://) rather than a store. */
export function isLocalInbox(loaded: LoadedConfig): boolean {
  return inboxLocation(loaded).scheme === 'file';
}

/** The GEO's delivery `name`, or undefined when the inbox does not hold it. Close it when done. */
export async function openDeliveryFile(loaded: LoadedConfig, geo: string, name: string, log?: Logger): Promise<InboxFile | undefined> {
  if (isLocalInbox(loaded)) return openInboxFile(centreDirs(loaded.config).inbox, geo, name);
  const store = await openInboxStore(loaded, log);
  try {
    const found = await store.stat(deliveryObjectName(geo, name));
    if (!found) {
      await store.close();
      return undefined;
    }
    return storeFile(store, deliveryObjectName(geo, name), found.size);
  } catch (error) {
    await store.close();
    throw error;
  }
}

function storeFile(store: Transport, objectName: string, size: number): InboxFile {
  return {
    size,
    // Each read is a new GET from the first byte, as a local file's read is from offset 0.
    read: () => Readable.from(streamOf(store, objectName)),
    close: () => store.close(),
  };
}

async function* streamOf(store: Transport, objectName: string): AsyncGenerator<Buffer> {
  for await (const chunk of await store.get(objectName)) yield chunk as Buffer;
}

/**
 * Moves the transaction's delivery to quarantine and says where it went, its place there recorded first
 * (retired_deliveries) so that `archive` finds it from any host. In a store: copied to
 * `_quarantine/<geo>/<name>` (never over an earlier one: the newcomer gets its transaction and delivery in
 * its name), then removed from the inbox; a second call after a crash finds it there.
 */
export async function quarantineDelivery(loaded: LoadedConfig, db: Db, txn: Transaction, log?: Logger): Promise<string> {
  const name = txn.file!.name;
  // An attempt that crashed between recording the place and moving the file: the same place, while free.
  const recorded = await quarantinedLocation(db, txn);
  const preferredName = recorded?.startsWith(`${txn.geo}/`) ? recorded.slice(txn.geo.length + 1) : undefined;
  const record = (nameInQuarantine: string) => recordQuarantinedDelivery(db, txn, deliveryObjectName(txn.geo, nameInQuarantine));
  if (isLocalInbox(loaded)) return moveToQuarantine(loaded.config, txn, { preferredName, beforeMove: record });
  const from = deliveryObjectName(txn.geo, name);
  const inQuarantine = (fileName: string) => storeObjectName('quarantine', deliveryObjectName(txn.geo, fileName));
  const store = await openInboxStore(loaded, log);
  try {
    const [source, taken, preferredTaken] = await Promise.all([
      store.stat(from),
      store.stat(inQuarantine(name)),
      preferredName === undefined ? undefined : store.stat(inQuarantine(preferredName)),
    ]);
    if (!source) {
      if (preferredName !== undefined && preferredTaken) return `${store.describe()}/${inQuarantine(preferredName)}`;
      if (taken) return `${store.describe()}/${inQuarantine(name)}`;
      throw refusedError(`${name} is neither in the inbox nor in quarantine`, 'the agent may deliver the hour again');
    }
    const chosen = preferredName !== undefined && !preferredTaken ? preferredName : taken ? `${name}.txn-${txn.id}-d${txn.delivery}` : name;
    await record(chosen);
    const to = inQuarantine(chosen);
    await store.put(to, () => Readable.from(streamOf(store, from)), { expectedSize: source.size });
    await store.remove(from);
    return `${store.describe()}/${to}`;
  } finally {
    await store.close();
  }
}

/** A quarantined file (`<geo>/<name>` below the quarantine), opened as a delivery is; undefined when it is not there. */
export async function openQuarantinedFile(loaded: LoadedConfig, location: string, log?: Logger): Promise<InboxFile | undefined> {
  const [geo, name] = splitLocation(location);
  if (isLocalInbox(loaded)) return openInboxFile(centreDirs(loaded.config).quarantine, geo, name);
  const store = await openInboxStore(loaded, log);
  try {
    const objectName = storeObjectName('quarantine', location);
    const found = await store.stat(objectName);
    if (!found) {
      await store.close();
      return undefined;
    }
    return storeFile(store, objectName, found.size);
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** The object name in the inbox store of a file in the inbox (`<geo>/<name>`) or in quarantine. */
export function storeObjectName(place: 'inbox' | 'quarantine', location: string): string {
  const [geo, name] = splitLocation(location);
  return place === 'inbox' ? deliveryObjectName(geo, name) : `${quarantinePrefix}/${deliveryObjectName(geo, name)}`;
}

/** How `archive prune` names a file it removes: a local path, or the object in the store (`store` given). */
export function describeInboxFile(loaded: LoadedConfig, store: Transport | undefined, place: 'inbox' | 'quarantine', location: string): string {
  if (store) return `${store.describe()}/${storeObjectName(place, location)}`;
  const [geo, name] = splitLocation(location);
  return join(place === 'inbox' ? centreDirs(loaded.config).inbox : centreDirs(loaded.config).quarantine, geo, name);
}

/**
 * Removes a file of the inbox or of quarantine (`<geo>/<name>`) once it is archived; false when it was not
 * there. Locally only a regular file, reached through the GEO's directory opened without following links
 * (a GEO that swapped its directory for a link must not get a file of that name removed elsewhere; a link
 * it left is not removed either). In a store, the object. With `dryRun`, says whether it would be removed.
 */
export async function removeArchivedFile(loaded: LoadedConfig, store: Transport | undefined, place: 'inbox' | 'quarantine', location: string, dryRun: boolean): Promise<boolean> {
  const [geo, name] = splitLocation(location);
  if (!store) {
    const dir = await openGeoInboxDir(place === 'inbox' ? centreDirs(loaded.config).inbox : centreDirs(loaded.config).quarantine, geo);
    if (!dir) return false;
    try {
      if (!(await lstat(dir.at(name)).catch(() => undefined))?.isFile()) return false;
      if (!dryRun) await rm(dir.at(name), { force: true });
      return true;
    } finally {
      await dir.close();
    }
  }
  const objectName = storeObjectName(place, location);
  if (!(await store.stat(objectName))) return false;
  if (!dryRun) await store.remove(objectName);
  return true;
}

function splitLocation(location: string): [string, string] {
  const slash = location.indexOf('/');
  return [location.slice(0, slash), location.slice(slash + 1)];
}

/**
 * A disabled GEO's deliveries are not processed: the file goes to quarantine and the step is refused.
 * Nothing is deleted; after `geo enable`, the agent delivers the hour again. Returns the (enabled) GEO.
 */
export async function refuseIfGeoDisabled(db: Db, loaded: LoadedConfig, txn: Transaction, log: Logger): Promise<Geo> {
  const geo = await findGeo(db, txn.geo);
  if (!geo) throw failedError(`GEO ${txn.geo} of transaction ${txn.id} is no longer registered`);
  if (geo.enabled) return geo;
  let where: string | undefined;
  let notMoved = '';
  try {
    where = txn.file ? await quarantineDelivery(loaded, db, txn, log) : undefined;
  } catch (error) {
    if (!(error instanceof InboxRefusal)) throw error;
    notMoved = `; its file was not moved: ${error.message}`;
  }
  const reason = `GEO ${geo.name} is disabled${where ? `; its file was moved to ${where}` : notMoved}`;
  log.warn(`refused: ${reason}`);
  throw refusedError(`transaction ${txn.id} refused: ${reason}`, `after \`ganymede geo enable ${geo.name}\`, the agent delivers the hour again (agent run --cycle ${txn.cycle} --force)`);
}
