// `ganymede archive`: done in 3 steps — a consistent, encrypted dump of the Ganymede schema (skipped when
// its content did not change since the last one), then every agent file not archived yet, each to the
// archive store under a fixed name and recorded with size and sha256. Safe to kill and run again, and it
// stops within moments of SIGTERM: every read and upload carries the signal. An inbox file is read only
// as a regular file opened without following links (inbox-file.ts): a GEO's link to /dev/zero is skipped.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import type mysql from 'mysql2/promise';
import type { LoadedConfig } from '../../config/load.js';
import { formatCycle } from '../../cycle.js';
import { acquireHostLock } from '../../lock.js';
import { createLogger } from '../../log.js';
import { createProgress } from '../../progress.js';
import { stateDbTarget } from '../../state/db.js';
import { agentDumpsToArchive, finishArchiveRecord, findArchiveRecord, schemaFingerprint, startArchiveRecord } from '../../state/archive.js';
import { archiveUrl, openArchiveStore, readCentreKeys } from '../../archive/store.js';
import { connectStreaming } from '../../state/stream-connection.js';
import { InboxRefusal, sha256Of, type InboxFile } from '../../worker/inbox-file.js';
import { openDeliveryFile } from '../../inbox/delivery.js';
import { failedError } from '../../errors.js';
import { settleOrStop } from '../../worker/runtime.js';
import { withStateDb } from '../context.js';

export interface ArchiveRunResult {
  store: string;
  ganymedeDump: { objectKey: string; size: number } | 'unchanged';
  agentDumps: Array<{ objectKey: string; size: number }>;
  skipped: Array<{ file: string; reason: string }>;
}

/** A stream that SIGTERM destroys: the stores read their source to the end otherwise. */
const stoppable = (stream: Readable, signal: AbortSignal | undefined): Readable => (signal ? addAbortSignal(signal, stream) : stream);

export async function runArchive({ loaded, signal }: { loaded: LoadedConfig; signal?: AbortSignal }): Promise<ArchiveRunResult> {
  // A store that went silent (an SFTP handshake retried for minutes) does not hold a stop back either.
  const progress = { agentDumps: 0 };
  return settleOrStop(archiveAll(loaded, signal, progress), signal, () => stoppedBy(signal!, progress.agentDumps));
}

