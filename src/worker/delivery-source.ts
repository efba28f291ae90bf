// What decrypt and load both need to read a transaction's delivery, on whichever central host runs them: the
// file from the inbox (a local directory or a shared store), checked against what the agent reported, and the
// keys to open it (the centre's private keys, the GEO's signing keys in force when it was delivered). Nothing
// is written locally: decrypt reads it to verify it, load reads it again to stream it into MySQL.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { configError, failedError, refusedError } from '../errors.js';
import { openDeliveryFile, quarantineDelivery, refuseIfGeoDisabled } from '../inbox/delivery.js';
import type { DeliverySource } from '../load/delivery-reader.js';
import { unpackLimit } from '../load/unpack-limits.js';
import { listCentreKeys } from '../state/centre-keys.js';
import { signingKeysForDelivery, type Geo } from '../state/geos.js';
import { InboxRefusal, type InboxFile } from './inbox-file.js';
import type { StepContext } from './runtime.js';

export interface OpenedSource {
  geo: Geo;
  file: InboxFile;
  /** For readDelivery, verifyDelivery and loadDelivery; each read of `file` is hashed as it streams. */
  source: DeliverySource;
  /** The sha256 of the bytes the last read streamed, once it ended. */
  sha256(): string | undefined;
}

/** Moves the delivery to quarantine and refuses the step, naming why and where it went. */
export async function quarantine(context: StepContext, reason: string): Promise<never> {
  const hint = 'the agent may deliver the hour again (agent run --cycle … --force)';
  let to;
  try {
    to = await quarantineDelivery(context.loaded, context.db, context.txn, context.log);
  } catch (error) {
    if (!(error instanceof InboxRefusal)) throw error;
    // The GEO's directory is a link: nothing in it is touched, the transaction is refused all the same.
    context.log.warn(`refused, not moved: ${reason}; ${error.message}`);
    throw refusedError(`${context.txn.file!.name} refused: ${reason}; ${error.message}`, hint);
  }
  context.log.warn(`refused and moved to quarantine ${to}: ${reason}`);
  throw refusedError(`${context.txn.file!.name} refused: ${reason}; moved to ${to}`, hint);
}

/**
 * Opens the transaction's delivery as the agent reported it (its size checked here; its sha256 by the caller,
 * from `sha256()` after a read). A GEO disabled meanwhile, a file that is not a regular file, or one of another
 * size is refused and quarantined. Close `file` when done.
 */
export async function openDeliverySource(context: StepContext): Promise<OpenedSource> {
  const { config } = context.loaded;
  const { txn } = context;
  if (!txn.file) throw failedError(`transaction ${txn.id} has no delivered file recorded`);
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
    if (file.size !== txn.file.size) await quarantine(context, `its size is ${file.size} bytes, the agent reported ${txn.file.size} (truncated or replaced)`);
    const keys = await deliveryKeys(context, geo);
    const limit = unpackLimit({ maxUnpackedBytes: config.centre.max_unpacked_bytes, maxUnpackRatio: config.centre.max_unpack_ratio }, file.size);
    let digest: string | undefined;
    const opened = file;
    const hashed = { read: (): Readable => hashing(opened.read(), (hex) => (digest = hex)) };
    return {
      geo,
      file,
      source: { file: hashed, decryptionKeys: keys.centre, expectedSigningKeys: keys.geo, signal: context.signal, label: txn.file.name, limit },
      sha256: () => digest,
    };
  } catch (error) {
    await file.close();
    throw error;
  }
}

/** `stream` as it is, telling `done` its sha256 once it ended. */
function hashing(stream: Readable, done: (hex: string) => void): Readable {
  const hash = createHash('sha256');
  const tap = new PassThrough({ highWaterMark: 1024 * 1024 });
  stream.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    if (!tap.write(chunk)) stream.pause();
  });
  tap.on('drain', () => stream.resume());
  stream.on('end', () => {
    done(hash.digest('hex'));
    tap.end();
  });
  stream.on('error', (error) => tap.destroy(error));
  tap.on('close', () => {
    if (!stream.readableEnded) stream.destroy();
  });
  return tap;
}

async function deliveryKeys(context: StepContext, geo: Geo) {
  const { config } = context.loaded;
  const { fingerprintOf, readPrivateKeys, readGeoSigningKeys, OpenPgpKeyError } = await import('../openpgp/keys.js');
  const geoKeys = await signingKeysForDelivery(context.db, geo, context.txn.deliveredAt);
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
  return keys;
}
