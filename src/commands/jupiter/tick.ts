// `ganymede jupiter tick`: short-lived, done in 3 steps — settle expired leases, claim what is due within
// the worker limits, launch one detached `ganymede worker` process per claim with its output in the
// transaction's log file — then exit. Any number of ticks may run at once, on one host or several.
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import type { LoadedConfig } from '../../config/load.js';
import { centreDirs, leaseTokenEnv, requireSettings } from '../../config/load.js';
import { formatCycle } from '../../cycle.js';
import { createLogger } from '../../log.js';
import { messageOf } from '../../errors.js';
import { ganymedeBin, ganymedeVersion } from '../../self.js';
import { stateDbTarget, type Db } from '../../state/db.js';
import { advanceCycles } from '../../state/cycles.js';
import { recordMetrics } from '../../state/metrics.js';
import { heartbeatOrWarn } from '../../state/hosts.js';
import { claimDueSteps, recordLaunch, type Claim } from '../../state/step-claims.js';
import { expireLeases, type ExpiredLease } from '../../state/step-leases.js';

export interface Launched {
  step: string;
  txnId: number | null;
  cycle: string;
  attempt: number;
  pid: number | undefined;
  logPath: string;
}

export interface TickResult {
  dryRun: boolean;
  expired: Array<{ step: string; txnId: number | null; outcome: ExpiredLease['outcome']; reason: string }>;
  launched: Launched[];
}

/** Starts the worker for a claim; returns its pid. Injectable so tests can count launches without processes. */
export type Launcher = (claim: Claim, logPath: string) => { pid: number | undefined; exited?: Promise<unknown> };

export function logPathFor(loaded: LoadedConfig, claim: Pick<Claim, 'txnId' | 'cycleStart'>): string {
  const cycle = formatCycle(claim.cycleStart);
  return join(centreDirs(loaded.config).logs, cycle, claim.txnId === null ? 'cycle.log' : `txn-${claim.txnId}.log`);
}

/** The worker's command line: public (any user's `ps` shows it), so it names the work and carries no secret. */
export function workerArgs(loaded: LoadedConfig, claim: Pick<Claim, 'name' | 'txnId' | 'cycleStart'>): string[] {
  const args = [ganymedeBin(), ...(loaded.path ? ['--config', loaded.path] : []), 'worker', claim.name];
  args.push(...(claim.txnId === null ? ['--cycle', formatCycle(claim.cycleStart)] : ['--txn', String(claim.txnId)]));
  return args;
}

/** The tick's environment plus the claimed lease: /proc/<pid>/environ is readable by the worker's user only. */
export function workerEnv(claim: Pick<Claim, 'leaseToken'>): NodeJS.ProcessEnv {
  return { ...process.env, [leaseTokenEnv]: claim.leaseToken };
}

/** Launches `ganymede worker <step>` detached, appending its output to logPath; the tick does not wait for it. */
export function processLauncher(loaded: LoadedConfig): Launcher {
  return (claim, logPath) => {
    mkdirSync(join(logPath, '..'), { recursive: true, mode: 0o700 });
    const args = workerArgs(loaded, claim);
    // The log file's descriptor goes to the worker itself: output routed through the tick would break
    // (and kill the worker) the moment the short-lived tick exits.
    const fd = openSync(logPath, 'a', 0o600);
    try {
      // node's spawn, not execa: execa's typings take no raw descriptor for stdout/stderr.
      const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd], env: workerEnv(claim) });
      child.unref();
      // The worker inherits the environment: its GANYMEDE_* names (never values) say which settings came from there.
      const inherited = Object.keys(process.env).filter((name) => name.startsWith('GANYMEDE_'));
      createLogger('tick').debug(`spawned ${process.execPath} ${args.join(' ')} as pid ${child.pid ?? '?'}${inherited.length ? `; inherits ${inherited.join(', ')}` : ''}`);
      const exited = new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.once('error', () => resolve());
      });
      return { pid: child.pid, exited };
    } finally {
      closeSync(fd);
    }
  };
}

export interface TickOptions {
  loaded: LoadedConfig;
  db: Db;
  dryRun?: boolean | undefined;
  launch?: Launcher | undefined;
}

