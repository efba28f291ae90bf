// `archive list`, `archive restore`, `archive verify`.
import { randomBytes } from 'node:crypto';
import type { LoadedConfig } from '../../config/load.js';
import { parseCycle } from '../../cycle.js';
import { GanymedeError, messageOf, usageError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { createLogger } from '../../log.js';
import { formatBytes, formatTime, renderTable } from '../../render/table.js';
import { listArchiveRecords, type ArchiveRecord } from '../../state/archive.js';
import type { Db } from '../../state/db.js';
import { findGeo, signingKeysForDelivery } from '../../state/geos.js';
import { getTransaction } from '../../state/transactions.js';
import { openArchiveStore, readCentreKeys } from '../../archive/store.js';
import { restoreArchive, type RestoredArchive } from '../../archive/restore.js';
import { connectScratch, scratchQuery } from '../../worker/scratch-db.js';
import { withStateDb } from '../context.js';
import { auditCli } from '../audit.js';

function cycleOption(text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const cycle = parseCycle(text);
  if (!cycle) throw usageError(`--cycle ${text}: not a UTC hour`, 'write it as YYYY-MM-DDTHH');
  return cycle;
}

export async function runArchiveList(options: { loaded: LoadedConfig; cycle?: string; geo?: string }): Promise<ArchiveRecord[]> {
  const cycleStart = cycleOption(options.cycle);
  return withStateDb(options.loaded, (db) =>
    listArchiveRecords(db, { cycleStart, geo: options.geo, ...(cycleStart || options.geo ? { kind: 'agent-dump' as const } : {}) }),
  );
}

export function describeArchiveList(records: ArchiveRecord[]): string {
  if (records.length === 0) return 'nothing archived yet (or nothing matches)';
  return renderTable(
    ['KIND', 'CYCLE', 'GEO', 'OBJECT', 'SIZE', 'STATE', 'ARCHIVED'],
    records.map((record) => [record.kind, record.cycle ?? '-', record.geo ?? '-', record.objectKey, formatBytes(record.size), record.state, formatTime(record.archivedAt)]),
  );
}

/**
 * Who may have signed an archived file: any centre key of the file for the Ganymede schema (after
 * `keys rotate`, older dumps carry an older key's signature), and for an agent's dump the keys the GEO
 * had in force when that file was delivered (its retired keys included, unless revoked).
 */
async function signerFor(db: Db, record: ArchiveRecord, centre: Awaited<ReturnType<typeof readCentreKeys>>) {
  if (record.kind === 'ganymede-db') return centre.allPublicKeys;
  const geo = await findGeo(db, record.geo!);
  if (!geo) throw new GanymedeError(ExitCode.failed, `GEO ${record.geo} of ${record.objectKey} is not registered any more`);
  const txn = record.txnId === null ? undefined : await getTransaction(db, record.txnId);
  // Without its transaction (purged), any key the GEO retired and did not revoke.
  const keys = await signingKeysForDelivery(db, geo, txn?.deliveredAt ?? new Date(0));
  const { readGeoSigningKeys } = await import('../../openpgp/keys.js');
  return readGeoSigningKeys(keys.map((key) => key.armored), geo.name);
}

export interface ArchiveRestoreOptions {
  loaded: LoadedConfig;
  into: string;
  geo?: string;
  cycle?: string;
  /** For the Ganymede schema: the newest dump taken at or before this time (default: the newest). */
  at?: string;
  replace?: boolean;
}

export async function runArchiveRestore(options: ArchiveRestoreOptions): Promise<RestoredArchive & { objectKey: string }> {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(options.into)) throw usageError(`--into ${options.into}: a schema name of letters, digits and _`);
  if (Boolean(options.geo) !== Boolean(options.cycle)) throw usageError('give --geo and --cycle together (a GEO\'s dump of an hour), or neither (the Ganymede schema)');
  const at = options.at === undefined ? undefined : new Date(options.at);
  if (at && Number.isNaN(at.getTime())) throw usageError(`--at ${options.at}: not a time`, 'e.g. 2026-11-24T20:30:00Z');
  const log = createLogger('restore');
  if (!options.geo) return restoreGanymedeSchema(options, at, log);
  return withStateDb(options.loaded, async (db) => {
    const records = await listArchiveRecords(db, { kind: 'agent-dump', geo: options.geo, cycleStart: cycleOption(options.cycle) });
    const record = records.find((candidate) => candidate.state === 'archived');
    if (!record) throw usageError(`nothing archived for GEO ${options.geo} in ${options.cycle}`, 'see `ganymede archive list`');
    const keys = await readCentreKeys(options.loaded);
    const store = await openArchiveStore(options.loaded, log);
    try {
      const restored = await restoreArchive({ loaded: options.loaded, store, record, keys, expectedSigner: await signerFor(db, record, keys), schema: options.into, replace: options.replace ?? false });
      await auditCli(db, 'archive.restore', `schema:${options.into}`, { object: record.objectKey, replace: options.replace ?? false });
      return { ...restored, objectKey: record.objectKey };
    } finally {
      await store.close();
    }
  });
}

