// `ganymede jupiter …`'s wiring (tick, drain). Only commander and light helpers here: cron starts `jupiter tick` every minute.
import type { Command } from 'commander';
import { GanymedeError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { printResult } from '../../output.js';
import { helpFor, jsonFlag, loaded, positiveNumber } from '../options.js';
import { withStopSignal } from '../stop-signal.js';

export function registerJupiter(program: Command): void {
  const jupiter = program.command('jupiter').description('the central scheduler');
  helpFor(
    jupiter
      .command('tick')
      .description('launch every worker step that is due, then exit')
      .option('--dry-run', 'show what would be launched; launch nothing')
      .addOption(jsonFlag()),
    {
      what: 'Fails the attempts of workers whose lease expired (and schedules their retry), claims each due step with a lease\nwithin centre.max_workers, and starts `ganymede worker <step>` for it, detached, its output in the log dir. Quiet when idle.',
      when: 'cron, every minute, on one or several central hosts; any number of ticks at once launch each step once.',
      examples: ['ganymede jupiter tick', 'ganymede jupiter tick --dry-run'],
    },
  ).action(async (options: { dryRun?: boolean; json?: boolean }, command: Command) => {
    const config = await loaded(command);
    const [{ withStateDb }, { tick, describeTick }] = await Promise.all([import('../context.js'), import('./tick.js')]);
    const { exits: _exits, ...result } = await withStateDb(config, (db) => tick({ loaded: config, db, dryRun: options.dryRun }));
    if (options.json || options.dryRun || result.launched.length > 0) printResult(result, options.json, describeTick);
  });
  helpFor(
    jupiter
      .command('drain')
      .description('tick until nothing is runnable or running')
      .option('--timeout <seconds>', 'give up after this long (default 3600)', (value) => positiveNumber(value, '--timeout'))
      .addOption(jsonFlag()),
    {
      what: 'Each step starts as soon as the one before it finishes. Exits 0 when every transaction it saw is done, 6 otherwise.',
      when: 'by hand, in the demo and in tests.',
      examples: ['ganymede jupiter drain', 'ganymede jupiter drain --timeout 600 --json'],
    },
  ).action(async (options: { timeout?: number; json?: boolean }, command: Command) => {
    const config = await loaded(command);
    const [{ withStateDb }, { drain, describeDrain }] = await Promise.all([import('../context.js'), import('./drain.js')]);
    const result = await withStopSignal((signal) => withStateDb(config, (db) => drain({ loaded: config, db, signal, timeoutMs: options.timeout === undefined ? undefined : options.timeout * 1000 })));
    printResult(result, options.json, describeDrain);
    if (!result.ok) {
      const unfinished = result.transactions.filter((txn) => txn.state !== 'done').length;
      const parts = [unfinished ? `${unfinished} transactions did not finish` : '', ...result.failedCycles.map((cycle) => `cycle ${cycle.cycle} failed: ${cycle.error ?? '?'}`)].filter(Boolean);
      throw new GanymedeError(ExitCode.failed, `drain: ${parts.join('; ')}`);
    }
  });
}
