// Quarantine: where a delivered file goes when the centre will not process it (it failed verification,
// or its GEO was disabled). Moved, never deleted, so an operator can look at it.
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { basename, dirname, join } from 'node:path';
import type { Config } from '../config/schema.js';
import { refusedError } from '../errors.js';
import type { Transaction } from '../state/transactions.js';
import { centreDirs } from '../config/load.js';
import { kindOf, openGeoInboxDir, openRegularFile, type GeoInboxDir } from './inbox-file.js';
import { quarantineFile } from './paths.js';

export interface QuarantineMoveOptions {
  /** The name an earlier, interrupted attempt chose for this file in quarantine: used again while it is free. */
  preferredName?: string | undefined;
  /** Told the file's name in `<quarantine>/<geo>/` before it moves there (to record it), not when nothing moves. */
  beforeMove?: ((name: string) => Promise<void>) | undefined;
}

/**
 * Moves the transaction's file from the inbox to quarantine; a second call (after a crash) finds it
 * there. A file of the same name already in quarantine is never overwritten: the newcomer gets the
 * transaction and delivery in its name, so no GEO can wipe out the evidence of an earlier refusal.
 * Whatever the GEO put there (a link, a FIFO) is moved as it is, never read or followed; when the GEO's
 * directory itself is a link, nothing is moved (InboxRefusal).
 */
export async function moveToQuarantine(config: Config, txn: Transaction, options: QuarantineMoveOptions = {}): Promise<string> {
  const plain = quarantineFile(config, txn);
  await mkdir(dirname(plain), { recursive: true, mode: 0o700 });
  const preferred = options.preferredName === undefined ? undefined : join(dirname(plain), options.preferredName);
  const dir = await openGeoInboxDir(centreDirs(config).inbox, txn.geo);
  try {
    const from = dir?.at(txn.file!.name);
    const [source, taken, preferredTaken] = await Promise.all([
      from ? lstat(from).catch(() => undefined) : undefined,
      lstat(plain).catch(() => undefined),
      preferred ? lstat(preferred).catch(() => undefined) : undefined,
    ]);
    if (!from || !source) {
      if (preferred && preferredTaken) return preferred;
      if (taken) return plain;
      throw refusedError(`${txn.file!.name} is neither in the inbox nor in quarantine`, 'the agent may deliver the hour again');
    }
    const to = preferred && !preferredTaken ? preferred : taken ? `${plain}.txn-${txn.id}-d${txn.delivery}` : plain;
    await options.beforeMove?.(basename(to));
    try {
      await rename(from, to);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      await moveAcrossFilesystems(dir!, txn.file!.name, to);
    }
    return to;
  } finally {
    await dir?.close();
  }
}

/** rename() across filesystems, by kind: a regular file copied through a descriptor, a link re-made, anything else noted. */
async function moveAcrossFilesystems(dir: GeoInboxDir, name: string, to: string): Promise<void> {
  const from = dir.at(name);
  const stats = await lstat(from);
  if (stats.isSymbolicLink()) {
    await symlink(await readlink(from), to);
  } else if (stats.isFile()) {
    const file = await openRegularFile(dir, name);
    if (!file) throw refusedError(`${name} went from the inbox while it was being moved to quarantine`);
    try {
      await pipeline(file.read(), createWriteStream(to, { flags: 'wx', mode: 0o600 }));
    } finally {
      await file.close();
    }
  } else {
    await writeFile(to, `${kindOf(stats)} in the inbox, removed unread\n`, { flag: 'wx', mode: 0o600 });
  }
  await rm(from, { recursive: true, force: true });
}
