// `archive list`, `archive restore`, `archive verify`.
import { randomBytes } from 'node:crypto';
import type { LoadedConfig } from '../../config/load.js';
import { parseCycle } from '../../cycle.js';
import { GanymedeError, messageOf, usageError, notFoundError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { createLogger } from '../../log.js';
import { formatBytes, formatTime, renderTable } from '../../render/table.js';
import { listArchiveRecords, type ArchiveRecord } from '../../state/archive.js';
import { recordMetrics } from '../../state/metrics.js';
import type { Db } from '../../state/db.js';
import { findGeo, signingKeysForDelivery } from '../../state/geos.js';
import { getTransaction } from '../../state/transactions.js';
import { openArchiveStore, readCentreKeys } from '../../archive/store.js';
import { restoreArchive, type RestoredArchive, type RestoreTarget } from '../../archive/restore.js';
import { parseMysqlUrl } from '../../state/db.js';
import { connectStreaming } from '../../state/stream-connection.js';
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
  // A GEO or an hour has agent files only (delivered, superseded, quarantined): the schema dumps have neither.
  return withStateDb(options.loaded, (db) => listArchiveRecords(db, { cycleStart, geo: options.geo }));
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
  /** A schema on the scratch server; or, with `to`, unset. */
  into?: string;
  /** mysql://user@host:port/database: another server (password: archive.restore_password). */
  to?: string;
  /** user@host: the definer of every restored view, routine, trigger and event. */
  definer?: string;
  dryRun?: boolean;
  geo?: string;
  cycle?: string;
  /** For the Ganymede schema: the newest dump taken at or before this time (default: the newest). */
  at?: string;
  replace?: boolean;
}

export async function runArchiveRestore(options: ArchiveRestoreOptions): Promise<RestoredArchive & { objectKey: string }> {
  const { schema, target } = restoreDestination(options);
  if (options.definer !== undefined && options.to === undefined) throw usageError('--definer applies to a restore --to mysql://…: only there are the GEO\'s views, routines, triggers and events created');
  if (options.definer !== undefined && !/^[^@\s]{1,128}@[^@\s]{1,255}$/.test(options.definer)) throw usageError(`--definer ${options.definer}: not user@host`, 'e.g. --definer app@localhost or --definer \'app@%\'');
  if (Boolean(options.geo) !== Boolean(options.cycle)) throw usageError('give --geo and --cycle together (a GEO\'s dump of an hour), or neither (the Ganymede schema)');
  const at = options.at === undefined ? undefined : new Date(options.at);
  if (at && Number.isNaN(at.getTime())) throw usageError(`--at ${options.at}: not a time`, 'e.g. 2026-11-24T20:30:00Z');
  const log = createLogger('restore');
  if (!options.geo) return restoreGanymedeSchema(options, at, log);
  return withStateDb(options.loaded, async (db) => {
    const records = await listArchiveRecords(db, { kind: 'agent-dump', geo: options.geo, cycleStart: cycleOption(options.cycle) });
    const record = records.find((candidate) => candidate.state === 'archived');
    if (!record) throw notFoundError(`nothing archived for GEO ${options.geo} in ${options.cycle}`, 'see `ganymede archive list`');
    const keys = await readCentreKeys(options.loaded);
    const store = await openArchiveStore(options.loaded, log);
    try {
      const restored = await restoreArchive({
        loaded: options.loaded, store, record, keys, expectedSigner: await signerFor(db, record, keys), schema, replace: options.replace ?? false,
        target, definer: options.definer, dryRun: options.dryRun, geoDefinitions: target !== undefined,
      });
      if (!options.dryRun) await auditCli(db, 'archive.restore', `schema:${schema}`, { object: record.objectKey, replace: options.replace ?? false, to: target?.describe ?? 'scratch', definer: options.definer ?? null });
      return { ...restored, objectKey: record.objectKey };
    } finally {
      await store.close();
    }
  });
}