export async function tick(options: TickOptions): Promise<TickResult & { exits: Promise<unknown>[] }> {
  requireSettings(options.loaded, ['mysql.url'], '`jupiter tick`');
  const { centre, site } = options.loaded.config;
  const log = createLogger('tick');
  const settings = { maxAttempts: centre.max_attempts, retryBaseMs: centre.retry_base_ms };

  // A heartbeat for `ganymede check`: a tick that has not run recently means nothing moves.
  if (!options.dryRun) await recordMetrics(options.db, [{ name: 'tick.run', dimensions: { host: site.name! }, value: 1 }]);
  // This host's membership (`ganymede hosts`); never fails the tick.
  if (!options.dryRun) await heartbeatOrWarn(options.db, { host: site.name!, version: ganymedeVersion(), by: 'tick' }, log)();

  // Files this host left behind when it was killed mid-step, of work finished since (on any host).
  if (!options.dryRun) await sweepLeftoversOrWarn(options.loaded, options.db, log);

  // step 1: workers that stopped renewing their lease are failed attempts, retried later
  const expired = options.dryRun ? [] : await expireLeases(options.db, centre.lease_grace_ms, { ...settings, leaseMs: centre.lease_ms });
  // Said here, once (the tick's printed result leaves them out; a drain, which prints its own, relies on this line).
  for (const { step, outcome, reason } of expired) log.warn(`${reason}: ${outcome === 'retry' ? 'will retry' : `step ${outcome}`}`, { txn: step.txnId ?? undefined, step: step.name });

  // cycles whose GEOs are all in the warehouse (or late, when partial feeds are allowed) get their feed step
  const ready = options.dryRun ? [] : await advanceCycles(options.db, { deadlineMinutes: centre.cycle_deadline_minutes, partialAfterDeadline: options.loaded.config.feed.partial_after_deadline });
  for (const cycle of ready) log.info(`cycle ${cycle.cycle} is ready to feed${cycle.missingGeos.length ? ` without the late GEOs ${cycle.missingGeos.join(', ')}` : ''}`);

  // step 2: claim what is due
  const claims = await claimDueSteps(options.db, stateDbTarget(options.loaded).database, {
    host: site.name!,
    leaseMs: centre.lease_ms,
    maxWorkers: centre.max_workers,
    maxPerStep: centre.max_workers_per_step,
    dryRun: options.dryRun,
  });

  // step 3: launch
  const launch = options.launch ?? processLauncher(options.loaded);
  const launched: Launched[] = [];
  const exits: Promise<unknown>[] = [];
  for (const claim of claims) {
    const logPath = logPathFor(options.loaded, claim);
    const base = { step: claim.name, txnId: claim.txnId, cycle: formatCycle(claim.cycleStart), attempt: claim.attempt, logPath };
    if (options.dryRun) {
      launched.push({ ...base, pid: undefined });
      continue;
    }
    const started = launch(claim, logPath);
    await recordLaunch(options.db, claim, started.pid, logPath);
    if (started.exited) exits.push(started.exited);
    launched.push({ ...base, pid: started.pid });
    log.debug(`launched ${claim.name} (attempt ${claim.attempt}) pid ${started.pid ?? '?'}, log ${logPath}`, { txn: claim.txnId ?? undefined, cycle: base.cycle });
  }
  // Alerts go out after the launches, so a slow webhook never delays work.
  if (!options.dryRun && options.loaded.config.alerts.webhook_url) {
    const { notifyAlerts } = await import('../../alerts/webhook.js');
    await notifyAlerts(options.loaded, options.db, log).catch((error: unknown) => log.warn(`alerts: ${messageOf(error)}`));
  }
  return {
    dryRun: options.dryRun ?? false,
    expired: expired.map(({ step, outcome, reason }) => ({ step: step.name, txnId: step.txnId, outcome, reason })),
    launched,
    exits,
  };
}

async function sweepLeftoversOrWarn(loaded: LoadedConfig, db: Db, log: ReturnType<typeof createLogger>): Promise<void> {
  try {
    const { sweepLeftovers } = await import('../../worker/leftovers.js');
    for (const path of (await sweepLeftovers(loaded, db)).removed) log.info(`removed ${path}: its work is finished`);
  } catch (error) {
    // Disk housekeeping never holds up the hour's work.
    log.warn(`could not remove finished work files: ${messageOf(error)}`);
  }
}

/** The launches, one line each; expired leases were logged as warnings as they were found (and are in --json). */
export function describeTick(result: TickResult): string {
  const lines: string[] = [];
  const verb = result.dryRun ? 'would launch' : 'launched';
  for (const item of result.launched) {
    lines.push(`${verb} ${item.step} for ${item.txnId === null ? `cycle ${item.cycle}` : `transaction ${item.txnId} (${item.cycle})`}, attempt ${item.attempt}${item.pid ? `, pid ${item.pid}` : ''}, log ${item.logPath}`);
  }
  if (result.launched.length === 0) lines.push(result.dryRun ? 'nothing is due: a tick would launch nothing' : 'nothing is due');
  return lines.join('\n');
}
