// `ganymede cycle …`'s wiring (list, show, feed); each action imports ./index.js lazily.
import type { Command } from 'commander';
import { printResult, say } from '../../output.js';
import { helpFor, jsonFlag, loaded, positiveNumber } from '../options.js';

export function registerCycle(program: Command): void {
  const cycle = program.command('cycle').description('the hours: which GEOs are in, the feed and its delivery');
  helpFor(cycle.command('list').description('the latest cycles with their state').option('--limit <n>', 'how many (default 48)', (value) => positiveNumber(value, '--limit')).addOption(jsonFlag()), {
    when: 'by hand, or from scripts with --json.',
    examples: ['ganymede cycle list', 'ganymede cycle list --limit 24 --json'],
  }).action(async (options: { limit?: number; json?: boolean }, command: Command) => {
    const { runCycleList, describeCycleList } = await import('./index.js');
    printResult(await runCycleList({ loaded: await loaded(command), limit: options.limit }), options.json, describeCycleList);
  });
  helpFor(cycle.command('show').description('one cycle: its transactions, who it waits for, what was sent').argument('<hour>', 'YYYY-MM-DDTHH').addOption(jsonFlag()), {
    when: 'by hand, when an hour is late or its feed did not arrive.',
    examples: ['ganymede cycle show 2026-11-24T20'],
  }).action(async (hour: string, options: { json?: boolean }, command: Command) => {
    const { runCycleShow, describeCycleShow } = await import('./index.js');
    printResult(await runCycleShow({ loaded: await loaded(command), cycle: hour }), options.json, describeCycleShow);
  });
  helpFor(
    cycle
      .command('feed')
      .description('feed a cycle now, even with GEOs missing')
      .argument('<hour>', 'YYYY-MM-DDTHH')
      .option('--allow-missing', 'go ahead without the GEOs not in the warehouse yet')
      .option('--dry-run', 'say whether the cycle would be fed and without which GEOs; change nothing')
      .addOption(jsonFlag()),
    {
      what: 'The missing GEOs are listed in the feed manifest; when they arrive later they are in the next feed\'s changes.',
      when: 'by hand, when a GEO is late and Glassbeam should not wait.',
      examples: ['ganymede cycle feed 2026-11-24T20 --allow-missing --dry-run', 'ganymede cycle feed 2026-11-24T20 --allow-missing'],
    },
  ).action(async (hour: string, options: { allowMissing?: boolean; json?: boolean; dryRun?: boolean }, command: Command) => {
    const { runCycleFeed } = await import('./index.js');
    const result = await runCycleFeed({ loaded: await loaded(command), cycle: hour, allowMissing: options.allowMissing ?? false, dryRun: options.dryRun ?? false });
    const without = result.missingGeos.length ? `, without ${result.missingGeos.join(', ')}` : '';
    if (options.json || options.dryRun) printResult(result, options.json, () => `dry run: cycle ${result.cycle} would be fed by the next tick${without}; nothing was changed`);
    else say(`cycle ${result.cycle} will be fed by the next tick${without}`);
  });
}
