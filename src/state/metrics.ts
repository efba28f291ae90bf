// Metric data points (the CloudWatch model): a name, dimensions, a time and a value. Dimensions are
// stored canonically (sorted keys) with a hash, so the same set always finds the same series.
import { createHash } from 'node:crypto';
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
}
