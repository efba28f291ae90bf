// `ganymede hosts`: the central hosts sharing this Ganymede database, alive or dead by their heartbeats
// (centre.host_dead_after_ms), with what runs on each; `hosts forget` removes a dead one for good.
import type { LoadedConfig } from '../../config/load.js';
import { refusedError, notFoundError } from '../../errors.js';
import { formatAgo } from '../../render/age.js';
import { paint } from '../../render/style.js';
import { renderTable } from '../../render/table.js';
import { forgetHost, listHosts, type HostView, type RunningStep } from '../../state/hosts.js';
import { auditCli } from '../audit.js';
import { withStateDb } from '../context.js';

export interface HostsResult {
  hostDeadAfterMs: number;
  hosts: HostView[];
}

export async function runHostsList({ loaded }: { loaded: LoadedConfig }): Promise<HostsResult> {
  const hostDeadAfterMs = loaded.config.centre.host_dead_after_ms;
  return withStateDb(loaded, async (db) => ({ hostDeadAfterMs, hosts: await listHosts(db, hostDeadAfterMs) }));
}

export function describeRunningStep(step: RunningStep): string {
  return step.txnId === null ? `${step.step} ${step.cycle}` : `${step.step} txn ${step.txnId}`;
}

export function describeHostsList(result: HostsResult): string {
  if (result.hosts.length === 0) return 'no central host has sent a heartbeat yet: each sends one from every `jupiter tick` and every worker';
  const rows = result.hosts.map((host) => [
    host.name,
    host.alive ? paint.green('alive') : paint.red('dead'),
    formatAgo(host.lastSeenAgoMs),
    host.version,
    host.running.length === 0 ? '-' : `${host.running.length}: ${host.running.map(describeRunningStep).join(', ')}`,
  ]);
  const dead = result.hosts.filter((host) => !host.alive).length;
  const footer = dead > 0 ? `\n${dead} dead: no heartbeat for over ${formatSeconds(result.hostDeadAfterMs)} (centre.host_dead_after_ms); \`ganymede hosts forget NAME\` removes one that is gone for good` : '';
  return `${renderTable(['HOST', 'STATE', 'LAST SEEN', 'VERSION', 'RUNNING'], rows, { maxWidths: [0, 0, 0, 0, 100] })}${footer}`;
}

const formatSeconds = (ms: number) => `${Math.round(ms / 1000)} s`;

/** Removes a dead host's row (it reappears if the host ever beats again); a live host is refused. Audited. */
export async function runHostsForget({ loaded, name, dryRun = false }: { loaded: LoadedConfig; name: string; dryRun?: boolean }): Promise<{ forgotten: string; dryRun?: true }> {
  const deadAfterMs = loaded.config.centre.host_dead_after_ms;
  return withStateDb(loaded, async (db) => {
    const outcome = await forgetHost(db, name, deadAfterMs, { dryRun });
    if (outcome.kind === 'not-found') throw notFoundError(`no host named ${name}`, 'see `ganymede hosts`');
    if (outcome.kind === 'alive') {
      throw refusedError(
        `host ${name} is alive: its last heartbeat was ${formatAgo(outcome.lastSeenAgoMs)}, and a host is dead only after ${formatSeconds(deadAfterMs)} without one (centre.host_dead_after_ms)`,
        `stop its cron lines and workers first; forget it once \`ganymede hosts\` shows it dead`,
      );
    }
    if (dryRun) return { forgotten: name, dryRun: true };
    await auditCli(db, 'host.forget', `host:${name}`);
    return { forgotten: name };
  });
}
