// What every worker step shares: find its step, hold the lease (renewed while it works; lost, the work
// is abandoned), report progress as status events, and finish or fail the step in the database. A step's
// own code is a plain function of its context that returns rows and bytes.
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadedConfig } from '../config/load.js';
import { requireSettings } from '../config/load.js';
import { formatCycle, parseCycle } from '../cycle.js';
import { GanymedeError, alreadyRunning, failedError, messageOf, nothingToDo, usageError, notFoundError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { createLogger, recentLogLines, type Logger } from '../log.js';
import { recordAttemptLog } from '../state/attempt-logs.js';
import { openStateDb, type Db } from '../state/db.js';
import { recordEvents, type StatusEvent } from '../state/events.js';
import { recordMetrics } from '../state/metrics.js';
import { heartbeatOrWarn } from '../state/hosts.js';
import { ganymedeVersion } from '../self.js';
import { claimStepByHand } from '../state/step-claims.js';
import { renewLease } from '../state/step-leases.js';
import { failStep, finishStep, type StepOutcome } from '../state/step-outcomes.js';
import { findCycleStep, findTxnStep, getStep, type Step, type StepName } from '../state/steps.js';
import { getTransaction, type Transaction } from '../state/transactions.js';
import { refuseIfGeoDisabled } from '../inbox/delivery.js';

interface BaseContext {
  loaded: LoadedConfig;
  db: Db;
  log: Logger;
  /** Aborted when the lease is lost or the worker is told to stop. */
  signal: AbortSignal;
  event(event: Omit<StatusEvent, 'at' | 'level'> & { level?: StatusEvent['level'] }): Promise<void>;
}

/** decrypt, load, etl, clean: one GEO's transaction. */
export interface StepContext extends BaseContext {
  txn: Transaction;
}

/** feed, send: one cycle. */
export interface CycleStepContext extends BaseContext {
  cycleStart: Date;
  cycle: string;
  force: boolean;
  /** feed --force --rebuild: an hour already sent is built again from the warehouse as it is now. */
  rebuild: boolean;
}

interface Common {
  loaded: LoadedConfig;
  step: StepName;
  /** Given by the tick that claimed the step; without it the worker claims the step itself. */
  leaseToken?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface WorkerStepResult extends StepOutcome {
  step: StepName;
}

/** A step run by hand: what it did, in one line. */
export function describeWorkerStep(result: WorkerStepResult & { txnId?: number; cycle?: string }): string {
  const of = result.txnId === undefined ? `cycle ${result.cycle ?? '?'}` : `transaction ${result.txnId}`;
  const figures = [result.rows === undefined ? '' : `${result.rows} rows`, result.bytes === undefined ? '' : `${result.bytes} bytes`].filter(Boolean);
  return `${result.step} of ${of}: done${figures.length ? `, ${figures.join(', ')}` : ''}`;
}

/** How long work may take to wind down once told to stop: a zstd child to exit, a staging dir to go. */
export const stopGraceMs = 3_000;
const dbEndWaitMs = 2_000;

/**
 * `work`, unless `signal` fires and `work` has not settled `graceMs` later: then `stopped()` wins. Some
 * waits ignore a signal (an SFTP handshake with a peer that went silent is retried for minutes); none may
 * keep a process past SIGTERM. The caller exits right after, and what was still running goes with it.
 */
export function settleOrStop<T>(work: Promise<T>, signal: AbortSignal | undefined, stopped: () => Error, graceMs = stopGraceMs): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => (timer = setTimeout(() => reject(stopped()), graceMs));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    });
  });
}

export async function runWorkerStep(options: Common & { txnId: number }, work: (context: StepContext) => Promise<StepOutcome>): Promise<WorkerStepResult> {
  return withDb(options, async (db) => {
    const txn = await getTransaction(db, options.txnId);
    if (!txn) throw notFoundError(`no transaction ${options.txnId}`, 'see `ganymede txn list`');
    const step = await findTxnStep(db, txn.id, options.step);
    if (!step) throw usageError(`transaction ${txn.id} has no ${options.step} step (it is ${txn.state}${txn.step ? `, at ${txn.step}` : ''})`);
    const log = createLogger(`worker ${options.step}`, { txn: txn.id, geo: txn.geo, cycle: txn.cycle });
    return holdAndRun(options, db, step, `${options.step} of transaction ${txn.id}`, log, { txnId: txn.id, geoId: txn.geoId, geoName: txn.geo }, async (base) => {
      const current = (await getTransaction(db, txn.id))!;
      // A GEO disabled after its file was loaded: the rest of its delivery is held too (decrypt and load check
      // for themselves, as they open the delivery).
      if (options.step === 'etl') await refuseIfGeoDisabled(db, options.loaded, current, base.log);
      return work({ ...base, txn: current });
    });
  });
}