async function archiveAll(loaded: LoadedConfig, signal: AbortSignal | undefined, progress: { agentDumps: number }): Promise<ArchiveRunResult> {
  const log = createLogger('archive');
  const spoolDir = join(loaded.config.site.data_dir, 'archive-spool');
  await mkdir(spoolDir, { recursive: true, mode: 0o700 });
  const lock = await acquireHostLock('archive', spoolDir, 'the archive');
  try {
    // Spool files of a run that was killed: under the lock, nobody else is writing them.
    for (const name of await readdir(spoolDir)) if (name.endsWith('.sealing')) await rm(join(spoolDir, name), { force: true });
    const keys = await readCentreKeys(loaded);
    const store = await openArchiveStore(loaded, log);
    const result: ArchiveRunResult = { store: store.describe(), ganymedeDump: 'unchanged', agentDumps: [], skipped: [] };
    try {
      await withStateDb(loaded, async (db) => {
        // step 1: the Ganymede schema, when its content changed since the last archived dump
        const database = stateDbTarget(loaded).database;
        const [tables] = await db.query<mysql.RowDataPacket[]>(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' AND table_name <> 'archive_records' ORDER BY table_name",
          [database],
        );
        const fingerprint = createHash('sha256').update(await schemaFingerprint(db, tables.map((row) => String(row.name)))).digest('hex').slice(0, 32);
        const sourceKey = `ganymede:${fingerprint}`;
        const existing = await findArchiveRecord(db, 'ganymede-db', sourceKey);
        if (existing?.state !== 'archived') {
          const takenAt = new Date();
          const stamp = takenAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
          // A run killed mid-upload left a record: the same content goes under the same name, over its .part.
          const objectKey = existing?.objectKey ?? `ganymede/${takenAt.toISOString().slice(0, 10)}/ganymede-${stamp}.tar.gz.gpg`;
          const spool = join(spoolDir, `${basename(objectKey)}.sealing`);
          const [{ openSnapshot }, { dumpArchive }, { sealToFile }] = await Promise.all([
            import('../../pipeline/extract.js'),
            import('../../pipeline/dump-archive.js'),
            import('../../pipeline/seal-file.js'),
          ]);
          // The Ganymede database through its own user: the scratch user has no rights on it.
          const connection = await connectStreaming({
            target: stateDbTarget(loaded),
            password: loaded.secret('mysql.password'),
            database,
            connectTimeoutMs: loaded.config.mysql.connect_timeout_ms,
            what: 'the Ganymede database',
            settingKey: 'mysql.url',
          });
          try {
            const snapshot = await openSnapshot(connection, { database });
            const sealed = await sealToFile({ source: dumpArchive(snapshot), path: spool, encryptionKeys: keys.publicKey, signingKey: keys.privateKey, signal });
            await snapshot.close();
            await startArchiveRecord(db, { kind: 'ganymede-db', sourceKey, cycleStart: null, storeUrl: archiveUrl(loaded), objectKey });
            await store.put(objectKey, () => stoppable(createReadStream(spool, { highWaterMark: 1024 * 1024 }), signal), { expectedSize: sealed.size });
            await finishArchiveRecord(db, 'ganymede-db', sourceKey, sealed.size, sealed.sha256);
            result.ganymedeDump = { objectKey, size: sealed.size };
            log.info(`archived the Ganymede schema as ${objectKey} (${sealed.size} bytes)`);
          } finally {
            connection.destroy();
            await rm(spool, { force: true });
          }
        }

        // step 2 and 3: every delivered agent file not archived yet, checked against what its agent reported
        const dumps = await agentDumpsToArchive(db);
        const bar = createProgress({ label: 'archiving agent files', total: dumps.length, unit: 'files' });
        for (const [index, dump] of dumps.entries()) {
          if (signal?.aborted) break;
          bar.update(index, `(${dump.fileName})`);
          const file = `${dump.geo}/${dump.fileName}`;
          let opened: InboxFile | undefined;
          try {
            opened = await openDeliveryFile(loaded, dump.geo, dump.fileName, log);
          } catch (error) {
            if (!(error instanceof InboxRefusal)) throw error;
            result.skipped.push({ file, reason: `${error.message}; not read, not archived` });
            log.warn(`${file}: ${error.message}; not read, not archived`);
            continue;
          }
          if (!opened) {
            result.skipped.push({ file, reason: 'not in the inbox' });
            continue;
          }
          const inboxFile = opened;
          try {
            if (inboxFile.size !== dump.size || (await sha256Of(inboxFile, signal)) !== dump.sha256) {
              result.skipped.push({ file, reason: 'differs from what its agent reported; not archived' });
              log.warn(`${file} differs from what its agent reported; not archived`);
              continue;
            }
            const sourceKey = `txn:${dump.txnId}:d${dump.delivery}`;
            const objectKey = `agent/${formatCycle(dump.cycleStart)}/${dump.geo}/${dump.fileName}`;
            await startArchiveRecord(db, { kind: 'agent-dump', sourceKey, txnId: dump.txnId, geoId: dump.geoId, cycleStart: dump.cycleStart, storeUrl: archiveUrl(loaded), objectKey });
            await store.put(objectKey, () => stoppable(inboxFile.read(), signal), { expectedSize: dump.size });
            await finishArchiveRecord(db, 'agent-dump', sourceKey, dump.size, dump.sha256);
            result.agentDumps.push({ objectKey, size: dump.size });
            progress.agentDumps++;
            log.info(`archived ${objectKey} (${dump.size} bytes)`);
          } finally {
            await inboxFile.close();
          }
        }
        bar.finish();
      });
    } catch (error) {
      if (signal?.aborted) throw stoppedBy(signal, result.agentDumps.length);
      throw error;
    } finally {
      await store.close();
    }
    if (signal?.aborted) throw stoppedBy(signal, result.agentDumps.length);
    return result;
  } finally {
    await lock.release();
  }
}

/** Stopped (SIGTERM) part way: what was archived is recorded, the rest waits for the next run. */
function stoppedBy(signal: AbortSignal, agentDumps: number): Error {
  return failedError(`archive stopped by ${String(signal.reason)} after ${agentDumps} agent files; nothing half-done is recorded as archived`, 'the next `ganymede archive` archives the rest');
}

export function describeArchive(result: ArchiveRunResult): string {
  const lines: string[] = [];
  if (result.ganymedeDump !== 'unchanged') lines.push(`archived the Ganymede schema: ${result.ganymedeDump.objectKey} (${result.ganymedeDump.size} bytes)`);
  for (const dump of result.agentDumps) lines.push(`archived ${dump.objectKey} (${dump.size} bytes)`);
  for (const skipped of result.skipped) lines.push(`skipped ${skipped.file}: ${skipped.reason}`);
  if (lines.length === 0) return '';
  lines.push(`store: ${result.store}`);
  return lines.join('\n');
}
