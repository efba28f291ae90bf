// Metric data points (the CloudWatch model): a name, dimensions, a time and a value. Dimensions are
// stored canonically (sorted keys) with a hash, so the same set always finds the same series. Some points
// also add to cumulative totals (metric_totals), the counters and histograms that /metrics exposes.
import { createHash } from 'node:crypto';
import type mysql from 'mysql2/promise';
import type { Db } from './db.js';
import { insertedRow } from './upsert.js';

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
  const inserted = await insertedRow(db);
  for (const [name, dimensions, hash, at, value] of rows as Array<[string, string, string, Date, number]>) {
    const minute = new Date(Math.floor(at.getTime() / 60_000) * 60_000);
    await db.query(
      `INSERT INTO metric_minutes (name, dimensions_hash, minute, dimensions, sum_value, min_value, max_value, sample_count) VALUES (?, ?, ?, ?, ?, ?, ?, 1)${inserted.alias}
       ON DUPLICATE KEY UPDATE sum_value = sum_value + ${inserted.value('sum_value')}, min_value = LEAST(min_value, ${inserted.value('min_value')}),
         max_value = GREATEST(max_value, ${inserted.value('max_value')}), sample_count = sample_count + 1`,
      [name, hash, minute, dimensions, value, value, value],
    );
  }
  await addToTotals(db, totalIncrements(points));
}

/**
 * A metric that Prometheus reads as a counter or histogram must never fall, or rate() and histogram_quantile()
 * take the fall for a restart. Points are purged past retention, so these totals are kept apart, in MySQL
 * (workers are separate processes; any API host may be scraped), and nothing but recordMetrics writes them.
 */
export interface CumulativeMetric {
  family: string;
  type: 'counter' | 'histogram';
  help: string;
  /** The point's dimensions kept as labels (a histogram by step alone, so its series stay few). */
  labels: string[];
  /** The point's value in the exposed unit. */
  exposed?: (value: number) => number;
  /** A histogram's bucket bounds. Changing one would start that bucket at 0 under an old count: add a family instead. */
  bucketsLe?: number[];
}

export const cumulativeMetrics: Record<string, CumulativeMetric> = {
  'step.duration': {
    family: 'ganymede_step_duration_seconds',
    type: 'histogram',
    help: 'How long finished worker steps took.',
    labels: ['step'],
    exposed: (ms) => ms / 1000,
    bucketsLe: [1, 5, 15, 60, 300, 900, 3600],
  },
  'step.rows': { family: 'ganymede_step_rows_total', type: 'counter', help: 'Rows handled by finished worker steps (send: files sent).', labels: ['step', 'geo'] },
  'step.bytes': { family: 'ganymede_step_bytes_total', type: 'counter', help: 'Bytes handled by finished worker steps.', labels: ['step', 'geo'] },
  'step.documents_written': { family: 'ganymede_step_documents_written_total', type: 'counter', help: 'Warehouse documents written by finished etl steps.', labels: ['step', 'geo'] },
};

type TotalIncrement = [name: string, labels: string, le: string, by: number];

function totalIncrements(points: MetricPoint[]): TotalIncrement[] {
  const increments = new Map<string, TotalIncrement>();
  const add = (name: string, labels: string, le: string, by: number) => {
    const key = JSON.stringify([name, labels, le]);
    const found = increments.get(key);
    if (found) found[3] += by;
    else increments.set(key, [name, labels, le, by]);
  };
  for (const point of points) {
    const metric = cumulativeMetrics[point.name];
    if (!metric) continue;
    const labels = canonicalDimensions(Object.fromEntries(metric.labels.flatMap((key) => (point.dimensions[key] === undefined ? [] : [[key, point.dimensions[key]]]))));
    const value = metric.exposed ? metric.exposed(point.value) : point.value;
    if (metric.type === 'counter') {
      add(metric.family, labels, '', value);
      continue;
    }
    add(`${metric.family}_count`, labels, '', 1);
    add(`${metric.family}_sum`, labels, '', value);
    // Buckets are stored cumulative, as exposed, so one read is a consistent histogram.
    for (const le of metric.bucketsLe ?? []) if (value <= le) add(`${metric.family}_bucket`, labels, String(le), 1);
  }
  // One order for every worker, so two adding to the same rows at once take their locks alike.
  return [...increments].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, increment]) => increment);
}

const deadlockErrno = 1213;

