// `ganymede agent run`: one hour of this GEO, done in 6 steps — lock (and send the close an earlier run
// kept), open the transaction, snapshot, stream (tar → compressor → encrypt+sign → spool file), deliver,
// close. Status events go out as it works. An API that is down is waited for (src/agent/api-patience.ts).
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { LoadedConfig } from '../../config/load.js';
import { agentWorkDir, requireSettings } from '../../config/load.js';
import { cycleOf, formatCycle, parseCycle } from '../../cycle.js';
import { GanymedeError, configError, failedError, messageOf, nothingToDo, usageError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { acquireHostLock } from '../../lock.js';
import { createLogger, type Logger } from '../../log.js';
import type { PublicKey } from 'openpgp';
import { ApiClient, ApiConflict, type ApiTransaction } from '../../api/client.js';
import { describeOutage, PatienceExhausted, patienceUntil, withApiPatience, type ApiPatience } from '../../agent/api-patience.js';
import { keepPendingClose, removePendingClose, sendPendingCloses } from '../../agent/pending-close.js';
import { EventReporter } from '../../agent/event-reporter.js';
import { readAgentKeys } from '../../agent/keys.js';
import { chooseCentreKey } from '../../agent/centre-key.js';
import type { PreparedDump } from '../../agent/dump-worker.js';
import { sourceConnectionOptions, sourceTarget } from '../../agent/source-db.js';
import type { StreamConnectionOptions } from '../../state/stream-connection.js';
import { createProgress } from '../../progress.js';
import { hostKeyPin, openTransport } from '../../transport/location.js';
import { withRetry } from '../../transport/retry.js';
import type { Transport } from '../../transport/transport.js';
import { deliveryFileName } from '../../inbox/delivery-name.js';
import { uploadThroughApi } from '../../agent/presigned-upload.js';

/** agent.inbox "api": the agent uploads through the pre-signed URLs the API hands out, and holds no store credential. */
export const apiInbox = 'api';

export interface AgentRunOptions {
  loaded: LoadedConfig;
  cycle?: string | undefined;
  force?: boolean | undefined;
  /** Stops the run (SIGTERM): temp files are removed and the transaction marked failed. */
  signal?: AbortSignal | undefined;
  progressEveryMs?: number;
  /** Transport and API retry pacing, for tests. */
  retryBaseDelayMs?: number;
  /** The longest wait between two tries of an API that is down (30 s), for tests. */
  apiRetryMaxDelayMs?: number;
  /** Called once the file is delivered and its close kept, before the close is sent: tests stop the API here. */
  beforeClose?: () => Promise<void>;
}

export interface AgentRunResult {
  geo: string;
  cycle: string;
  transactionId: number;
  file: { name: string; size: number; sha256: string };
  tables: number;
  rows: number;
  durationMs: number;
}

const spoolSuffix = '.sealing';

export { deliveryFileName };

export function requireAgentSettings(loaded: LoadedConfig): void {
  const keys = ['agent.geo', 'agent.token', 'agent.source.url', 'agent.signing_key_file', 'agent.centre_public_key_file', 'agent.inbox'];
  const inbox = loaded.config.agent.inbox;
  if (inbox?.startsWith('sftp:')) keys.push('agent.sftp_key_file');
  if (inbox?.startsWith('swift:') || inbox?.startsWith('s3:')) keys.push('agent.inbox_secret');
  requireSettings(loaded, keys, '`agent run`');
}

/** The hour to deliver: --cycle, or the current one. */
export function cycleToRun(text: string | undefined): Date {
  const cycleStart = text === undefined ? cycleOf(new Date()) : parseCycle(text);
  if (!cycleStart) throw usageError(`--cycle ${text}: not a UTC hour`, 'write it as YYYY-MM-DDTHH, e.g. 2026-11-24T20');
  return cycleStart;
}

/**
 * The central inbox (agent.inbox); opening checks the location, key and host-key pin without connecting.
 * undefined for "api": the API hands out the upload URLs once the transaction is open.
 */
export async function openInbox(loaded: LoadedConfig): Promise<Transport | undefined> {
  const { agent } = loaded.config;
  if (agent.inbox === apiInbox) return undefined;
  return openTransport(agent.inbox!, {
    privateKey: agent.sftp_key_file,
    connectTimeoutMs: loaded.config.mysql.connect_timeout_ms,
    fileMode: Number.parseInt(agent.inbox_file_mode, 8),
    ...hostKeyPin(agent.inbox_host_key),
    // A swift:// or s3:// inbox written with this GEO's own credentials (README, "Inbox in object storage").
    secret: loaded.secret('agent.inbox_secret'),
    accessKeyId: agent.inbox_access_key_id,
  });
}

function spaceError(error: unknown, workDir: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new GanymedeError(ExitCode.failed, `the agent work dir ${workDir} is full (${code}) while writing the encrypted dump`, {
      hint: 'free space there or point agent.work_dir at a bigger disk; nothing was delivered',
    });
  }
  if (code === 'EACCES' || code === 'EROFS') return configError(`cannot write in the agent work dir ${workDir}: ${code}`, { hint: 'check agent.work_dir and its owner' });
  return error;
}