const schemaDumpName = /^ganymede\/\d{4}-\d{2}-\d{2}\/ganymede-(\d{8}T\d{6}Z)\.tar\.gz\.gpg$/;

/**
 * The Ganymede schema is found in the store itself, not in its own (perhaps lost) archive records: the
 * dump's name carries its time, and the centre's signature vouches for its content.
 */
async function restoreGanymedeSchema(options: ArchiveRestoreOptions, at: Date | undefined, log: ReturnType<typeof createLogger>) {
  const keys = await readCentreKeys(options.loaded);
  const store = await openArchiveStore(options.loaded, log);
  try {
    const dumps = (await store.list('ganymede/'))
      .map((entry) => {
        const stamp = schemaDumpName.exec(entry.name)?.[1];
        const takenAt = stamp ? new Date(`${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`) : undefined;
        return { entry, takenAt };
      })
      .filter((dump): dump is { entry: (typeof dump)['entry']; takenAt: Date } => dump.takenAt !== undefined && (!at || dump.takenAt <= at))
      .sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime());
    const newest = dumps[0];
    if (!newest) throw usageError(`no archived Ganymede schema${at ? ` at or before ${at.toISOString()}` : ''} in ${store.describe()}`, 'see `ganymede archive list`');
    const record: ArchiveRecord = {
      id: 0, kind: 'ganymede-db', sourceKey: newest.entry.name, txnId: null, geo: null, cycle: null, storeUrl: store.describe(),
      objectKey: newest.entry.name, size: newest.entry.size, sha256: null, state: 'archived', createdAt: newest.takenAt, archivedAt: newest.takenAt,
    };
    const restored = await restoreArchive({ loaded: options.loaded, store, record, keys, expectedSigner: keys.allPublicKeys, schema: options.into, replace: options.replace ?? false });
    // The audit trail lives in the schema that may just have been lost: recorded when it can be.
    await withStateDb(options.loaded, (db) => auditCli(db, 'archive.restore', `schema:${options.into}`, { object: record.objectKey })).catch(() =>
      log.warn('the restore could not be written to the audit trail: the Ganymede database is not available'),
    );
    return { ...restored, objectKey: record.objectKey };
  } finally {
    await store.close();
  }
}

export interface VerifyResult {
  checked: Array<{ objectKey: string; ok: boolean; tables?: number; rows?: number; error?: string }>;
  ok: boolean;
}

/** The restore drill: the newest Ganymede dump and the newest agent dump, restored into scratch schemas, verified, dropped. */
export async function runArchiveVerify({ loaded, sample = 2 }: { loaded: LoadedConfig; sample?: number }): Promise<VerifyResult> {
  const log = createLogger('verify');
  return withStateDb(loaded, async (db) => {
    const newest = (kind: 'ganymede-db' | 'agent-dump') => listArchiveRecords(db, { kind, limit: Math.max(1, sample) });
    const records = [...(await newest('ganymede-db')).slice(0, 1), ...(await newest('agent-dump')).slice(0, Math.max(1, sample - 1))].filter((record) => record.state === 'archived');
    if (records.length === 0) throw usageError('nothing is archived yet to verify', 'run `ganymede archive` first');
    const keys = await readCentreKeys(loaded);
    const store = await openArchiveStore(loaded, log);
    const checked: VerifyResult['checked'] = [];
    try {
      for (const record of records) {
        const schema = `gmd_verify_${randomBytes(4).toString('hex')}`;
        try {
          const restored = await restoreArchive({ loaded, store, record, keys, expectedSigner: await signerFor(db, record, keys), schema, replace: false });
          checked.push({ objectKey: record.objectKey, ok: true, tables: restored.tables, rows: restored.rows });
        } catch (error) {
          checked.push({ objectKey: record.objectKey, ok: false, error: messageOf(error) });
        } finally {
          const admin = await connectScratch(loaded);
          await scratchQuery(admin, `DROP DATABASE IF EXISTS \`${schema}\``).finally(() => admin.destroy());
        }
      }
    } finally {
      await store.close();
    }
    return { checked, ok: checked.every((item) => item.ok) };
  });
}

export function describeArchiveVerify(result: VerifyResult): string {
  return result.checked
    .map((item) => (item.ok ? `ok      ${item.objectKey}: ${item.tables} tables, ${item.rows} rows restored and verified` : `FAILED  ${item.objectKey}: ${item.error}`))
    .join('\n');
}
