// What every worker step shares: find its step, hold the lease (renewed while it works; lost, the work
// is abandoned), report progress as status events, and finish or fail the step in the database. A step's
// own code is a plain function of a StepContext that returns rows and bytes.
import type { LoadedConfig } from '../config/load.js';
import { requireSettings } from '../config/load.js';
import { GanymedeError, alreadyRunning, failedError, messageOf, nothingToDo, usageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { createLogger, type Logger } from '../log.js';
import { openStateDb, type Db } from '../state/db.js';
import { recordEvents, type StatusEvent } from '../state/events.js';
import { claimStepByHand, failStep, findTxnStep, finishStep, getStep, renewLease, type StepName, type StepOutcome } from '../state/steps.js';
import { getTransaction, type Transaction } from '../state/transactions.js';

export interface StepContext {
  loaded: LoadedConfig;
  db: Db;
  txn: Transaction;
  log: Logger;
  /** Aborted when the lease is lost or the worker is told to stop. */
  signal: AbortSignal;
  event(event: Omit<StatusEvent, 'at' | 'level'> & { level?: StatusEvent['level'] }): Promise<void>;
}

export interface WorkerStepOptions {
  loaded: LoadedConfig;
  step: StepName;
  txnId: number;
  /** Given by the tick that claimed the step; without it the worker claims the step itself. */
  leaseToken?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface WorkerStepResult extends StepOutcome {
  txnId: number;
  step: StepName;
  attemptHost: string;
}

export async function runWorkerStep(options: WorkerStepOptions, work: (context: StepContext) => Promise<StepOutcome>): Promise<WorkerStepResult> {
  requireSettings(options.loaded, ['mysql.url'], `\`worker ${options.step}\``);
  const { centre, site } = options.loaded.config;
  const db = await openStateDb(options.loaded);
  const controller = new AbortController();
  const stop = () => controller.abort(options.signal?.reason ?? 'a signal');
  options.signal?.addEventListener('abort', stop);
  let heartbeat: NodeJS.Timeout | undefined;
  try {
    const txn = await getTransaction(db, options.txnId);
    if (!txn) throw usageError(`no transaction ${options.txnId}`, 'see `ganymede txn list`');
    const log = createLogger(`worker ${options.step}`, { txn: txn.id, geo: txn.geo, cycle: txn.cycle });
    const step = await findTxnStep(db, txn.id, options.step);
    if (!step) throw usageError(`transaction ${txn.id} has no ${options.step} step (it is ${txn.state}${txn.step ? `, at ${txn.step}` : ''})`);
    let leaseToken = options.leaseToken;
    if (leaseToken === undefined) {
      const claim = await claimStepByHand(db, step.id, site.name!, centre.lease_ms);
      if (!claim) {
        if (step.state === 'running') throw alreadyRunning(`${options.step} of transaction ${txn.id} is running on ${step.leaseHost ?? '?'} pid ${step.leasePid ?? '?'}`);
        throw nothingToDo(`${options.step} of transaction ${txn.id} is ${step.state}; nothing to do`);
      }
      leaseToken = claim.leaseToken;
    } else if (!(await renewLease(db, step.id, leaseToken, process.pid, centre.lease_ms))) {
      throw nothingToDo(`the lease on ${options.step} of transaction ${txn.id} is no longer this worker's; nothing done`);
    }
    const token = leaseToken;
    heartbeat = setInterval(() => {
      renewLease(db, step.id, token, process.pid, centre.lease_ms).then(
        (held) => held || controller.abort('the lease was lost (cancelled, or taken over after it expired)'),
        (error: unknown) => log.warn(`could not renew the lease: ${messageOf(error)}`),
      );
    }, Math.max(500, Math.floor(centre.lease_ms / 3)));
    heartbeat.unref();

    const context: StepContext = {
      loaded: options.loaded,
      db,
      txn: (await getTransaction(db, txn.id))!,
      log,
      signal: controller.signal,
      event: async (event) => {
        await recordEvents(db, { txnId: txn.id, geoId: txn.geoId, source: 'worker' }, [{ level: 'info', ...event, at: new Date() }]).catch(
          (error: unknown) => log.warn(`could not record a status event: ${messageOf(error)}`),
        );
      },
    };
    log.info(`started (attempt ${(await getStep(db, step.id))?.attempts ?? '?'})`);
    await context.event({ phase: options.step, message: 'started' });
    let outcome: StepOutcome;
    try {
      outcome = await work(context);
      if (controller.signal.aborted) throw failedError(`stopped: ${String(controller.signal.reason)}`);
    } catch (error) {
      const failure = controller.signal.aborted && !(error instanceof GanymedeError) ? failedError(`stopped: ${String(controller.signal.reason)}`) : error;
      const refused = failure instanceof GanymedeError && failure.exitCode === ExitCode.refused;
      const reason = messageOf(failure);
      const settled = await failStep(db, step.id, token, reason, refused, { maxAttempts: centre.max_attempts, retryBaseMs: centre.retry_base_ms });
      await context.event({ phase: options.step, level: 'error', message: `${settled === 'retry' ? 'failed, will retry' : settled}: ${reason}`.slice(0, 1000) });
      log.error(`${settled === 'retry' ? 'failed (will be retried)' : settled === 'lost' ? 'failed after losing its lease' : `failed for good (${settled})`}: ${reason}`);
      throw failure;
    }
    if (!(await finishStep(db, step.id, token, outcome))) {
      throw failedError(`${options.step} of transaction ${txn.id} finished, but its lease was lost meanwhile; the result is discarded and the step will run again`);
    }
    await context.event({ phase: options.step, message: 'done', rows: outcome.rows, bytes: outcome.bytes });
    log.info(`done${outcome.rows !== undefined ? `: ${outcome.rows} rows` : ''}${outcome.bytes !== undefined ? `, ${outcome.bytes} bytes` : ''}`);
    return { ...outcome, txnId: txn.id, step: options.step, attemptHost: site.name! };
  } finally {
    if (heartbeat) clearInterval(heartbeat);
    options.signal?.removeEventListener('abort', stop);
    await db.end().catch(() => undefined);
  }
}
