// A delivered file as the centre reads it, wherever the inbox is: a local directory (read only as a regular
// file opened without following links, inbox-file.ts) or a store every central host reaches (sftp://,
// swift://, s3://: streamed, never copied whole to a local disk first). Quarantine is beside it: a local
// quarantine directory, or the store's `_quarantine/` prefix, which no GEO's upload can reach.
import { Readable } from 'node:stream';
import type { LoadedConfig } from '../config/load.js';
import { centreDirs } from '../config/load.js';
import { failedError, refusedError } from '../errors.js';
import type { Db } from '../state/db.js';
import { findGeo, type Geo } from '../state/geos.js';
import type { Logger } from '../log.js';
import type { Transaction } from '../state/transactions.js';
import type { Transport } from '../transport/transport.js';
import { InboxRefusal, openInboxFile, type InboxFile } from '../worker/inbox-file.js';
import { moveToQuarantine } from '../worker/quarantine.js';
import { deliveryObjectName, inboxLocation, openInboxStore } from './store.js';

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
 * Moves the transaction's delivery to quarantine and says where it went. In a store: copied to
 * `_quarantine/<geo>/<name>` (never over an earlier one: the newcomer gets its transaction and delivery in
 * its name), then removed from the inbox; a second call after a crash finds it there.
 */
export async function quarantineDelivery(loaded: LoadedConfig, txn: Transaction, log?: Logger): Promise<string> {
  if (isLocalInbox(loaded)) return moveToQuarantine(loaded.config, txn);
  const name = txn.file!.name;
  const from = deliveryObjectName(txn.geo, name);
  const plain = `${quarantinePrefix}/${from}`;
  const store = await openInboxStore(loaded, log);
  try {
    const [source, taken] = await Promise.all([store.stat(from), store.stat(plain)]);
    if (!source) {
      if (taken) return `${store.describe()}/${plain}`;
      throw refusedError(`${name} is neither in the inbox nor in quarantine`, 'the agent may deliver the hour again');
    }
    const to = taken ? `${plain}.txn-${txn.id}-d${txn.delivery}` : plain;
    await store.put(to, () => Readable.from(streamOf(store, from)), { expectedSize: source.size });
    await store.remove(from);
    return `${store.describe()}/${to}`;
  } finally {
    await store.close();
  }
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
    where = txn.file ? await quarantineDelivery(loaded, txn, log) : undefined;
  } catch (error) {
    if (!(error instanceof InboxRefusal)) throw error;
    notMoved = `; its file was not moved: ${error.message}`;
  }
  const reason = `GEO ${geo.name} is disabled${where ? `; its file was moved to ${where}` : notMoved}`;
  log.warn(`refused: ${reason}`);
  throw refusedError(`transaction ${txn.id} refused: ${reason}`, `after \`ganymede geo enable ${geo.name}\`, the agent delivers the hour again (agent run --cycle ${txn.cycle} --force)`);
}
