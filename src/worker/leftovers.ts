// What a host keeps on its own disk for a while and must not keep for ever: the work directory of a
// transaction (only versions before the streamed load wrote one) and a feed's spool. A host killed mid-step
// leaves them; the work went on elsewhere, so when the host comes back its next tick removes what is
// finished — a work directory whose transaction is over or re-delivered, a spool nothing has written to for
// longer than a lease lasts (a feed worker that still owned it would have been fenced by then).
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import { centreDirs } from '../config/load.js';
import type { Db } from '../state/db.js';
import { transactionStates } from '../state/transactions.js';

const workDirName = /^txn-(\d{1,15})-d(\d{1,9})$/;
const finishedStates = new Set(['done', 'cancelled', 'refused']);

export interface SweptLeftovers {
  /** Paths removed. */
  removed: string[];
}

export async function sweepLeftovers(loaded: LoadedConfig, db: Db, now = Date.now()): Promise<SweptLeftovers> {
  const removed: string[] = [];
  const workDir = centreDirs(loaded.config).work;
  const work = (await entries(workDir)).flatMap((name) => {
    const match = workDirName.exec(name);
    return match ? [{ name, txnId: Number(match[1]), delivery: Number(match[2]) }] : [];
  });
  if (work.length > 0) {
    const states = await transactionStates(db, [...new Set(work.map((entry) => entry.txnId))]);
    for (const entry of work) {
      const txn = states.get(entry.txnId);
      // Gone (purged), over, or superseded by a re-delivery: nothing on any host will read these files again.
      if (!txn || finishedStates.has(txn.state) || txn.delivery > entry.delivery) removed.push(await removeDir(join(workDir, entry.name)));
    }
  }
  const { lease_ms: leaseMs, lease_grace_ms: graceMs } = loaded.config.centre;
  const spoolDir = join(loaded.config.site.data_dir, 'feed-spool');
  for (const name of await entries(spoolDir)) {
    const dir = join(spoolDir, name);
    if (now - (await newestChange(dir)) > leaseMs + graceMs) removed.push(await removeDir(dir));
  }
  return { removed };
}

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** The latest modification of a directory or any file directly in it: a spool file being written moves it. */
async function newestChange(dir: string): Promise<number> {
  let newest = (await stat(dir)).mtimeMs;
  for (const name of await entries(dir)) {
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (info) newest = Math.max(newest, info.mtimeMs);
  }
  return newest;
}

async function removeDir(dir: string): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  return dir;
}
