// `metrics list` and `metrics stats`: the CloudWatch model over the steps' data points.
import type { LoadedConfig } from '../../config/load.js';
import { usageError } from '../../errors.js';
import { formatTime, renderTable } from '../../render/table.js';
import { listMetricSeries, metricStatistics, type MetricSeries, type Statistic, type StatsRow } from '../../state/metrics.js';
import { withStateDb } from '../context.js';

const units: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  if (!match) throw usageError(`${flag} ${text}: not a duration`, 'write it as a number and a unit: 60s, 5m, 1h, 7d');
  return Number(match[1]) * units[match[2]!]!;
}

export function parseDimensions(pairs: string[] = []): Record<string, string> {
  const dimensions: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw usageError(`--dim ${pair}: expected key=value`, 'e.g. --dim step=load --dim geo=emea');
    dimensions[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return dimensions;
}

export function parseStatistics(text: string): Statistic[] {
  const stats = text.split(',').map((stat) => stat.trim()).filter(Boolean);
  for (const stat of stats) {
    if (!/^(sum|min|max|avg|count|p(100|[1-9]?\d(\.\d+)?))$/.test(stat)) throw usageError(`--stat ${stat}: not a statistic`, 'use sum, min, max, avg, count or a percentile such as p95');
  }
  if (stats.length === 0) throw usageError('--stat: name at least one statistic');
  return stats as Statistic[];
}

export async function runMetricsList(options: { loaded: LoadedConfig; name?: string; dim?: string[] }): Promise<MetricSeries[]> {
  const dimensions = parseDimensions(options.dim);
  return withStateDb(options.loaded, (db) => listMetricSeries(db, { name: options.name, dimensions }));
}

export function describeMetricsList(series: MetricSeries[]): string {
  if (series.length === 0) return 'no metrics match';
  return renderTable(['NAME', 'DIMENSIONS'], series.map((item) => [item.name, Object.entries(item.dimensions).map(([key, value]) => `${key}=${value}`).join(' ')]));
}

export interface MetricsStatsOptions {
  loaded: LoadedConfig;
  name: string;
  dim?: string[];
  period: string;
  stat: string;
  since: string;
  now?: Date;
}

export async function runMetricsStats(options: MetricsStatsOptions): Promise<{ name: string; dimensions: Record<string, string>; periodMs: number; rows: StatsRow[] }> {
  const dimensions = parseDimensions(options.dim);
  const periodMs = parseDuration(options.period, '--period');
  const since = new Date((options.now ?? new Date()).getTime() - parseDuration(options.since, '--since'));
  const stats = parseStatistics(options.stat);
  const rows = await withStateDb(options.loaded, (db) => metricStatistics(db, { name: options.name, dimensions, periodMs, since, until: options.now, stats }));
  return { name: options.name, dimensions, periodMs, rows };
}

export function describeMetricsStats(result: Awaited<ReturnType<typeof runMetricsStats>>): string {
  if (result.rows.length === 0) return `no data points of ${result.name} in that window`;
  const stats = Object.keys(result.rows[0]!.values);
  const shown = (value: number | null) => (value === null ? '-' : Number.isInteger(value) ? String(value) : value.toFixed(2));
  return renderTable(['PERIOD START', ...stats.map((stat) => stat.toUpperCase())], result.rows.map((row) => [formatTime(row.periodStart), ...stats.map((stat) => shown(row.values[stat] ?? null))]));
}
