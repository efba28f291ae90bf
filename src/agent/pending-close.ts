// The close of a delivered file, kept in the agent's work dir until the centre has it. Written as soon as
// the file is delivered and removed once the close is answered, so that neither an API that stays down
// past the agent's patience nor a run killed while it waits costs the hour: the next run sends it first.
// One small JSON file per transaction (name, size, sha256: nothing secret), written atomically, 0600.
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApiClient } from '../api/client.js';
import { GanymedeError, messageOf } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { Logger } from '../log.js';
import type { EventReporter } from './event-reporter.js';
import { describeOutage, PatienceExhausted, withApiPatience, type ApiPatience } from './api-patience.js';

export interface PendingClose {
  geo: string;
  cycle: string;
  transactionId: number;
  file: { name: string; size: number; sha256: string };
  deliveredAt: string;
}

const prefix = 'pending-close.';
const suffix = '.json';

export const pendingClosePath = (workDir: string, transactionId: number) => join(workDir, `${prefix}${transactionId}${suffix}`);

/** Keeps the close on disk (temp file, fsync, rename), before it is first sent. */
export async function keepPendingClose(workDir: string, close: PendingClose): Promise<string> {
  const path = pendingClosePath(workDir, close.transactionId);
  const temp = `${path}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(close)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  return path;
}

export async function removePendingClose(workDir: string, transactionId: number): Promise<void> {
  await rm(pendingClosePath(workDir, transactionId), { force: true });
}

function isPendingClose(value: unknown): value is PendingClose {
  const close = value as PendingClose | null;
  return (
    typeof close?.geo === 'string' &&
    typeof close.cycle === 'string' &&
    Number.isSafeInteger(close.transactionId) &&
    typeof close.file?.name === 'string' &&
    Number.isSafeInteger(close.file.size) &&
    typeof close.file.sha256 === 'string' &&
    typeof close.deliveredAt === 'string'
  );
}

export interface KeptCloses {
  /** The closes earlier runs kept, oldest transaction first. */
  closes: PendingClose[];
  /** Files of that name that are no close this agent wrote whole (a run killed before its rename, or junk). */
  unreadable: string[];
}

/** What the work dir holds, read only: `agent run --dry-run` says what a run would do with it. No work dir, nothing kept. */
export async function listPendingCloses(workDir: string): Promise<KeptCloses> {
  const kept: KeptCloses = { closes: [], unreadable: [] };
  let names: string[];
  try {
    names = await readdir(workDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return kept;
    throw error;
  }
  for (const name of names.sort()) {
    if (!name.startsWith(prefix)) continue;
    const path = join(workDir, name);
    // Left by a run killed before its rename: that close was never sent, nor kept whole.
    if (!name.endsWith(suffix)) {
      if (name.endsWith(`${suffix}.tmp`)) kept.unreadable.push(path);
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(path, 'utf8'));
    } catch (error) {
      parsed = messageOf(error);
    }
    if (isPendingClose(parsed)) kept.closes.push(parsed);
    else kept.unreadable.push(path);
  }
  kept.closes.sort((a, b) => a.transactionId - b.transactionId);
  return kept;
}

/** The closes earlier runs kept, oldest transaction first; an unreadable one is removed, and said so. */
export async function readPendingCloses(workDir: string, log: Logger): Promise<PendingClose[]> {
  const { closes, unreadable } = await listPendingCloses(workDir);
  for (const path of unreadable) {
    if (!path.endsWith('.tmp')) log.warn(`${path} is not a close this agent kept (it writes them whole); removed it`);
    await rm(path, { force: true });
  }
  return closes;
}

export interface SendPendingOptions {
  api: ApiClient;
  workDir: string;
  geo: string;
  patience: ApiPatience;
  log: Logger;
  events: EventReporter;
  /** The hour this run is for, named when it has to stop before opening it. */
  cycle: string;
}

/**
 * Sends the closes earlier runs kept, before this run opens its own hour. Taken, or no longer wanted by the
 * centre (409: the hour was delivered with another file, or given up; 404: no such transaction), a close is
 * removed; while the API is down it is waited for, and past the patience the run stops with exit 4.
 */
export async function sendPendingCloses(options: SendPendingOptions): Promise<void> {
  const { api, workDir, log, events } = options;
  for (const close of await readPendingCloses(workDir, log)) {
    const { transactionId, file } = close;
    const path = pendingClosePath(workDir, transactionId);
    if (close.geo !== options.geo) {
      log.warn(`${path} is a close of GEO ${close.geo}, and this agent is GEO ${options.geo} now: not sent; remove it once ${close.geo}'s ${close.cycle} is settled`);
      continue;
    }
    try {
      await withApiPatience(`sending the close of ${file.name} kept since ${close.deliveredAt}`, () => api.closeTransaction(transactionId, file), options.patience);
    } catch (error) {
      if (error instanceof PatienceExhausted) {
        throw new GanymedeError(
          ExitCode.unreachable,
          `${describeOutage(error)}; the close of ${file.name} is still kept in ${path} for the next run, and ${options.cycle} was not opened: deliver it later with \`ganymede agent run --cycle ${options.cycle}\``,
        );
      }
      if (error instanceof GanymedeError && error.exitCode === ExitCode.refused) {
        log.warn(`the centre does not take the close of ${file.name} (transaction ${transactionId}) kept since ${close.deliveredAt}: ${messageOf(error)}; removed ${path}`);
        await removePendingClose(workDir, transactionId);
        continue;
      }
      // A 401 or 403 would refuse the open as well: the run stops here with the file kept.
      if (!(error instanceof GanymedeError) || error.exitCode === ExitCode.config) throw error;
      // A 500 or a 429: an answer, but not a verdict. Kept for the next run; this hour goes on.
      log.warn(`the close of ${file.name} kept in ${path} was not taken (${messageOf(error)}); it stays there for the next run`);
      continue;
    }
    await removePendingClose(workDir, transactionId);
    log.info(`sent the close of ${file.name} (transaction ${transactionId}, ${close.cycle}) that an earlier run kept since ${close.deliveredAt}`);
    events.report(transactionId, { level: 'info', phase: 'closed', message: `sha256 ${file.sha256} (kept since ${close.deliveredAt}, sent by a later run)` });
  }
}