export async function runAgent(options: AgentRunOptions): Promise<AgentRunResult> {
  const { loaded } = options;
  requireAgentSettings(loaded);
  const { agent } = loaded.config;
  const geo = agent.geo!;
  const cycle = formatCycle(cycleToRun(options.cycle));
  const workDir = agentWorkDir(loaded.config);
  const log = createLogger('agent', { geo, cycle });
  const started = Date.now();

  // step 1: the host lock, before anything is opened or changed
  await mkdir(workDir, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code ?? messageOf(error);
    throw configError(`cannot create the agent work dir ${workDir}: ${code}`, { hint: 'check agent.work_dir: it must be a writable directory (or a path where one can be made)' });
  });
  const lock = await acquireHostLock('agent', workDir, 'the agent');
  const { api: apiConfig } = loaded.config;
  const api = new ApiClient({
    baseUrl: apiConfig.url,
    token: loaded.secret('agent.token')!,
    as: `GEO ${geo}`,
    timeoutMs: apiConfig.request_timeout_ms,
    caFile: apiConfig.ca_file,
    clientCertFile: apiConfig.client_cert_file,
    clientKeyFile: apiConfig.client_key_file,
    allowInsecure: apiConfig.allow_insecure,
  });
  const events = new EventReporter({ bufferFile: join(workDir, 'events.jsonl'), send: (txnId, batch) => api.postEvents(txnId, batch), log });
  const retry = { baseDelayMs: options.retryBaseDelayMs, maxAttempts: 4, onRetry: (line: string) => log.warn(line) };
  let txn: ApiTransaction | undefined;
  let spool: string | undefined;
  let transport: Transport | undefined;
  // Set from the moment the file is delivered until the centre has its close: the hour must then not be failed.
  let keptClose: string | undefined;
  // The dump's worker starts now, so that it connects and opens the snapshot during steps 1 and 2.
  let dump = await prepareSourceDump(loaded);
  let dumpReleased = false;
  const patienceFrom = (fromMs: number): ApiPatience => ({
    ...patienceUntil(fromMs, agent.api_patience_minutes),
    baseDelayMs: options.retryBaseDelayMs,
    maxDelayMs: options.apiRetryMaxDelayMs,
    onRetry: (line) => log.warn(line),
    signal: options.signal,
  });
  const openPatience: ApiPatience = {
    ...patienceFrom(started),
    // Waiting for the API, the source would hold a snapshot (and block its purge) for up to the whole
    // patience, on a connection its wait_timeout may cut: let it go, and take it again once the hour is open.
    onFirstFailure: async () => {
      if ('error' in dump || dumpReleased) return;
      dumpReleased = true;
      await dump.cancel();
    },
  };
  try {
    // step 1, continued: what an earlier run delivered but could not close goes first
    await sendPendingCloses({ api, workDir, geo, patience: openPatience, log, events, cycle });
    transport = await openInbox(loaded);
    await removeStaleSpools(workDir);
    events.start();
    const { signingKey, centreKey } = await readAgentKeys(agent.signing_key_file!, agent.centre_public_key_file!);

    // step 2: the hour's transaction
    try {
      txn = (await withApiPatience(`opening ${cycle}`, () => api.openTransaction(geo, cycle, { force: options.force, agentHost: hostname() }), openPatience)).transaction;
    } catch (error) {
      if (error instanceof ApiConflict) throw nothingToDo(`${cycle} of GEO ${geo}: ${error.message}`);
      if (error instanceof PatienceExhausted) {
        throw new GanymedeError(
          ExitCode.unreachable,
          `${describeOutage(error)}: ${cycle} of GEO ${geo} was not opened and nothing was delivered; deliver it later with \`ganymede agent run --cycle ${cycle}\``,
        );
      }
      throw error;
    }
    if (dumpReleased) dump = await prepareSourceDump(loaded);
    const txnId = txn.id;
    log.info(`transaction ${txnId} open (delivery ${txn.delivery})`);
    events.report(txnId, { level: 'info', phase: 'opened', message: `agent on ${hostname()}` });
    const centre = await chooseCentreKeyFor(api, centreKey, workDir, log);
    if (centre.replaced) events.report(txnId, { level: 'info', phase: 'centre-key', message: `took over centre key ${centre.fingerprint} (signed by ${centre.replaced})` });
    if (centre.ignored) events.report(txnId, { level: 'error', phase: 'centre-key', message: centre.ignored });

    // steps 3 and 4, on worker threads: one consistent snapshot of the source, streamed through tar →
    // compressor → encrypt and sign → spool file, reporting as it goes
    const name = deliveryFileName(geo, cycle, txn.delivery, agent.compression);
    spool = join(workDir, `${name}${spoolSuffix}`);
    let bar: ReturnType<typeof createProgress> | undefined;
    let lastEvent = 0;
    if ('error' in dump) throw dump.error;
    const { manifest, sealed } = await dump
      .run(
        { path: spool, encryptionKey: centre.key.write(), signingKey: signingKey.write() },
        {
          signal: options.signal,
          onSnapshot: (snapshot) => {
            for (const pattern of snapshot.unmatchedIncludes) log.warn(`agent.source.include: "${pattern}" matches no table`);
            log.info(`snapshot of ${snapshot.tables} tables at ${snapshot.snapshotAt}`);
            bar = createProgress({ label: 'extracting', total: snapshot.estimatedRows, unit: 'rows' });
          },
          onProgress: ({ table, rows, bytes }) => {
            bar?.update(rows, `(${table})`);
            if (Date.now() - lastEvent < (options.progressEveryMs ?? 5_000)) return;
            lastEvent = Date.now();
            events.report(txnId, { level: 'debug', phase: 'extracting', table, rows, bytes });
          },
        },
      )
      .catch((error: unknown) => {
        throw spaceError(error, workDir);
      });
    bar?.finish();
    const rows = manifest.tables.reduce((sum, table) => sum + table.rows, 0);
    events.report(txnId, { level: 'info', phase: 'extracted', rows, bytes: sealed.size, message: `${manifest.tables.length} tables` });
    log.info(`sealed ${manifest.tables.length} tables, ${rows} rows into ${sealed.size} bytes`);

    // step 5: deliver: through the API's pre-signed URLs, or through the transport (a .part renamed once
    // complete and its size checked; an object store's PUT is atomic by itself)
    const file = { name, size: sealed.size, sha256: sealed.sha256 };
    const onRetry = (line: string) => {
      log.warn(line);
      events.report(txnId, { level: 'warn', phase: 'delivering', message: line.slice(0, 1000) });
    };
    const spoolPath = spool;
    let delivered: string;
    if (transport) {
      const destination = transport;
      const inbox = withRetry(destination, { baseDelayMs: options.retryBaseDelayMs, onRetry });
      await inbox.put(name, () => createReadStream(spoolPath, { highWaterMark: 1024 * 1024 }), { expectedSize: sealed.size });
      delivered = `${name} to ${destination.describe()}`;
    } else {
      const uploaded = await uploadThroughApi({ api, txnId, file, path: spoolPath, retry: { ...retry, maxAttempts: 6, onRetry }, signal: options.signal });
      delivered = `${name} as ${uploaded.target} through a pre-signed upload${uploaded.parts > 1 ? ` in ${uploaded.parts} segments` : ''}`;
    }
    events.report(txnId, { level: 'info', phase: 'delivered', bytes: sealed.size, message: delivered });
    log.info(`delivered ${delivered}`);
    keptClose = await keepPendingClose(workDir, { geo, cycle, transactionId: txnId, file, deliveredAt: new Date().toISOString() }).catch((error: unknown) => {
      log.warn(`cannot keep the close in ${workDir} (${messageOf(error)}); it is only sent now`);
      return undefined;
    });
    await options.beforeClose?.();

    // step 6: close the transaction with what was delivered, waiting for the API afresh: the file is there
    const close = await closeDelivered({ api, txnId, file, keptClose, workDir, patience: patienceFrom(Date.now()), what: `closing ${cycle}` });
    if (close.kind !== 'kept') keptClose = undefined;
    if (close.kind !== 'closed') throw close.error;
    events.report(txnId, { level: 'info', phase: 'closed', message: `sha256 ${sealed.sha256}` });
    return { geo, cycle, transactionId: txnId, file, tables: manifest.tables.length, rows, durationMs: Date.now() - started };
  } catch (error) {
    const stoppedBy = `stopped by ${String(options.signal?.reason ?? 'a signal')}`;
    const stopped = keptClose ? failedError(`${stoppedBy} after the delivery; the close is kept in ${keptClose} and the next run sends it first`) : failedError(`${stoppedBy}; nothing was delivered`);
    const failure = options.signal?.aborted ? stopped : error;
    // With its close kept, the hour is delivered: failing it would make the centre refuse that close.
    if (txn && !keptClose && !(failure instanceof GanymedeError && failure.exitCode === ExitCode.nothingToDo)) {
      const reason = messageOf(failure);
      events.report(txn.id, { level: 'error', phase: 'failed', message: reason.slice(0, 1000) });
      await api.failTransaction(txn.id, reason).catch((apiError: unknown) => log.warn(`could not mark transaction ${txn!.id} failed: ${messageOf(apiError)}`));
    }
    throw failure;
  } finally {
    if (!('error' in dump)) await dump.cancel();
    if (spool) await rm(spool, { force: true });
    await transport?.close().catch(() => undefined);
    await events.close();
    await lock.release();
  }
}

