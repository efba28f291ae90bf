// GET /console/charts: what the recorded metric points say, drawn on the server — step duration p50 and p95
// per step over 24 hours and 7 days (step.duration), rows and bytes loaded per GEO per hour (step.rows and
// step.bytes of the load step), and each agent's extraction time (from its events: the agent records no
// metric points), with the GEOs that got slower first.
import { txnStepOrder } from '../../state/steps.js';
import { listAgentExtractions, type AgentExtraction } from '../../state/events.js';
import { listMetricPoints, percentile, sumMetricsByPeriod, type MetricSum, type RawMetricPoint } from '../../state/metrics.js';
import type { SessionRequest } from '../context.js';
import { formatBytes, formatCount, formatDuration } from '../format.js';
import { html, type Html } from '../html.js';
import { layout } from '../layout.js';
import { page, type ConsoleReply } from '../reply.js';
import { lineChart, sparkline, type Series } from '../svg.js';
import { hourMs } from '../../cycle.js';

const steps = [...txnStepOrder, 'feed', 'send'] as const;
/** A GEO whose last day's median extraction is this much above its week's is flagged slower. */
const slowerRatio = 1.5;

function percentileSeries(points: RawMetricPoint[], from: Date, periodMs: number): Series[] {
  const buckets = new Map<number, number[]>();
  for (const point of points) {
    if (point.at < from) continue;
    const start = Math.floor(point.at.getTime() / periodMs) * periodMs;
    (buckets.get(start) ?? buckets.set(start, []).get(start)!).push(point.value);
  }
  const sorted = [...buckets.entries()].sort(([a], [b]) => a - b).map(([start, values]) => ({ at: new Date(start + periodMs / 2), values: values.sort((a, b) => a - b) }));
  return [
    { name: 'p50', cls: 'p50', points: sorted.map(({ at, values }) => ({ at, value: percentile(values, 50)! })) },
    { name: 'p95', cls: 'p95', points: sorted.map(({ at, values }) => ({ at, value: percentile(values, 95)! })) },
  ];
}

function durationCharts(points: RawMetricPoint[], now: Date): Html {
  const windows = [
    { label: '24 h', from: new Date(now.getTime() - 24 * hourMs), periodMs: hourMs, per: 'per hour' },
    { label: '7 d', from: new Date(now.getTime() - 7 * 24 * hourMs), periodMs: 6 * hourMs, per: 'per 6 hours' },
  ];
  const figures = steps.flatMap((step) => {
    const own = points.filter((point) => point.dimensions.step === step);
    return windows.map((window) => {
      const title = `${step}: duration p50 and p95 ${window.per}, last ${window.label}`;
      const chart = lineChart({ id: `d-${step}-${window.label.replace(' ', '')}`, title, from: window.from, to: now, series: percentileSeries(own, window.from, window.periodMs), yLabel: 'duration', formatY: formatDuration });
      return html`<figure><figcaption>${step}, last ${window.label}</figcaption>${chart}</figure>`;
    });
  });
  return html`<p class="key">Each point is a period's <span class="p50">p50</span> (solid) and <span class="p95">p95</span> (dashed) of the steps that finished in it (step.duration).</p><div class="charts">${figures}</div>`;
}

const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);

