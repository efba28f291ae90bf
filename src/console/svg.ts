// Charts drawn on the server as SVG: no chart library, no script, no inline style (lines and text carry
// classes the stylesheet colours, light or dark). Each chart says what it shows in a <title> and <desc> and
// labels its axes, so it reads with a screen reader and prints as it shows.
import { formatUtc } from './format.js';
import { html, joinHtml, type Html } from './html.js';

export interface Series {
  name: string;
  /** A class of the stylesheet: p50 (solid) or p95 (dashed). */
  cls: string;
  points: Array<{ at: Date; value: number }>;
}

export interface LineChartOptions {
  id: string;
  title: string;
  from: Date;
  to: Date;
  series: Series[];
  yLabel: string;
  formatY: (value: number) => string;
}

const width = 400;
const height = 150;
const margin = { left: 56, right: 8, top: 8, bottom: 34 };

const fixed = (value: number) => value.toFixed(1);

/** A time series chart with a zero-based y axis; empty series draw nothing but the axes and say so. */
export function lineChart(options: LineChartOptions): Html {
  const values = options.series.flatMap((series) => series.points.map((point) => point.value));
  const maxY = values.length ? Math.max(...values) : 0;
  const top = maxY > 0 ? maxY * 1.1 : 1;
  const span = Math.max(1, options.to.getTime() - options.from.getTime());
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  // A period's point sits at its middle, which for the period now under way may lie ahead of `to`: kept on the plot.
  const x = (at: Date) => margin.left + (Math.min(Math.max(at.getTime() - options.from.getTime(), 0), span) / span) * plotWidth;
  const y = (value: number) => margin.top + plotHeight - (value / top) * plotHeight;
  const ticks = (values.length ? [0, 0.5, 1] : [0]).map((share) => html`<line class="grid-line" x1="${margin.left}" x2="${width - margin.right}" y1="${fixed(y(top * share))}" y2="${fixed(y(top * share))}"></line><text x="${margin.left - 4}" y="${fixed(y(top * share) + 3)}" text-anchor="end">${options.formatY(top * share)}</text>`);
  const lines = options.series
    .filter((series) => series.points.length > 0)
    .map((series) =>
      series.points.length === 1
        ? html`<circle class="${series.cls}" cx="${fixed(x(series.points[0]!.at))}" cy="${fixed(y(series.points[0]!.value))}" r="2"><title>${series.name}</title></circle>`
        : html`<polyline class="${series.cls}" points="${series.points.map((point) => `${fixed(x(point.at))},${fixed(y(point.value))}`).join(' ')}"><title>${series.name}</title></polyline>`,
    );
  const xLabel = (at: Date, anchor: string) => html`<text x="${fixed(x(at))}" y="${height - margin.bottom + 13}" text-anchor="${anchor}">${formatUtc(at).slice(5, 16)}</text>`;
  const summary = options.series
    .map((series) => (series.points.length ? `${series.name}: ${series.points.length} points, highest ${options.formatY(Math.max(...series.points.map((point) => point.value)))}, last ${options.formatY(series.points.at(-1)!.value)}` : `${series.name}: no data`))
    .join('; ');
  return html`<svg class="chart" role="img" aria-labelledby="${options.id}-t ${options.id}-d" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><title id="${options.id}-t">${options.title}</title><desc id="${options.id}-d">${summary}; from ${formatUtc(options.from)} to ${formatUtc(options.to)} UTC</desc>
${ticks}<line class="axis" x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${height - margin.bottom}"></line><line class="axis" x1="${margin.left}" y1="${height - margin.bottom}" x2="${width - margin.right}" y2="${height - margin.bottom}"></line>
${joinHtml(lines)}${values.length ? '' : html`<text x="${margin.left + plotWidth / 2}" y="${margin.top + plotHeight / 2}" text-anchor="middle">no data in this window</text>`}
${xLabel(options.from, 'start')}${xLabel(options.to, 'end')}<text x="${margin.left + plotWidth / 2}" y="${height - 4}" text-anchor="middle">time (UTC)</text><text x="12" y="${margin.top + plotHeight / 2}" text-anchor="middle" transform="rotate(-90 12 ${margin.top + plotHeight / 2})">${options.yLabel}</text></svg>`;
}

/** A one-line trend for a table row: values per period, gaps where there is none. */
export function sparkline(values: Array<number | null>, label: string, slow = false): Html {
  const sparkWidth = 168;
  const sparkHeight = 22;
  const present = values.filter((value): value is number => value !== null);
  const top = present.length ? Math.max(...present) || 1 : 1;
  const step = values.length > 1 ? sparkWidth / (values.length - 1) : 0;
  const runs: string[][] = [[]];
  values.forEach((value, index) => {
    if (value === null) runs.push([]);
    else runs.at(-1)!.push(`${fixed(index * step)},${fixed(sparkHeight - 1 - (value / top) * (sparkHeight - 2))}`);
  });
  // A run of one value (an hour with its neighbours empty) is a dot.
  const lines = runs
    .filter((run) => run.length > 0)
    .map((run) => {
      if (run.length > 1) return html`<polyline${slow ? html` class="slow"` : ''} points="${run.join(' ')}"></polyline>`;
      const [cx, cy] = run[0]!.split(',');
      return html`<circle${slow ? html` class="slow"` : ''} cx="${cx}" cy="${cy}" r="1.5"></circle>`;
    });
  return html`<svg class="spark" role="img" aria-label="${label}" viewBox="0 0 ${sparkWidth} ${sparkHeight}" width="${sparkWidth}" height="${sparkHeight}"><title>${label}</title>${lines}</svg>`;
}
