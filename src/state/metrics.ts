// Metric data points (the CloudWatch model): a name, dimensions, a time and a value. Dimensions are
// stored canonically (sorted keys) with a hash, so the same set always finds the same series.
import { createHash } from 'node:crypto';
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';

export interface MetricPoint {
  name: string;
  dimensions: Record<string, string>;
  value: number;
  unit?: string;
  at?: Date;
}

export function canonicalDimensions(dimensions: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.keys(dimensions).sort().map((key) => [key, dimensions[key]])));
}

export async function recordMetrics(db: Db, points: MetricPoint[]): Promise<void> {
  if (points.length === 0) return;
  const rows = points.map((point) => {
    const dimensions = canonicalDimensions(point.dimensions);
    return [point.name, dimensions, createHash('sha1').update(dimensions).digest('hex'), point.at ?? new Date(), point.value, point.unit ?? null];
  });
  await db.query(`INSERT INTO metric_points (name, dimensions, dimensions_hash, at, value, unit) VALUES ${rows.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}`, rows.flat());
  // The per-minute aggregate (sum, min, max, count) is kept up to date as points arrive.
  for (const [name, dimensions, hash, at, value] of rows as Array<[string, string, string, Date, number]>) {
    const minute = new Date(Math.floor(at.getTime() / 60_000) * 60_000);
    await db.query(
      `INSERT INTO metric_minutes (name, dimensions_hash, minute, dimensions, sum_value, min_value, max_value, sample_count) VALUES (?, ?, ?, ?, ?, ?, ?, 1)
       ON DUPLICATE KEY UPDATE sum_value = sum_value + VALUES(sum_value), min_value = LEAST(min_value, VALUES(min_value)),
         max_value = GREATEST(max_value, VALUES(max_value)), sample_count = sample_count + 1`,
      [name, hash, minute, dimensions, value, value, value],
    );
  }
}

export interface MetricSeries {
  name: string;
  dimensions: Record<string, string>;
}

const matches = (dimensions: Record<string, string>, wanted: Record<string, string>) =>
  Object.entries(wanted).every(([key, value]) => dimensions[key] === value);

/** Metric names with their dimension sets; `dimensions` filters to sets containing all of them. */
export async function listMetricSeries(db: Db, filter: { name?: string; dimensions?: Record<string, string> } = {}): Promise<MetricSeries[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT DISTINCT name, dimensions FROM metric_minutes ${filter.name ? 'WHERE name = ?' : ''} ORDER BY name, dimensions`,
    filter.name ? [filter.name] : [],
  );
  return rows
    .map((row) => ({ name: String(row.name), dimensions: JSON.parse(String(row.dimensions)) as Record<string, string> }))
    .filter((series) => matches(series.dimensions, filter.dimensions ?? {}));
}

export type Statistic = 'sum' | 'min' | 'max' | 'avg' | 'count' | `p${number}`;

export interface StatsRow {
  periodStart: Date;
  values: Record<string, number | null>;
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/**
 * Statistics per period over every series of `name` whose dimensions contain `dimensions`. sum, min,
 * max, avg and count come from the per-minute aggregates; percentiles (nearest rank) from the raw points.
 */
export async function metricStatistics(
  db: Db,
  options: { name: string; dimensions?: Record<string, string>; periodMs: number; since: Date; until?: Date; stats: Statistic[] },
): Promise<StatsRow[]> {
  const until = options.until ?? new Date();
  const wanted = options.dimensions ?? {};
  const [minutes] = await db.query<mysql.RowDataPacket[]>(
    'SELECT minute, dimensions, sum_value, min_value, max_value, sample_count FROM metric_minutes WHERE name = ? AND minute >= ? AND minute < ? ORDER BY minute',
    [options.name, new Date(Math.floor(options.since.getTime() / 60_000) * 60_000), until],
  );
  const needsRaw = options.stats.some((stat) => /^p\d/.test(stat));
  const [raw] = needsRaw
    ? await db.query<mysql.RowDataPacket[]>('SELECT at, dimensions, value FROM metric_points WHERE name = ? AND at >= ? AND at < ?', [options.name, options.since, until])
    : [[] as mysql.RowDataPacket[]];
  const periodOf = (at: Date) => Math.floor(at.getTime() / options.periodMs) * options.periodMs;
  const periods = new Map<number, { sum: number; min: number; max: number; count: number; values: number[] }>();
  const bucket = (start: number) => {
    let found = periods.get(start);
    if (!found) periods.set(start, (found = { sum: 0, min: Infinity, max: -Infinity, count: 0, values: [] }));
    return found;
  };
  for (const row of minutes) {
    if (!matches(JSON.parse(String(row.dimensions)) as Record<string, string>, wanted)) continue;
    const period = bucket(periodOf(row.minute as Date));
    period.sum += Number(row.sum_value);
    period.min = Math.min(period.min, Number(row.min_value));
    period.max = Math.max(period.max, Number(row.max_value));
    period.count += Number(row.sample_count);
  }
  for (const row of raw) {
    if (matches(JSON.parse(String(row.dimensions)) as Record<string, string>, wanted)) bucket(periodOf(row.at as Date)).values.push(Number(row.value));
  }
  return [...periods.entries()]
    .sort(([a], [b]) => a - b)
    .filter(([, period]) => period.count > 0)
    .map(([start, period]) => {
      const sorted = period.values.sort((a, b) => a - b);
      const values: Record<string, number | null> = {};
      for (const stat of options.stats) {
        if (stat === 'sum') values[stat] = period.sum;
        else if (stat === 'min') values[stat] = period.min;
        else if (stat === 'max') values[stat] = period.max;
        else if (stat === 'count') values[stat] = period.count;
        else if (stat === 'avg') values[stat] = period.sum / period.count;
        else values[stat] = percentile(sorted, Number(stat.slice(1)));
      }
      return { periodStart: new Date(start), values };
    });
}
