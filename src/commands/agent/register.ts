// `ganymede agent run`'s wiring: flags, help, and a lazy import of the run (or its dry run).
import type { Command } from 'commander';
import { printResult } from '../../output.js';
import { cycleFlag, helpFor, jsonFlag, loaded } from '../options.js';
import { withStopSignal } from '../stop-signal.js';

export function registerAgent(program: Command): void {
  const agent = program.command('agent').description('what runs on each GEO server');
  helpFor(
    agent
      .command('run')
      .description("extract this GEO's Cloud Control database, encrypt, sign and deliver it for one hour")
      .addOption(cycleFlag())
      .option('--force', 'deliver again an hour that was already delivered')
      .option('--dry-run', 'say what a run would do: send the closes an earlier run kept, then extract these tables (estimated rows and bytes); change nothing')
      .addOption(jsonFlag()),
    {
      what: "Opens the hour's transaction through the status API, streams a consistent snapshot through tar, zstd (or gzip: agent.compression) and OpenPGP\n(encrypted to the centre, signed by this GEO) to the central inbox, posts progress events, and closes the transaction.\nNo plaintext reaches the disk. An hour already delivered exits 10 (nothing to do) unless --force.",
      when: 'cron, hourly, on every GEO server (see crontab.example). A second run while one is going exits 11.',
      examples: ['ganymede agent run', 'ganymede agent run --cycle 2026-11-24T20 --force', 'ganymede agent run --dry-run'],
    },
  ).action(async (options: { cycle?: string; force?: boolean; dryRun?: boolean; json?: boolean }, command: Command) => {
    const config = await loaded(command);
    if (options.dryRun) {
      const { runAgentDryRun, describeAgentDryRun } = await import('./dry-run.js');
      printResult(await runAgentDryRun({ loaded: config, cycle: options.cycle }), options.json, describeAgentDryRun);
      return;
    }
    const { runAgent, describeAgentRun } = await import('./run.js');
    const result = await withStopSignal((signal) => runAgent({ loaded: config, cycle: options.cycle, force: options.force, signal }));
    printResult(result, options.json, describeAgentRun);
  });
}
