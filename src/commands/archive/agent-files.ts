// The agent files `archive` copies to the archive store: every delivered file, and every retired one — a
// delivery superseded by a forced re-delivery (still in the inbox) or refused and quarantined. Each is
// recorded under its transaction and delivery (`txn:<id>:d<n>`), so a file is archived once whatever it
// became. A delivered or superseded file must be what its agent reported (size, sha256) or it is not
// archived; a quarantined one was refused for what it is, so it is archived as found, with the size and
// sha256 of the bytes uploaded. An inbox file is read only as a regular file opened without following links
// (inbox-file.ts). With the inbox and the archive on one object store, the store copies each file and this
// host reads the copy once to check it (archive/copy-delivery.ts).
import { createHash } from 'node:crypto';
import { addAbortSignal, Transform, type Readable } from 'node:stream';
import type { LoadedConfig } from '../../config/load.js';
import { formatCycle } from '../../cycle.js';
import type { Logger } from '../../log.js';
import { createProgress } from '../../progress.js';
import type { Db } from '../../state/db.js';
import { agentDumpsToArchive, dropUnfinishedArchiveRecord, finishArchiveRecord, startArchiveRecord, type ArchiveKind } from '../../state/archive.js';
import { deliverySourceKey, retiredDeliveriesToArchive, type RetiredReason } from '../../state/retired-deliveries.js';
import { archiveUrl } from '../../archive/store.js';
import { copyDeliveryToArchive } from '../../archive/copy-delivery.js';
import { openDeliveryFile, openQuarantinedFile, storeObjectName } from '../../inbox/delivery.js';
import { deliveryObjectName, inboxLocation, openInboxStore } from '../../inbox/store.js';
import { parseLocation } from '../../transport/location.js';
import type { Transport } from '../../transport/transport.js';
import { InboxRefusal, sha256Of, type InboxFile } from '../../worker/inbox-file.js';

export interface AgentFileToArchive {
  kind: ArchiveKind;
  sourceKey: string;
  txnId: number;
  geoId: number;
  geo: string;
  cycleStart: Date;
  /** In the inbox (delivered, superseded) or in quarantine: `<geo>/<name>` below it. */
  place: 'inbox' | 'quarantine';
  location: string;
  objectKey: string;
  /** As its agent reported it: what a delivered or superseded file must still be. */
  reported: { size: number; sha256: string };
}

export interface ArchivedAgentFile {
  objectKey: string;
  size: number;
  /** The store copied it from the inbox (same object store); nothing was uploaded from here. */
  copiedInStore: boolean;
}

export interface ArchivedRetiredFile extends ArchivedAgentFile {
  reason: RetiredReason;
  /** `<geo>/<name>` in the inbox (superseded) or in quarantine. */
  file: string;
}

export interface AgentFilesResult {
  agentDumps: ArchivedAgentFile[];
  retiredFiles: ArchivedRetiredFile[];
  skipped: Array<{ file: string; reason: string }>;
}

const reasonOf = (kind: ArchiveKind): RetiredReason | undefined => (kind === 'superseded' || kind === 'quarantined' ? kind : undefined);

/** What a run would archive now, read from MySQL only: delivered files first, then the retired ones. */
export async function agentFilesToArchive(db: Db): Promise<AgentFileToArchive[]> {
  const delivered = (await agentDumpsToArchive(db)).map(
    (dump): AgentFileToArchive => ({
      kind: 'agent-dump',
      sourceKey: deliverySourceKey(dump.txnId, dump.delivery),
      txnId: dump.txnId,
      geoId: dump.geoId,
      geo: dump.geo,
      cycleStart: dump.cycleStart,
      place: 'inbox',
      location: deliveryObjectName(dump.geo, dump.fileName),
      objectKey: `agent/${formatCycle(dump.cycleStart)}/${dump.geo}/${dump.fileName}`,
      reported: { size: dump.size, sha256: dump.sha256 },
    }),
  );
  const retired = (await retiredDeliveriesToArchive(db)).map((file): AgentFileToArchive => {
    // Its own folder per delivery: a GEO's later delivery of that hour may carry the same name.
    const name = file.location.slice(file.location.indexOf('/') + 1);
    const top = file.reason === 'superseded' ? 'superseded' : 'quarantine';
    return {
      kind: file.reason,
      sourceKey: deliverySourceKey(file.txnId, file.delivery),
      txnId: file.txnId,
      geoId: file.geoId,
      geo: file.geo,
      cycleStart: file.cycleStart,
      place: file.reason === 'superseded' ? 'inbox' : 'quarantine',
      location: file.location,
      objectKey: `${top}/${file.cycle}/${file.geo}/d${file.delivery}/${name}`,
      reported: file.file,
    };
  });
  return [...delivered, ...retired];
}

/** `emea/f.gpg` for a file in the inbox, `quarantine emea/f.gpg` for one in quarantine: as results and skips name it. */
export const agentFileLabel = (file: Pick<AgentFileToArchive, 'place' | 'location'>) => (file.place === 'inbox' ? file.location : `quarantine ${file.location}`);

const differs = 'differs from what its agent reported; not archived';