function extractionTable(extractions: AgentExtraction[], now: Date): Html {
  if (extractions.length === 0) return html`<p class="muted">No agent has reported an extraction in the last 7 days (its <code>opened</code> and <code>extracted</code> events).</p>`;
  const from = now.getTime() - 7 * 24 * hourMs;
  const dayAgo = now.getTime() - 24 * hourMs;
  const byGeo = new Map<string, AgentExtraction[]>();
  for (const extraction of extractions) (byGeo.get(extraction.geo) ?? byGeo.set(extraction.geo, []).get(extraction.geo)!).push(extraction);
  const rows = [...byGeo].map(([geo, own]) => {
    const recent = median(own.filter((item) => item.cycleStart.getTime() >= dayAgo).map((item) => item.ms));
    const before = median(own.filter((item) => item.cycleStart.getTime() < dayAgo).map((item) => item.ms));
    const ratio = recent !== null && before ? recent / before : null;
    const hourly: Array<number | null> = Array.from({ length: 7 * 24 }, () => null);
    for (const item of own) {
      const index = Math.floor((item.cycleStart.getTime() - from) / hourMs);
      if (index >= 0 && index < hourly.length) hourly[index] = Math.max(hourly[index] ?? 0, item.ms);
    }
    return { geo, recent, before, ratio, hourly, slow: ratio !== null && ratio >= slowerRatio };
  });
  rows.sort((a, b) => (b.ratio ?? 0) - (a.ratio ?? 0) || a.geo.localeCompare(b.geo));
  const body = rows.map(
    (row) => html`<tr${row.slow ? html` class="slow"` : ''}><th scope="row">${row.geo}</th><td class="num">${formatDuration(row.recent)}</td><td class="num">${formatDuration(row.before)}</td><td class="num">${row.ratio === null ? '—' : `×${row.ratio.toFixed(2)}`}${row.slow ? ' slower' : ''}</td><td>${sparkline(row.hourly, `${row.geo}: extraction time per hour over 7 days, up to ${formatDuration(Math.max(0, ...row.hourly.map((value) => value ?? 0)))}`, row.slow)}</td></tr>`,
  );
  return html`<table class="data"><thead><tr><th scope="col">GEO</th><th scope="col" class="num">Median, last 24 h</th><th scope="col" class="num">Median, 6 days before</th><th scope="col" class="num">Change</th><th scope="col">Per hour, 7 days</th></tr></thead><tbody>${body}</tbody></table>`;
}

function volumeTable(sums: MetricSum[], now: Date): Html {
  const hours = 48;
  const from = Math.floor(now.getTime() / hourMs) * hourMs - (hours - 1) * hourMs;
  const byGeo = new Map<string, { rows: Array<number | null>; bytes: Array<number | null> }>();
  for (const sum of sums) {
    const geo = sum.dimensions.geo;
    if (sum.dimensions.step !== 'load' || !geo) continue;
    const index = Math.floor((sum.at.getTime() - from) / hourMs);
    if (index < 0 || index >= hours) continue;
    const entry = byGeo.get(geo) ?? byGeo.set(geo, { rows: Array<number | null>(hours).fill(null), bytes: Array<number | null>(hours).fill(null) }).get(geo)!;
    entry[sum.name === 'step.rows' ? 'rows' : 'bytes'][index] = sum.sum;
  }
  if (byGeo.size === 0) return html`<p class="muted">No load step has finished in the last 48 hours.</p>`;
  const last = (values: Array<number | null>) => values.filter((value): value is number => value !== null).at(-1) ?? null;
  const rows = [...byGeo].sort(([a], [b]) => a.localeCompare(b)).map(
    ([geo, entry]) => html`<tr><th scope="row">${geo}</th><td class="num">${formatCount(last(entry.rows))}</td><td>${sparkline(entry.rows, `${geo}: rows loaded per hour over 48 hours`)}</td><td class="num">${formatBytes(last(entry.bytes))}</td><td>${sparkline(entry.bytes, `${geo}: bytes loaded per hour over 48 hours`)}</td></tr>`,
  );
  return html`<table class="data"><thead><tr><th scope="col">GEO</th><th scope="col" class="num">Rows, latest hour</th><th scope="col">Rows per hour, 48 h</th><th scope="col" class="num">Bytes, latest hour</th><th scope="col">Bytes per hour, 48 h</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export async function showCharts(request: SessionRequest): Promise<ConsoleReply> {
  const { db } = request.server;
  const now = new Date();
  const weekAgo = new Date(now.getTime() - 7 * 24 * hourMs);
  const [durations, extractions, volumes] = await Promise.all([
    listMetricPoints(db, 'step.duration', weekAgo),
    listAgentExtractions(db, weekAgo),
    sumMetricsByPeriod(db, ['step.rows', 'step.bytes'], new Date(now.getTime() - 48 * hourMs), 60),
  ]);
  const body = html`<h1>Charts</h1><p class="muted">From the metric points the steps record (<code>ganymede metrics</code>) and the agents' events; times UTC.</p>
<h2>Agent extraction time per GEO</h2><p class="muted">From each agent's <code>opened</code> to its <code>extracted</code> event: snapshot, compression and encryption. GEOs that got slower come first.</p>${extractionTable(extractions, now)}
<h2>Step durations</h2>${durationCharts(durations, now)}
<h2>Rows and bytes loaded per GEO per hour</h2>${volumeTable(volumes, now)}`;
  return page(layout({ title: 'Charts', signedIn: request.signedIn, section: 'charts', body }));
}