export async function runCycleStep(
  options: Common & { cycle: string; force?: boolean | undefined; rebuild?: boolean | undefined },
  work: (context: CycleStepContext) => Promise<StepOutcome>,
): Promise<WorkerStepResult> {
  const cycleStart = parseCycle(options.cycle);
  if (!cycleStart) throw usageError(`--cycle ${options.cycle}: not a UTC hour`, 'write it as YYYY-MM-DDTHH, e.g. 2026-11-24T20');
  const cycle = formatCycle(cycleStart);
  return withDb(options, async (db) => {
    const step = await findCycleStep(db, cycleStart, options.step);
    if (!step) throw usageError(`cycle ${cycle} has no ${options.step} step yet`, 'see `ganymede cycle show`; it is created when every GEO of the hour is in the warehouse');
    const log = createLogger(`worker ${options.step}`, { cycle });
    return holdAndRun(options, db, step, `${options.step} of cycle ${cycle}`, log, { txnId: null, geoId: null }, (base) =>
      work({ ...base, cycleStart, cycle, force: options.force ?? false, rebuild: options.rebuild ?? false }),
    );
  });
}

export interface WorkerStepPlan {
  dryRun: true;
  step: StepName;
  txnId?: number;
  cycle?: string;
  /** The step's state now; by hand, a pending or failed step is run at once. */
  state: string;
  attempt: number;
}

/**
 * `--dry-run`: what `worker <step>` by hand would do now, read without claiming anything: run the step (its
 * next attempt), or exit as the real run would (already running: 11, nothing to do: 10).
 */
export async function planWorkerStep(options: Common & ({ txnId: number } | { cycle: string })): Promise<WorkerStepPlan> {
  return withDb(options, async (db) => {
    let step: Step | undefined;
    let what: string;
    let target: { txnId: number } | { cycle: string };
    let txnState: string | undefined;
    if ('txnId' in options) {
      const txn = await getTransaction(db, options.txnId);
      if (!txn) throw notFoundError(`no transaction ${options.txnId}`, 'see `ganymede txn list`');
      step = await findTxnStep(db, txn.id, options.step);
      if (!step) throw usageError(`transaction ${txn.id} has no ${options.step} step (it is ${txn.state}${txn.step ? `, at ${txn.step}` : ''})`);
      what = `${options.step} of transaction ${txn.id}`;
      target = { txnId: txn.id };
      txnState = txn.state;
    } else {
      const cycleStart = parseCycle(options.cycle);
      if (!cycleStart) throw usageError(`--cycle ${options.cycle}: not a UTC hour`, 'write it as YYYY-MM-DDTHH, e.g. 2026-11-24T20');
      step = await findCycleStep(db, cycleStart, options.step);
      if (!step) throw usageError(`cycle ${formatCycle(cycleStart)} has no ${options.step} step yet`, 'see `ganymede cycle show`; it is created when every GEO of the hour is in the warehouse');
      what = `${options.step} of cycle ${formatCycle(cycleStart)}`;
      target = { cycle: formatCycle(cycleStart) };
    }
    if (step.state === 'running') throw alreadyRunning(`${what} is running on ${step.leaseHost ?? '?'} pid ${step.leasePid ?? '?'}`);
    // As claimStepByHand: a refused or cancelled transaction is not revived by hand.
    const claimable = (step.state === 'pending' || step.state === 'failed') && (txnState === undefined || ['delivered', 'processing', 'failed'].includes(txnState));
    if (!claimable) throw nothingToDo(`${what} is ${step.state}${txnState && step.state !== txnState ? ` (transaction ${txnState})` : ''}; nothing to do`);
    return { dryRun: true, step: options.step, ...target, state: step.state, attempt: step.attempts + 1 };
  });
}

export function describeWorkerStepPlan(plan: WorkerStepPlan): string {
  const of = plan.txnId === undefined ? `cycle ${plan.cycle ?? '?'}` : `transaction ${plan.txnId}`;
  return `dry run: would run ${plan.step} of ${of} now on this host (attempt ${plan.attempt}; the step is ${plan.state}); nothing was changed`;
}

