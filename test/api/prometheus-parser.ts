// Reads a /metrics exposition with the Prometheus project's own parser (prometheus_client.parser, from
// Debian's python3-prometheus-client), not one of ours, then checks what it cannot: every sample under a
// declared type, no series twice, and histograms whose buckets are cumulative and end at _count.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  type: string;
  samples: ParsedSample[];
}

// Debian's python3-prometheus-client imports only into Debian's own Python, not a pyenv one.
const systemPython = '/usr/bin/python3';
const parserScript = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = text_string_to_metric_families(sys.stdin.read())
print(json.dumps([{'name': f.name, 'type': f.type, 'samples': [{'name': s.name, 'labels': s.labels, 'value': s.value} for s in f.samples]} for f in families], allow_nan=False))
`;

export function parseExposition(text: string): ParsedFamily[] {
  const run = spawnSync(systemPython, ['-c', parserScript], { input: text, encoding: 'utf8' });
  if (run.error) throw new Error(`${systemPython}: ${run.error.message} (apt-get install python3-prometheus-client)`);
  assert.equal(run.status, 0, `the Prometheus parser refused the exposition: ${run.stderr.trim().split('\n').at(-1)}`);
  const families = JSON.parse(run.stdout) as ParsedFamily[];
  assertWellFormed(families);
  return families;
}

export const seriesKey = (sample: ParsedSample) =>
  `${sample.name}{${Object.entries(sample.labels)
    .sort()
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
    .join(',')}}`;

function assertWellFormed(families: ParsedFamily[]): void {
  const seen = new Set<string>();
  for (const family of families) {
    assert.notEqual(family.type, 'unknown', `${family.name}: samples without a # TYPE of their own`);
    for (const sample of family.samples) {
      assert.ok(!seen.has(seriesKey(sample)), `${seriesKey(sample)} appears twice`);
      seen.add(seriesKey(sample));
    }
    if (family.type !== 'histogram') continue;
    const bySet = new Map<string, ParsedSample[]>();
    for (const sample of family.samples) {
      const { le: _le, ...labels } = sample.labels;
      const key = JSON.stringify(Object.entries(labels).sort());
      bySet.set(key, [...(bySet.get(key) ?? []), sample]);
    }
    for (const [labels, samples] of bySet) {
      const buckets = samples.filter((sample) => sample.name === `${family.name}_bucket`);
      const bounds = buckets.map((bucket) => (bucket.labels.le === '+Inf' ? Infinity : Number(bucket.labels.le)));
      assert.deepEqual(bounds, [...bounds].sort((a, b) => a - b), `${family.name} ${labels}: buckets in order of le`);
      assert.equal(bounds.at(-1), Infinity, `${family.name} ${labels}: ends with le="+Inf"`);
      buckets.forEach((bucket, i) => assert.ok(i === 0 || bucket.value >= buckets[i - 1]!.value, `${family.name} ${labels}: buckets are cumulative`));
      const count = samples.find((sample) => sample.name === `${family.name}_count`);
      assert.ok(count && samples.some((sample) => sample.name === `${family.name}_sum`), `${family.name} ${labels}: has _sum and _count`);
      assert.equal(buckets.at(-1)!.value, count.value, `${family.name} ${labels}: le="+Inf" equals _count`);
    }
  }
}

/** Every counter and histogram sample, by series (gauges may go either way). */
export function cumulativeSamples(families: ParsedFamily[]): Map<string, number> {
  return new Map(families.filter((family) => family.type === 'counter' || family.type === 'histogram').flatMap((family) => family.samples.map((sample) => [seriesKey(sample), sample.value] as const)));
}