/** `--into schema` (the scratch server) or `--to mysql://user@host:port/database` (a server of the operator's). */
function restoreDestination(options: ArchiveRestoreOptions): { schema: string; target: RestoreTarget | undefined } {
  if ((options.into === undefined) === (options.to === undefined)) throw usageError('give --into <schema> (on the scratch MySQL) or --to mysql://user@host:port/database, one of them');
  if (options.into !== undefined) {
    if (!/^[A-Za-z0-9_]{1,64}$/.test(options.into)) throw usageError(`--into ${options.into}: a schema name of letters, digits and _`);
    return { schema: options.into, target: undefined };
  }
  if (!/^mysql:\/\/[^\s:@/]+@[^\s@/]+\/[A-Za-z0-9_]{1,64}$/.test(options.to!)) {
    // A password typed into the URL anyway is not repeated in the message.
    throw usageError(`--to ${options.to!.replace(/^(mysql:\/\/[^:@/]*):[^@/]*@/, '$1:***@')}: not mysql://user@host[:port]/database`, 'no password in the URL: give it in archive.restore_password_file or GANYMEDE_ARCHIVE_RESTORE_PASSWORD');
  }
  const mysqlTarget = parseMysqlUrl(options.to!, '--to');
  const { loaded } = options;
  const describe = `mysql://${mysqlTarget.user}@${mysqlTarget.address}`;
  const connect = (database?: string) =>
    connectStreaming({
      target: mysqlTarget, password: loaded.secret('archive.restore_password'), database, connectTimeoutMs: loaded.config.mysql.connect_timeout_ms,
      what: 'the restore target', settingKey: '--to',
    });
  return { schema: mysqlTarget.database, target: { connect, describe } };
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
    if (!newest) throw notFoundError(`no archived Ganymede schema${at ? ` at or before ${at.toISOString()}` : ''} in ${store.describe()}`, 'see `ganymede archive list`');
    const record: ArchiveRecord = {
      id: 0, kind: 'ganymede-db', sourceKey: newest.entry.name, txnId: null, geo: null, cycle: null, storeUrl: store.describe(),
      objectKey: newest.entry.name, size: newest.entry.size, sha256: null, state: 'archived', createdAt: newest.takenAt, archivedAt: newest.takenAt,
    };
    const { schema, target } = restoreDestination(options);
    const restored = await restoreArchive({ loaded: options.loaded, store, record, keys, expectedSigner: keys.allPublicKeys, schema, replace: options.replace ?? false, target, dryRun: options.dryRun });
    // The audit trail lives in the schema that may just have been lost: recorded when it can be.
    if (!options.dryRun) {
      await withStateDb(options.loaded, (db) => auditCli(db, 'archive.restore', `schema:${schema}`, { object: record.objectKey })).catch(() =>
        log.warn('the restore could not be written to the audit trail: the Ganymede database is not available'),
      );
    }
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
    const ok = checked.every((item) => item.ok);
    // The drill's outcome, for the console's health page (a daily drill is well within metric retention).
    await recordMetrics(db, [{ name: 'archive.verify', dimensions: { result: ok ? 'ok' : 'failed' }, value: checked.filter((item) => item.ok).length }]).catch((error: unknown) =>
      log.warn(`could not record the drill's outcome: ${messageOf(error)}`),
    );
    return { checked, ok };
  });
}

export function describeArchiveVerify(result: VerifyResult): string {
  return result.checked
    .map((item) => (item.ok ? `ok      ${item.objectKey}: ${item.tables} tables, ${item.rows} rows restored and verified` : `FAILED  ${item.objectKey}: ${item.error}`))
    .join('\n');
}

export function describeArchiveRestore(result: RestoredArchive & { objectKey: string }): string {
  const lines: string[] = [];
  const objectLabel = (item: RestoredArchive['objects'][number]) => `${item.kind} ${item.name}${item.table ? ` (on ${item.table})` : ''}, definer ${item.definer}`;
  if (result.dryRun) {
    for (const item of result.created.filter((entry) => entry.kind === 'table')) lines.push(`would create table ${item.name}`);
    for (const item of result.objects) lines.push(`would create ${objectLabel(item)}`);
  } else {
    lines.push(`restored ${result.objectKey} into ${result.schema}: ${result.tables} tables, ${result.rows} rows, verified; signed by ${result.signer}`);
    if (result.objects.length > 0) lines.push(`created ${result.objects.length} views, routines, triggers and events: ${result.objects.map((item) => `${item.kind} ${item.name}`).join(', ')}`);
  }
  for (const definer of result.missingDefiners) lines.push(`definer ${definer} does not exist on the target: give --definer user@host, or create that user first`);
  for (const item of result.unreadable) lines.push(`not in the dump: ${item.kind} ${item.name} (the agent could not read it: ${item.reason})`);
  if (result.objectsLeftOut > 0) lines.push(`left out: the GEO's ${result.objectsLeftOut} views, routines, triggers and events (they are its own code: restore with --to mysql://… to create them)`);
  if (!result.schemaObjectsRecorded) lines.push('this dump was made by an agent older than dump format 3: it carries the tables only, no views, routines, triggers or events');
  if (result.dryRun) lines.push(`dry run: ${result.created.length} objects would be created in ${result.schema}, in this order; nothing was created`);
  return lines.join('\n');
}