/**
 * Sends the close of a delivered file. Past the patience, or on an answer that is not a verdict (a 500, a
 * 401 after a token rotation), the close stays kept for the next run; a verdict (409: the hour was given up
 * or taken by another delivery meanwhile) ends it, and the run fails with the centre's reason.
 */
async function closeDelivered(options: {
  api: ApiClient;
  txnId: number;
  file: AgentRunResult['file'];
  keptClose: string | undefined;
  workDir: string;
  patience: ApiPatience;
  what: string;
}): Promise<{ kind: 'closed' } | { kind: 'kept' | 'refused'; error: unknown }> {
  const { file, keptClose } = options;
  try {
    await withApiPatience(options.what, () => options.api.closeTransaction(options.txnId, file), options.patience);
  } catch (error) {
    if (options.patience.signal?.aborted || !(error instanceof GanymedeError || error instanceof PatienceExhausted)) return { kind: keptClose ? 'kept' : 'refused', error };
    const verdict = error instanceof GanymedeError && error.exitCode === ExitCode.refused;
    if (verdict || !keptClose) {
      await removePendingClose(options.workDir, options.txnId);
      return { kind: 'refused', error: error instanceof PatienceExhausted ? error.last : error };
    }
    const why = error instanceof PatienceExhausted ? describeOutage(error) : `the close was not taken: ${messageOf(error)}`;
    const exitCode = error instanceof PatienceExhausted ? ExitCode.unreachable : error.exitCode;
    return { kind: 'kept', error: new GanymedeError(exitCode, `delivered ${file.name}, but ${why}; the close is kept in ${keptClose} and the next run sends it first`, { cause: error }) };
  }
  await removePendingClose(options.workDir, options.txnId);
  return { kind: 'closed' };
}