async function addToTotals(db: Db, increments: TotalIncrement[]): Promise<void> {
  if (increments.length === 0) return;
  // One statement, so a reader sees all of a step's increments or none (le="+Inf" is always _count).
  const inserted = await insertedRow(db);
  const sql = `INSERT INTO metric_totals (name, labels, le, value) VALUES ${increments.map(() => '(?, ?, ?, ?)').join(', ')}${inserted.alias}
    ON DUPLICATE KEY UPDATE value = value + ${inserted.value('value')}`;
  for (let attempt = 1; ; attempt++) {
    try {
      await db.query(sql, increments.flat());
      return;
    } catch (error) {
      // Inserting new rows can still deadlock on InnoDB's gap locks; the statement was rolled back whole.
      if ((error as { errno?: number }).errno !== deadlockErrno || attempt === 3) throw error;
    }
  }
}

export interface MetricTotal {
  name: string;
  labels: Record<string, string>;
  le: string;
  value: number;
}

/** Every cumulative total, read in one statement so a histogram's rows agree with each other. */
export async function readMetricTotals(db: Db): Promise<MetricTotal[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT name, labels, le, value FROM metric_totals ORDER BY name, labels, le');
  return rows.map((row) => ({ name: String(row.name), labels: JSON.parse(String(row.labels)) as Record<string, string>, le: String(row.le), value: Number(row.value) }));
}

/** The newest point of a metric, or null if it has none (for `check`: `tick.run` is the tick's own heartbeat). */
export async function lastMetricAt(db: Db, name: string): Promise<Date | null> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT MAX(at) AS last FROM metric_points WHERE name = ?', [name]);
  return (rows[0]?.last as Date | null) ?? null;
}

/** The newest point of a metric with its dimensions, or undefined (the console's health page: the last restore drill). */
export async function lastMetricPoint(db: Db, name: string): Promise<{ at: Date; dimensions: Record<string, string>; value: number } | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT at, dimensions, value FROM metric_points WHERE name = ? ORDER BY at DESC, id DESC LIMIT 1', [name]);
  const row = rows[0];
  return row ? { at: row.at as Date, dimensions: JSON.parse(String(row.dimensions)) as Record<string, string>, value: Number(row.value) } : undefined;
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

/** Nearest rank on sorted values; null when there are none. */
export function percentile(sorted: number[], p: number): number | null {
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

export interface RawMetricPoint {
  at: Date;
  dimensions: Record<string, string>;
  value: number;
}

/** The raw points of a metric from `since` on (the console's percentile charts), dimensions parsed once per series. */
export async function listMetricPoints(db: Db, name: string, since: Date): Promise<RawMetricPoint[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT at, dimensions_hash, dimensions, value FROM metric_points WHERE name = ? AND at >= ? ORDER BY at', [name, since]);
  const parsed = new Map<string, Record<string, string>>();
  return rows.map((row) => {
    const hash = String(row.dimensions_hash);
    let dimensions = parsed.get(hash);
    if (!dimensions) parsed.set(hash, (dimensions = JSON.parse(String(row.dimensions)) as Record<string, string>));
    return { at: row.at as Date, dimensions, value: Number(row.value) };
  });
}

export interface MetricSum {
  name: string;
  dimensions: Record<string, string>;
  /** The start of the period. */
  at: Date;
  sum: number;
}

/** Sums of the per-minute aggregates per period and series, from `since` on: rows and bytes per GEO per hour. */
export async function sumMetricsByPeriod(db: Db, names: string[], since: Date, periodMinutes: number): Promise<MetricSum[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    // Periods counted from the epoch in the column's own terms (UTC), whatever the session's time zone.
    `SELECT name, dimensions, TIMESTAMPDIFF(MINUTE, '1970-01-01 00:00:00', minute) DIV ? AS period, SUM(sum_value) AS total
     FROM metric_minutes WHERE name IN (?) AND minute >= ? GROUP BY name, dimensions_hash, dimensions, period ORDER BY period`,
    [periodMinutes, names, since],
  );
  const parsed = new Map<string, Record<string, string>>();
  return rows.map((row) => {
    const text = String(row.dimensions);
    let dimensions = parsed.get(text);
    if (!dimensions) parsed.set(text, (dimensions = JSON.parse(text) as Record<string, string>));
    return { name: String(row.name), dimensions, at: new Date(Number(row.period) * periodMinutes * 60_000), sum: Number(row.total) };
  });
}