/** A stream that SIGTERM destroys: the stores read their source to the end otherwise. */
export const stoppable = (stream: Readable, signal: AbortSignal | undefined): Readable => (signal ? addAbortSignal(signal, stream) : stream);

export async function archiveAgentFiles(step: {
  loaded: LoadedConfig;
  db: Db;
  store: Transport;
  log: Logger;
  signal: AbortSignal | undefined;
  result: AgentFilesResult;
  /** Counts every file archived, for the message of a run stopped part way. */
  progress: { agentDumps: number };
}): Promise<void> {
  const { loaded, db, store, log, signal, result, progress } = step;
  // With the inbox on the archive's own object store, the store copies each file (copy-delivery.ts). Only a
  // store of the same kind can be that; whether it is (same account, endpoint, key) copyFrom finds out.
  const sameKind = store.copyFrom !== undefined && inboxLocation(loaded).scheme === parseLocation(archiveUrl(loaded)).scheme;
  let inbox = sameKind ? await openInboxStore(loaded, log) : undefined;
  const files = await agentFilesToArchive(db);
  const bar = createProgress({ label: 'archiving agent files', total: files.length, unit: 'files' });
  try {
    for (const [index, file] of files.entries()) {
      if (signal?.aborted) break;
      const label = agentFileLabel(file);
      bar.update(index, `(${label})`);
      const asFound = file.kind === 'quarantined';
      const missing = file.place === 'inbox' ? 'not in the inbox' : 'not in quarantine';
      const record = { kind: file.kind, sourceKey: file.sourceKey, txnId: file.txnId, geoId: file.geoId, cycleStart: file.cycleStart, storeUrl: archiveUrl(loaded), objectKey: file.objectKey } as const;
      const skip = (reason: string) => {
        result.skipped.push({ file: label, reason });
        // The result says it (stdout); at debug here, so a cron log that takes both streams has it once.
        log.debug(`${label}: ${reason}`);
      };
      const archived = async (stored: { size: number; sha256: string }, copiedInStore: boolean) => {
        await finishArchiveRecord(db, file.kind, file.sourceKey, stored.size, stored.sha256);
        const done = { objectKey: file.objectKey, size: stored.size, copiedInStore };
        const reason = reasonOf(file.kind);
        if (reason) result.retiredFiles.push({ ...done, reason, file: file.location });
        else result.agentDumps.push(done);
        progress.agentDumps++;
        log.debug(`archived ${file.objectKey} (${stored.size} bytes${copiedInStore ? ', copied in the store' : ''})`);
      };
      if (inbox) {
        const objectName = storeObjectName(file.place, file.location);
        const found = await inbox.stat(objectName);
        if (!found) {
          skip(missing);
          continue;
        }
        if (!asFound && found.size !== file.reported.size) {
          skip(differs);
          continue;
        }
        await startArchiveRecord(db, record);
        const expected = asFound ? { size: found.size } : file.reported;
        const outcome = await copyDeliveryToArchive({ archive: store, inbox, objectName, objectKey: file.objectKey, expected, signal });
        if (typeof outcome === 'object') {
          await archived(outcome.copied, true);
          continue;
        }
        if (outcome === 'differs') {
          await dropUnfinishedArchiveRecord(db, file.kind, file.sourceKey);
          skip(asFound ? 'changed while it was copied; not archived, the next run tries again' : differs);
          continue;
        }
        // Stores that cannot copy between them (another server, account or key): this file and the rest stream.
        await inbox.close();
        inbox = undefined;
      }
      let opened: InboxFile | undefined;
      try {
        opened = file.place === 'inbox' ? await openDeliveryFile(loaded, file.geo, file.location.slice(file.geo.length + 1), log) : await openQuarantinedFile(loaded, file.location, log);
      } catch (error) {
        if (!(error instanceof InboxRefusal)) throw error;
        skip(`${error.message}; not read, not archived`);
        continue;
      }
      if (!opened) {
        skip(missing);
        continue;
      }
      const inboxFile = opened;
      try {
        if (!asFound && (inboxFile.size !== file.reported.size || (await sha256Of(inboxFile, signal)) !== file.reported.sha256)) {
          skip(differs);
          continue;
        }
        await startArchiveRecord(db, record);
        // A quarantined file is recorded with the sha256 of the bytes the upload read (its last attempt).
        let uploaded: { hash: ReturnType<typeof createHash>; size: number } | undefined;
        const source = () => {
          const read = stoppable(inboxFile.read(), signal);
          if (!asFound) return read;
          const counted = (uploaded = { hash: createHash('sha256'), size: 0 });
          const hashing = new Transform({
            transform(chunk: Buffer, _encoding, done) {
              counted.hash.update(chunk);
              counted.size += chunk.length;
              done(null, chunk);
            },
          });
          read.on('error', (error) => hashing.destroy(error));
          return read.pipe(hashing);
        };
        await store.put(file.objectKey, source, { expectedSize: inboxFile.size });
        await archived(uploaded ? { size: uploaded.size, sha256: uploaded.hash.digest('hex') } : file.reported, false);
      } finally {
        await inboxFile.close();
      }
    }
  } finally {
    await inbox?.close();
  }
  bar.finish();
}
