// `ganymede archive`: done in 3 steps — a consistent, encrypted dump of the Ganymede schema (skipped when
// its content did not change since the last one), then every agent file not archived yet (delivered,
// superseded by a forced re-delivery, or quarantined: agent-files.ts), each to the archive store under a
// fixed name and recorded with size and sha256. Safe to kill and run again, and it stops within moments of
// SIGTERM: every read and upload carries the signal.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { LoadedConfig } from '../../config/load.js';
import { formatCycle } from '../../cycle.js';
import { acquireHostLock } from '../../lock.js';
import { createLogger, redactUrl } from '../../log.js';
import { stateDbTarget, type Db } from '../../state/db.js';
import { finishArchiveRecord, findArchiveRecord, schemaFingerprint, startArchiveRecord } from '../../state/archive.js';
import type { RetiredReason } from '../../state/retired-deliveries.js';
import { archiveUrl, openArchiveStore, readCentreKeys } from '../../archive/store.js';
import { connectStreaming } from '../../state/stream-connection.js';
import { failedError } from '../../errors.js';
import { settleOrStop } from '../../worker/runtime.js';
import { agentFilesToArchive, archiveAgentFiles, stoppable, type AgentFilesResult, type AgentFileToArchive } from './agent-files.js';
import { withStateDb } from '../context.js';

export interface ArchiveRunResult extends AgentFilesResult {
  store: string;
  ganymedeDump: { objectKey: string; size: number } | 'unchanged';
}

/** The Ganymede schema's content as an archive source key: the same content, the same key (archived once). */
async function ganymedeSchemaKey(db: Db, database: string): Promise<string> {
  return `ganymede:${createHash('sha256').update(await schemaFingerprint(db, database)).digest('hex').slice(0, 32)}`;
}

export interface ArchivePlan {
  dryRun: true;
  store: string;
  /** Whether the Ganymede schema changed since its last archived dump, so a run would archive it. */
  ganymedeDump: 'would archive' | 'unchanged';
  agentFiles: Array<{ file: string; cycle: string; size: number }>;
  /** Files superseded by a forced re-delivery (in the inbox) or refused (in quarantine); size as their agent reported it. */
  retiredFiles: Array<{ file: string; cycle: string; size: number; reason: RetiredReason }>;
}

/** `--dry-run`: what a run would archive now, read from MySQL only; no store, inbox or lock is touched. */
export async function planArchive({ loaded }: { loaded: LoadedConfig }): Promise<ArchivePlan> {
  return withStateDb(loaded, async (db) => {
    const existing = await findArchiveRecord(db, 'ganymede-db', await ganymedeSchemaKey(db, stateDbTarget(loaded).database));
    const files = await agentFilesToArchive(db);
    const entry = (file: AgentFileToArchive) => ({ file: file.location, cycle: formatCycle(file.cycleStart), size: file.reported.size });
    return {
      dryRun: true,
      store: redactUrl(archiveUrl(loaded)),
      ganymedeDump: existing?.state === 'archived' ? 'unchanged' : 'would archive',
      agentFiles: files.filter((file) => file.kind === 'agent-dump').map(entry),
      retiredFiles: files.flatMap((file) => (file.kind === 'superseded' || file.kind === 'quarantined' ? [{ ...entry(file), reason: file.kind }] : [])),
    };
  });
}

export function describeArchivePlan(plan: ArchivePlan): string {
  const lines = [plan.ganymedeDump === 'unchanged' ? 'the Ganymede schema: unchanged since its last archived dump' : 'would archive the Ganymede schema (changed since its last archived dump)'];
  for (const file of plan.agentFiles) lines.push(`would archive ${file.file} (${file.cycle}, ${file.size} bytes)`);
  for (const file of plan.retiredFiles) {
    lines.push(
      file.reason === 'superseded'
        ? `would archive ${file.file} (${file.cycle}, ${file.size} bytes, superseded by a later delivery)`
        : `would archive ${file.file} from quarantine (${file.cycle}, ${file.size} bytes as delivered, refused)`,
    );
  }
  const count = plan.agentFiles.length + plan.retiredFiles.length;
  lines.push(`dry run: ${count} agent file${count === 1 ? '' : 's'} to archive into ${plan.store}; nothing was changed`);
  return lines.join('\n');
}

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
    const result: ArchiveRunResult = { store: store.describe(), ganymedeDump: 'unchanged', agentDumps: [], retiredFiles: [], skipped: [] };
    try {
      await withStateDb(loaded, async (db) => {
        // step 1: the Ganymede schema, when its content changed since the last archived dump
        const database = stateDbTarget(loaded).database;
        const sourceKey = await ganymedeSchemaKey(db, database);
        const existing = await findArchiveRecord(db, 'ganymede-db', sourceKey);
        if (existing?.state !== 'archived') {
          const takenAt = new Date();
          const stamp = takenAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
          // A run killed mid-upload left a record: the same content goes under the same name, over its .part.
          const objectKey = existing?.objectKey ?? `ganymede/${takenAt.toISOString().slice(0, 10)}/ganymede-${stamp}.tar.gz.gpg`;
          const spool = join(spoolDir, `${basename(objectKey)}.sealing`);
          const [{ openSnapshot }, { dumpArchive }, { sealToFile }] = await Promise.all([
            import('../../extract/extract.js'),
            import('../../dump/dump-archive.js'),
            import('../../extract/seal-file.js'),
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
            log.debug(`archived the Ganymede schema as ${objectKey} (${sealed.size} bytes)`);
          } finally {
            connection.destroy();
            await rm(spool, { force: true });
          }
        }

        // step 2 and 3: every agent file not archived yet, delivered or retired, checked against what its agent reported
        await archiveAgentFiles({ loaded, db, store, log, signal, result, progress });
      });
    } catch (error) {
      if (signal?.aborted) throw stoppedBy(signal, progress.agentDumps);
      throw error;
    } finally {
      await store.close();
    }
    if (signal?.aborted) throw stoppedBy(signal, progress.agentDumps);
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
  for (const dump of result.agentDumps) lines.push(`archived ${dump.objectKey} (${dump.size} bytes${dump.copiedInStore ? ', copied in the store' : ''})`);
  for (const file of result.retiredFiles) {
    const what = file.reason === 'superseded' ? `superseded ${file.file}` : `quarantined ${file.file}`;
    lines.push(`archived ${what} as ${file.objectKey} (${file.size} bytes${file.copiedInStore ? ', copied in the store' : ''})`);
  }
  for (const skipped of result.skipped) lines.push(`skipped ${skipped.file}: ${skipped.reason}`);
  if (lines.length === 0) return '';
  lines.push(`store: ${result.store}`);
  return lines.join('\n');
}
