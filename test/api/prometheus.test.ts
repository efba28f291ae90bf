// GET /metrics as Prometheus reads it: a parser for the text exposition format checks every line.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApi } from '../support/ganymede.js';
import { openStateDb } from '../../src/state/db.js';
import { recordMetrics } from '../../src/state/metrics.js';
import { deliveredTransactions } from '../support/steps.js';

const api = await startTestApi();
const db = await openStateDb(api.loaded);
after(async () => {
  await db.end();
  await api.stop();
});

/** The text format: `# HELP`/`# TYPE` comments, then `name{labels} value` samples. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+]+|\+Inf|NaN)$/.exec(line);
    assert.ok(match, `not a valid exposition line: ${JSON.stringify(line)}`);
    samples.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return samples;
}

test('GET /metrics is the Prometheus text format with transactions, workers, step durations and API requests', async () => {
  await deliveredTransactions(db, 2, 1);
  await recordMetrics(db, [
    { name: 'step.duration', dimensions: { geo: 'geo0', step: 'load' }, value: 3_000, unit: 'ms' },
    { name: 'step.duration', dimensions: { geo: 'geo1', step: 'load' }, value: 120_000, unit: 'ms' },
  ]);
  await fetch(`${api.url}/v1/health`);
  const response = await fetch(`${api.url}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const samples = parseExposition(await response.text());
  assert.equal(samples.get('ganymede_transactions{state="delivered"}'), 2);
  assert.equal(samples.get('ganymede_workers_running{step="load"}'), 0);
  assert.equal(samples.get('ganymede_step_duration_seconds_bucket{step="load",le="5"}'), 1);
  assert.equal(samples.get('ganymede_step_duration_seconds_bucket{step="load",le="300"}'), 2);
  assert.equal(samples.get('ganymede_step_duration_seconds_count{step="load"}'), 2);
  assert.equal(samples.get('ganymede_step_duration_seconds_sum{step="load"}'), 123);
  assert.ok((samples.get('ganymede_api_requests_total{method="GET",status="200"}') ?? 0) >= 1);
  assert.ok(samples.has('ganymede_api_request_duration_seconds_bucket{le="+Inf"}'));
});