async function withDb<T>(options: Common, work: (db: Db) => Promise<T>): Promise<T> {
  requireSettings(options.loaded, ['mysql.url'], `\`worker ${options.step}\``);
  const db = await openStateDb(options.loaded);
  try {
    return await work(db);
  } finally {
    // A pool whose server went silent (a cut link) would wait forever for its queries to end.
    await Promise.race([db.end().catch(() => undefined), sleep(dbEndWaitMs, undefined, { ref: false })]);
  }
}

/** Thrown when this worker stops because it could not renew its lease: it writes nothing more, anywhere. */
class LeaseUnrenewable extends GanymedeError {}

/** Settles with `work`, or rejects with `lost()` once `fenced` is aborted: MySQL calls of a fenced worker may never answer. */
function unlessFenced<T>(work: Promise<T>, fenced: AbortSignal, lost: () => Error): Promise<T> {
  if (fenced.aborted) return Promise.reject(lost());
  return new Promise<T>((resolve, reject) => {
    const onFenced = () => reject(lost());
    fenced.addEventListener('abort', onFenced, { once: true });
    work.then(resolve, reject).finally(() => fenced.removeEventListener('abort', onFenced));
  });
}

async function holdAndRun(
  options: Common,
  db: Db,
  step: Step,
  what: string,
  log: Logger,
  eventTarget: { txnId: number | null; geoId: number | null; geoName?: string },
  work: (context: BaseContext) => Promise<StepOutcome>,
): Promise<WorkerStepResult> {
  const { centre, site } = options.loaded.config;
  let leaseToken = options.leaseToken;
  if (leaseToken === undefined) {
    const claim = await claimStepByHand(db, step.id, site.name!, centre.lease_ms);
    if (!claim) {
      if (step.state === 'running') throw alreadyRunning(`${what} is running on ${step.leaseHost ?? '?'} pid ${step.leasePid ?? '?'}`);
      throw nothingToDo(`${what} is ${step.state}; nothing to do`);
    }
    leaseToken = claim.leaseToken;
  } else if (!(await renewLease(db, step.id, leaseToken, process.pid, centre.lease_ms))) {
    throw nothingToDo(`the lease on ${what} is no longer this worker's; nothing done`);
  }
  const token = leaseToken;
  // This host's membership (`ganymede hosts`) beats with the lease: a long step keeps its host alive between ticks.
  const beat = heartbeatOrWarn(db, { host: site.name!, version: ganymedeVersion(), by: 'worker' }, log);
  await beat();
  log.debug(`${what}: step ${step.id}, attempt ${step.attempts + (options.leaseToken === undefined ? 1 : 0)}, lease ${centre.lease_ms} ms renewed every ${Math.max(500, Math.floor(centre.lease_ms / 3))} ms, pid ${process.pid}`);
  const controller = new AbortController();
  const stop = () => controller.abort(options.signal?.reason ?? 'a signal');
  // Told to stop while claiming: an aborted signal fires no more 'abort' events.
  if (options.signal?.aborted) stop();
  else options.signal?.addEventListener('abort', stop);
  // Fencing: a lease not renewed for lease_ms has expired on the server, and after lease_grace_ms more another
  // host may take the step. This worker stops before that, by its own clock (measured from when the last good
  // renewal was sent, which is earlier than the server's view), and from then on writes nothing anywhere.
  let renewedAt = Date.now();
  const fence = new AbortController();
  const lostLease = () =>
    new LeaseUnrenewable(ExitCode.unreachable, `${what}: stopped, as its lease could not be renewed for ${Date.now() - renewedAt} ms (the Ganymede MySQL is unreachable from ${site.name}); another host takes the step over once the lease has expired`);
  const heartbeat = setInterval(() => {
    if (Date.now() - renewedAt >= centre.lease_ms) {
      if (!fence.signal.aborted) {
        log.error(lostLease().message);
        fence.abort('the lease could not be renewed');
        controller.abort('the lease could not be renewed');
      }
      return;
    }
    const sentAt = Date.now();
    renewLease(db, step.id, token, process.pid, centre.lease_ms).then(
      (held) => {
        if (!held) return controller.abort('the lease was lost (cancelled, or taken over after it expired)');
        renewedAt = Math.max(renewedAt, sentAt);
        void beat();
      },
      (error: unknown) => log.warn(`could not renew the lease: ${messageOf(error)}`),
    );
  }, Math.max(500, Math.floor(centre.lease_ms / 3)));
  heartbeat.unref();
  const context: BaseContext = {
    loaded: options.loaded,
    db,
    log,
    signal: controller.signal,
    event: async (event) => {
      await recordEvents(db, { txnId: eventTarget.txnId, geoId: eventTarget.geoId, source: 'worker' }, [{ level: 'info', ...event, at: new Date() }]).catch((error: unknown) =>
        log.warn(`could not record a status event: ${messageOf(error)}`),
      );
    },
  };
  const startedAt = Date.now();
  const run = async (): Promise<WorkerStepResult> => {
    log.info(`started (attempt ${(await getStep(db, step.id))?.attempts ?? '?'})`);
    await context.event({ phase: options.step, message: 'started' });
    let outcome: StepOutcome;
    let finished: boolean;
    try {
      const stopped = () => failedError(`stopped: ${String(controller.signal.reason)} (the step had not wound down ${stopGraceMs} ms later)`);
      outcome = await settleOrStop(work(context), controller.signal, stopped);
      if (controller.signal.aborted) throw failedError(`stopped: ${String(controller.signal.reason)}`);
      // A stop that arrives while the result is being recorded still wins (the finish rolls back): the
      // step's work is redone by its next attempt, which every step allows, instead of a SIGTERM that was
      // received before the exit being answered with "done".
      finished = await finishStep(db, step.id, token, outcome, controller.signal);
    } catch (error) {
      // Fenced: the attempt is not ours to record any more (the tick that expires the lease records it).
      if (fence.signal.aborted) throw lostLease();
      // Once told to stop, whatever the work threw is an artefact of stopping (a MongoDB client closed under
      // etl reads as "unreachable", a decrypt stream cut short as a damaged file): the step is retried.
      const stopReport = error instanceof GanymedeError && error.message.startsWith('stopped: ');
      if (controller.signal.aborted && !stopReport) log.debug(`while stopping: ${messageOf(error)}`);
      const failure = controller.signal.aborted && !stopReport ? failedError(`stopped: ${String(controller.signal.reason)}`) : error;
      // Refused data and a configuration problem fail the same way every time: no retries until someone
      // acts (txn retry, or the worker by hand); anything else backs off and retries.
      const refused = failure instanceof GanymedeError && (failure.exitCode === ExitCode.refused || failure.exitCode === ExitCode.config);
      const reason = messageOf(failure);
      const settled = await failStep(db, step.id, token, reason, refused, { maxAttempts: centre.max_attempts, retryBaseMs: centre.retry_base_ms });
      await context.event({ phase: options.step, level: 'error', message: `${settled === 'retry' ? 'failed, will retry' : settled}: ${reason}`.slice(0, 1000) });
      log.error(`${settled === 'retry' ? 'failed (will be retried)' : settled === 'lost' ? 'failed after losing its lease' : `failed for good (${settled})`}: ${reason}`);
      await recordAttemptLog(db, step.id, token, recentLogLines()).catch((error: unknown) => log.warn(`could not keep the log's last lines in MySQL: ${messageOf(error)}`));
      throw failure;
    }
    if (!finished) {
      throw failedError(`${what} finished, but its lease was lost meanwhile; the result is discarded and the step will run again`);
    }
    const dimensions = { step: options.step, ...(eventTarget.geoName ? { geo: eventTarget.geoName } : {}) };
    await recordMetrics(db, [
      { name: 'step.duration', dimensions, value: Date.now() - startedAt, unit: 'ms' },
      ...(outcome.rows === undefined ? [] : [{ name: 'step.rows', dimensions, value: outcome.rows }]),
      ...(outcome.bytes === undefined ? [] : [{ name: 'step.bytes', dimensions, value: outcome.bytes, unit: 'bytes' }]),
      ...(outcome.documents === undefined ? [] : [{ name: 'step.documents_written', dimensions, value: outcome.documents }]),
    ]).catch((error: unknown) => log.warn(`could not record metrics: ${messageOf(error)}`));
    await context.event({ phase: options.step, message: 'done', rows: outcome.rows, bytes: outcome.bytes });
    log.info(`done${outcome.rows !== undefined ? `: ${outcome.rows} rows` : ''}${outcome.bytes !== undefined ? `, ${outcome.bytes} bytes` : ''}`);
    return { ...outcome, step: options.step };
  };
  try {
    // Whatever it is waiting on (a MySQL call that a cut link never answers), a fenced worker stops here.
    return await unlessFenced(run(), fence.signal, lostLease);
  } finally {
    clearInterval(heartbeat);
    options.signal?.removeEventListener('abort', stop);
  }
}
