// /metrics' counters and histograms only grow, whatever `ganymede purge` removes, and every API host shows the
// same totals: Prometheus' rate() and histogram_quantile() take any fall for a restart.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApi } from '../support/ganymede.js';
import { openStateDb } from '../../src/state/db.js';
import { recordMetrics, type MetricPoint } from '../../src/state/metrics.js';
import { renderMetrics, RequestStats } from '../../src/api/prometheus.js';
import { runPurge } from '../../src/commands/purge.js';
import { runWorkerStep } from '../../src/worker/runtime.js';
import { deliveredTransactions } from '../support/steps.js';
import { cumulativeSamples, parseExposition, seriesKey, type ParsedFamily } from './prometheus-parser.js';

const api = await startTestApi({ 'retention.metrics_days': 7 });
const db = await openStateDb(api.loaded);
after(async () => {
  await db.end();
  await api.stop();
});

const scrape = async () => {
  const response = await fetch(`${api.url}/metrics`);
  assert.equal(response.status, 200);
  return parseExposition(await response.text());
};
const sample = (families: ParsedFamily[], name: string, labels: Record<string, string>) =>
  families.flatMap((family) => family.samples).find((found) => seriesKey(found) === seriesKey({ name, labels, value: 0 }))?.value;
const finished = (step: string, geo: string | undefined, ms: number, rows: number): MetricPoint[] => {
  const dimensions = { step, ...(geo ? { geo } : {}) };
  return [
    { name: 'step.duration', dimensions, value: ms, unit: 'ms' },
    { name: 'step.rows', dimensions, value: rows },
    { name: 'step.bytes', dimensions, value: rows * 100, unit: 'bytes' },
  ];
};

test('after a purge past retention and more steps, every counter and histogram sample only grew', async () => {
  await recordMetrics(db, [...finished('load', 'emea', 3_000, 10), ...finished('load', 'apac', 120_000, 20), ...finished('send', undefined, 500, 2)]);
  const before = await scrape();
  assert.equal(sample(before, 'ganymede_step_duration_seconds_count', { step: 'load' }), 2);
  assert.equal(sample(before, 'ganymede_step_duration_seconds_bucket', { step: 'load', le: '5' }), 1);

  // Eight days on: the points are past retention.metrics_days and `ganymede purge` deletes them.
  await db.query('UPDATE metric_points SET at = at - INTERVAL 8 DAY');
  await db.query('UPDATE metric_minutes SET minute = minute - INTERVAL 8 DAY');
  const purged = await runPurge({ loaded: api.loaded });
  assert.equal(purged.deleted.find((item) => item.what === 'metric points')?.rows, 9);
  await recordMetrics(db, [...finished('load', 'emea', 10_000, 5), ...finished('etl', 'emea', 70_000, 5)]);
  const afterPurge = await scrape();

  const grown = cumulativeSamples(afterPurge);
  for (const [series, value] of cumulativeSamples(before)) {
    assert.ok(grown.has(series), `${series} is still exposed`);
    assert.ok(grown.get(series)! >= value, `${series} went from ${value} to ${grown.get(series)}`);
  }
  assert.equal(sample(afterPurge, 'ganymede_step_duration_seconds_count', { step: 'load' }), 3);
  assert.equal(sample(afterPurge, 'ganymede_step_duration_seconds_bucket', { step: 'load', le: '15' }), 2);
  assert.equal(sample(afterPurge, 'ganymede_step_duration_seconds_bucket', { step: 'load', le: '+Inf' }), 3);
  assert.equal(sample(afterPurge, 'ganymede_step_duration_seconds_sum', { step: 'load' }), 133);
  assert.equal(sample(afterPurge, 'ganymede_step_duration_seconds_count', { step: 'etl' }), 1);
  assert.equal(sample(afterPurge, 'ganymede_step_duration_seconds_bucket', { step: 'etl', le: '60' }), 0);
  assert.equal(sample(before, 'ganymede_step_rows_total', { geo: 'emea', step: 'load' }), 10);
  assert.equal(sample(afterPurge, 'ganymede_step_rows_total', { geo: 'emea', step: 'load' }), 15);
  assert.equal(sample(afterPurge, 'ganymede_step_bytes_total', { step: 'send' }), 200);

  // Another API host, with none of this one's memory, shows the same totals.
  const otherHost = cumulativeSamples(parseExposition(await renderMetrics(db, new RequestStats())));
  for (const [series, value] of grown) if (!series.startsWith('ganymede_api_')) assert.equal(otherHost.get(series), value, series);
});

test('steps finishing at once on many workers are each counted once', async () => {
  const workers = 40;
  await Promise.all(Array.from({ length: workers }, (_, i) => recordMetrics(db, finished('clean', `geo${i % 4}`, 2_000, 1))));
  const families = await scrape();
  assert.equal(sample(families, 'ganymede_step_duration_seconds_count', { step: 'clean' }), workers);
  assert.equal(sample(families, 'ganymede_step_duration_seconds_bucket', { step: 'clean', le: '1' }), 0);
  assert.equal(sample(families, 'ganymede_step_duration_seconds_bucket', { step: 'clean', le: '5' }), workers);
  for (let i = 0; i < 4; i++) assert.equal(sample(families, 'ganymede_step_rows_total', { geo: `geo${i}`, step: 'clean' }), workers / 4);
});

test("a worker's finished step adds its duration, rows and bytes to the totals", async () => {
  const [txnId] = await deliveredTransactions(db, 1, 1);
  await runWorkerStep({ loaded: api.loaded, step: 'decrypt', txnId: txnId! }, async () => ({ rows: 12, bytes: 3_400 }));
  const families = await scrape();
  assert.equal(sample(families, 'ganymede_step_duration_seconds_count', { step: 'decrypt' }), 1);
  assert.equal(sample(families, 'ganymede_step_rows_total', { geo: 'geo0', step: 'decrypt' }), 12);
  assert.equal(sample(families, 'ganymede_step_bytes_total', { geo: 'geo0', step: 'decrypt' }), 3_400);
});
