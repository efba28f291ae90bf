// GET /metrics in the Prometheus text format (0.0.4): transactions by state, last success per GEO and step,
// running workers, archive age and central hosts as gauges; the steps' durations, rows and bytes as counters
// and a histogram that only grow (cumulative totals in MySQL, the same on every API host); and this API
// host's own request counts and latency since it started. Written here, not with prom-client: its Counter
// and Histogram hold values in the process (no set), so the MySQL totals would need objects of our own cast
// past its types anyway, and an unlabelled gauge cannot be absent once reset (archive age would read 0).
import { lastArchivedAt } from '../state/archive.js';
import type { Db } from '../state/db.js';
import { countHosts, defaultHostDeadAfterMs } from '../state/hosts.js';
import { cumulativeMetrics, readMetricTotals, type MetricTotal } from '../state/metrics.js';
import { countRunningStepsByName, listLastStepSuccesses } from '../state/steps.js';
import { countTransactionsByState } from '../state/transactions.js';

type Labels = Record<string, string>;

interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  samples: Array<{ name: string; labels?: Labels; value: number }>;
}

const escapeHelp = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (value: string) => escapeHelp(value).replace(/"/g, '\\"');
const formatValue = (value: number) => (Number.isNaN(value) ? 'NaN' : value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : String(value));

function formatFamily(family: Family): string {
  const lines = [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`];
  for (const sample of family.samples) {
    const labels = Object.entries(sample.labels ?? {}).map(([key, value]) => `${key}="${escapeLabel(value)}"`);
    lines.push(`${sample.name}${labels.length > 0 ? `{${labels.join(',')}}` : ''} ${formatValue(sample.value)}`);
  }
  return lines.join('\n');
}

/** One label set of a histogram: `buckets` holds cumulative counts by upper bound; +Inf is the count. */
function histogramSamples(name: string, labels: Labels, buckets: Array<[le: number, count: number]>, sum: number, count: number): Family['samples'] {
  return [
    ...buckets.map(([le, n]) => ({ name: `${name}_bucket`, labels: { ...labels, le: String(le) }, value: n })),
    { name: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: count },
    { name: `${name}_sum`, labels, value: sum },
    { name: `${name}_count`, labels, value: count },
  ];
}

/** The API's own counters, kept in memory since the process started (a restart is a reset Prometheus knows). */
export class RequestStats {
  private readonly counts = new Map<string, number>();
  private readonly latency = { sum: 0, count: 0, buckets: [0.005, 0.025, 0.1, 0.5, 2].map((le) => ({ le, n: 0 })) };

  record(method: string, status: number, seconds: number): void {
    const key = `${method}|${status}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.latency.sum += seconds;
    this.latency.count++;
    for (const bucket of this.latency.buckets) if (seconds <= bucket.le) bucket.n++;
  }

  families(): Family[] {
    const requests = [...this.counts].sort().map(([key, n]) => {
      const [method = '', status = ''] = key.split('|');
      return { name: 'ganymede_api_requests_total', labels: { method, status }, value: n };
    });
    const { sum, count, buckets } = this.latency;
    return [
      { name: 'ganymede_api_requests_total', type: 'counter', help: 'API requests by method and status.', samples: requests },
      {
        name: 'ganymede_api_request_duration_seconds',
        type: 'histogram',
        help: 'API request latency.',
        samples: histogramSamples('ganymede_api_request_duration_seconds', {}, buckets.map((bucket) => [bucket.le, bucket.n]), sum, count),
      },
    ];
  }
}

/** The MySQL totals as families, every bucket of every label set shown (a bucket no step fell in is 0). */
function cumulativeFamilies(totals: MetricTotal[]): Family[] {
  const byName = new Map<string, MetricTotal[]>();
  for (const total of totals) byName.set(total.name, [...(byName.get(total.name) ?? []), total]);
  const key = (labels: Labels) => JSON.stringify(labels);
  return Object.values(cumulativeMetrics).map((metric): Family => {
    if (metric.type === 'counter') {
      return { name: metric.family, type: 'counter', help: metric.help, samples: (byName.get(metric.family) ?? []).map(({ name, labels, value }) => ({ name, labels, value })) };
    }
    const sums = new Map((byName.get(`${metric.family}_sum`) ?? []).map((total) => [key(total.labels), total.value]));
    const buckets = new Map((byName.get(`${metric.family}_bucket`) ?? []).map((total) => [`${key(total.labels)} ${total.le}`, total.value]));
    const samples = (byName.get(`${metric.family}_count`) ?? []).flatMap(({ labels, value: count }) =>
      histogramSamples(
        metric.family,
        labels,
        (metric.bucketsLe ?? []).map((le) => [le, buckets.get(`${key(labels)} ${le}`) ?? 0]),
        sums.get(key(labels)) ?? 0,
        count,
      ),
    );
    return { name: metric.family, type: 'histogram', help: metric.help, samples };
  });
}

export async function renderMetrics(db: Db, stats: RequestStats, hostDeadAfterMs = defaultHostDeadAfterMs): Promise<string> {
  const families: Family[] = [];
  families.push({
    name: 'ganymede_transactions',
    type: 'gauge',
    help: 'Transactions by state.',
    samples: (await countTransactionsByState(db)).map(({ state, count }) => ({ name: 'ganymede_transactions', labels: { state }, value: count })),
  });
  const lastSuccess = await listLastStepSuccesses(db);
  families.push({
    name: 'ganymede_last_success_timestamp_seconds',
    type: 'gauge',
    help: 'When each GEO last finished each step.',
    samples: lastSuccess.map(({ geo, step, finishedAtSeconds }) => ({ name: 'ganymede_last_success_timestamp_seconds', labels: { geo, step }, value: finishedAtSeconds })),
  });
  const running = await countRunningStepsByName(db);
  families.push({
    name: 'ganymede_workers_running',
    type: 'gauge',
    help: 'Worker steps running now.',
    samples: (['decrypt', 'load', 'etl', 'clean', 'feed', 'send'] as const).map((step) => ({
      name: 'ganymede_workers_running',
      labels: { step },
      value: running.get(step) ?? 0,
    })),
  });
  families.push(...cumulativeFamilies(await readMetricTotals(db)));
  const archivedAt = await lastArchivedAt(db);
  families.push({
    name: 'ganymede_archive_age_seconds',
    type: 'gauge',
    help: 'Seconds since the last object was archived (absent: never).',
    samples: archivedAt ? [{ name: 'ganymede_archive_age_seconds', value: Math.max(0, Math.round(Date.now() / 1000 - archivedAt.getTime() / 1000)) }] : [],
  });
  const hosts = await countHosts(db, hostDeadAfterMs);
  families.push(
    { name: 'ganymede_hosts_alive', type: 'gauge', help: 'Central hosts with a heartbeat within centre.host_dead_after_ms.', samples: [{ name: 'ganymede_hosts_alive', value: hosts.alive }] },
    { name: 'ganymede_hosts_dead', type: 'gauge', help: 'Central hosts without one (until `ganymede hosts forget`).', samples: [{ name: 'ganymede_hosts_dead', value: hosts.dead }] },
  );
  families.push(...stats.families());
  return `${families.map(formatFamily).join('\n')}\n`;
}
