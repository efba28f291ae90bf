// `ganymede hosts …`'s wiring (list, forget); each action imports ./index.js lazily.
import type { Command } from 'commander';
import { printResult, say } from '../../output.js';
import { helpFor, jsonFlag, loaded } from '../options.js';

export function registerHosts(program: Command): void {
  const hosts = helpFor(program.command('hosts').description('the central hosts sharing this Ganymede database: alive or dead, what runs where'), {
    what: 'Without a subcommand it runs `hosts list`.',
    when: 'by hand, when a host may be down or before adding or removing one.',
    examples: ['ganymede hosts', 'ganymede hosts --json', 'ganymede hosts forget centre-b'],
  });
  helpFor(hosts.command('list', { isDefault: true }).description('each central host: alive or dead, last seen, version, the steps running there').addOption(jsonFlag()), {
    what: 'Each host (its site.name) sends a heartbeat from every `jupiter tick` and every lease renewal of its workers; without one for\ncentre.host_dead_after_ms (default 3 min) it is dead. A dead host is not an error here (exit 0); `ganymede check` warns of it.',
    when: 'by hand, or from scripts with --json.',
    examples: ['ganymede hosts', 'ganymede hosts list --json'],
  }).action(async (options: { json?: boolean }, command: Command) => {
    const { runHostsList, describeHostsList } = await import('./index.js');
    printResult(await runHostsList({ loaded: await loaded(command) }), options.json, describeHostsList);
  });
  helpFor(
    hosts
      .command('forget')
      .description('remove a dead host from the list (a live one is refused)')
      .argument('<name>', "the host's site.name")
      .option('--dry-run', 'say whether the host would be forgotten (dead) or refused (alive); change nothing')
      .addOption(jsonFlag()),
    {
      what: 'For a host taken out of service. Nothing else changes: steps it left running are retried elsewhere by a tick once their leases expire.\nIf it ever sends a heartbeat again it reappears.',
      when: 'by hand, after removing a central host for good.',
      examples: ['ganymede hosts forget centre-b --dry-run', 'ganymede hosts forget centre-b'],
    },
  ).action(async (name: string, options: { json?: boolean; dryRun?: boolean }, command: Command) => {
    const { runHostsForget } = await import('./index.js');
    const result = await runHostsForget({ loaded: await loaded(command), name, dryRun: options.dryRun ?? false });
    if (options.json || options.dryRun) printResult(result, options.json, () => `dry run: would forget host ${name} (it is dead); nothing was changed`);
    else say(`forgot host ${name}`);
  });
}
