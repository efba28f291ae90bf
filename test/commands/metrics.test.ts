// metrics list and stats against hand-computed values.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { testCentre } from '../support/ganymede.js';
import { openStateDb } from '../../src/state/db.js';
import { recordMetrics } from '../../src/state/metrics.js';
import { runMetricsList, runMetricsStats } from '../../src/commands/metrics/index.js';
import { GanymedeError } from '../../src/errors.js';

const centre = await testCentre('metrics', { 'logging.level': 'error' });
const db = await openStateDb(centre.loaded);
after(async () => {
  await db.end();
  await centre.dispose();
});

const hour = Date.UTC(2026, 10, 24, 10);
const at = (minutes: number) => new Date(hour + minutes * 60_000);

test('stats per period: sum, min, max, avg, count from the minute aggregates, p95 from the points; a subset of dimensions matches', async () => {
  // Hour 10: load durations 10..100 (step 10) for emea and 1000 for apac; hour 11: 5 and 7 for emea.
  await recordMetrics(db, [
    ...Array.from({ length: 10 }, (_, i) => ({ name: 'step.duration', dimensions: { geo: 'emea', step: 'load' }, value: (i + 1) * 10, at: at(i * 5) })),
    { name: 'step.duration', dimensions: { geo: 'apac', step: 'load' }, value: 1000, at: at(30) },
    { name: 'step.duration', dimensions: { geo: 'emea', step: 'load' }, value: 5, at: at(61) },
    { name: 'step.duration', dimensions: { geo: 'emea', step: 'load' }, value: 7, at: at(61) },
    { name: 'step.duration', dimensions: { geo: 'emea', step: 'etl' }, value: 99_999, at: at(1) },
  ]);
  const now = at(120);
  const emea = await runMetricsStats({ loaded: centre.loaded, name: 'step.duration', dim: ['step=load', 'geo=emea'], period: '1h', stat: 'sum,min,max,avg,count,p95,p50', since: '3h', now });
  assert.deepEqual(
    emea.rows.map((row) => [row.periodStart.toISOString(), row.values]),
    [
      ['2026-11-24T10:00:00.000Z', { sum: 550, min: 10, max: 100, avg: 55, count: 10, p95: 100, p50: 50 }],
      ['2026-11-24T11:00:00.000Z', { sum: 12, min: 5, max: 7, avg: 6, count: 2, p95: 7, p50: 5 }],
    ],
  );
  const allLoads = await runMetricsStats({ loaded: centre.loaded, name: 'step.duration', dim: ['step=load'], period: '1h', stat: 'count,max', since: '3h', now });
  assert.deepEqual(allLoads.rows[0]!.values, { count: 11, max: 1000 }, 'step=load alone matches both GEOs');

  const series = await runMetricsList({ loaded: centre.loaded, dim: ['geo=emea'] });
  assert.deepEqual(series.map((item) => `${item.name} ${item.dimensions.step}`).sort(), ['step.duration etl', 'step.duration load']);
  await assert.rejects(runMetricsStats({ loaded: centre.loaded, name: 'step.duration', period: 'hourly', stat: 'avg', since: '1h' }), (error: unknown) => error instanceof GanymedeError && /not a duration/.test(error.message));
  await assert.rejects(runMetricsStats({ loaded: centre.loaded, name: 'step.duration', period: '1h', stat: 'median', since: '1h' }), /not a statistic/);
});