/**
 * Starts the dump's worker, or keeps the configuration error for step 3, where it has always been
 * reported (with the transaction open, so that it is marked failed).
 */
async function prepareSourceDump(loaded: LoadedConfig): Promise<PreparedDump | { error: unknown }> {
  const { agent } = loaded.config;
  let source: StreamConnectionOptions;
  try {
    source = sourceConnectionOptions(loaded, sourceTarget(loaded));
  } catch (error) {
    return { error };
  }
  // Imported here, in its own chunk: the worker loads that chunk, and none of this command's imports.
  const { prepareDump } = await import('../../agent/dump-worker.js');
  return prepareDump({ source, include: agent.source.include, exclude: agent.source.exclude, compression: agent.compression });
}

/** Spool files of a run that was killed: encrypted, but useless now and taking space. */
async function removeStaleSpools(workDir: string): Promise<void> {
  for (const name of await readdir(workDir)) {
    if (name.endsWith(spoolSuffix)) await rm(join(workDir, name), { force: true });
  }
}

export function describeAgentRun(result: AgentRunResult): string {
  return `delivered ${result.file.name}: ${result.tables} tables, ${result.rows} rows, ${result.file.size} bytes, sha256 ${result.file.sha256} (transaction ${result.transactionId}, ${(result.durationMs / 1000).toFixed(1)} s)`;
}

/** The centre key to encrypt to this run, following the API's signed key chain (src/agent/centre-key.ts). */
async function chooseCentreKeyFor(api: ApiClient, configured: PublicKey, workDir: string, log: Logger) {
  const published = await api.centreKeys().then(
    (reply) => {
      const wellFormed = Array.isArray(reply.keys) && reply.keys.every((key) => typeof key?.fingerprint === 'string' && typeof key.publicKey === 'string');
      if (!wellFormed) log.warn("the API's answer about the centre's keys is malformed; encrypting to the centre key this agent trusts");
      return wellFormed ? reply.keys : undefined;
    },
    (error: unknown) => {
      log.warn(`cannot fetch the centre's published keys (${messageOf(error)}); encrypting to the centre key this agent trusts`);
      return undefined;
    },
  );
  const choice = await chooseCentreKey({ configured, workDir, published, log });
  if (choice.replaced) log.info(`the centre rotated its key: encrypting to ${choice.fingerprint} from now on (handed over by ${choice.replaced})`);
  if (choice.ignored) log.error(choice.ignored);
  return choice;
}
