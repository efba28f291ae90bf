// `ganymede metrics …`'s wiring (list, stats); each action imports ./index.js lazily.
import type { Command } from 'commander';
import { printResult } from '../../output.js';
import { helpFor, jsonFlag, loaded } from '../options.js';

export function registerMetrics(program: Command): void {
  const metrics = program.command('metrics').description('data points the steps record: duration, rows, bytes, documents written');
  const collect = (value: string, previous: string[] = []) => [...previous, value];
  helpFor(metrics.command('list').description('metric names with their dimensions').option('--name <name>', 'only this metric').option('--dim <key=value>', 'only series with this dimension (repeatable)', collect).addOption(jsonFlag()), {
    when: 'by hand, to see what can be asked of `metrics stats`.',
    examples: ['ganymede metrics list', 'ganymede metrics list --dim step=load'],
  }).action(async (options: { name?: string; dim?: string[]; json?: boolean }, command: Command) => {
    const { runMetricsList, describeMetricsList } = await import('./index.js');
    printResult(await runMetricsList({ loaded: await loaded(command), ...options }), options.json, describeMetricsList);
  });
  helpFor(
    metrics
      .command('stats')
      .description('statistics of a metric per period')
      .requiredOption('--name <name>', 'the metric, e.g. step.duration')
      .option('--dim <key=value>', 'only series with this dimension (repeatable)', collect)
      .option('--period <duration>', 'period length: 5m, 1h, 1d', '1h')
      .option('--stat <list>', 'sum, min, max, avg, count, p50, p95 …', 'avg,max')
      .option('--since <duration>', 'how far back', '24h')
      .addOption(jsonFlag()),
    {
      what: 'Points are aggregated per minute (sum, min, max, count) as they are recorded; percentiles use the raw points.',
      when: 'by hand, e.g. to see whether loads are getting slower.',
      examples: ['ganymede metrics stats --name step.duration --dim step=load --period 1h --stat avg,max,p95 --since 24h'],
    },
  ).action(async (options: { name: string; dim?: string[]; period: string; stat: string; since: string; json?: boolean }, command: Command) => {
    const { runMetricsStats, describeMetricsStats } = await import('./index.js');
    printResult(await runMetricsStats({ loaded: await loaded(command), ...options }), options.json, describeMetricsStats);
  });
}
