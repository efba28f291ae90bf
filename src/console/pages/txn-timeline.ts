// A transaction's life as a timeline, drawn on the server in SVG (no script, no inline style: the bars are
// rectangles with x and width, coloured by class from the stylesheet): the agent's part from opening to
// delivery, then each attempt of each step on its own row, from its start to its end (or now).
import type { Transaction } from '../../state/transactions.js';
import type { StepHistory } from '../../state/step-history.js';
import { formatCycle } from '../../cycle.js';
import { formatDuration, formatUtc } from '../format.js';
import { html, type Html } from '../html.js';

interface Bar {
  label: string;
  start: Date;
  end: Date;
  cls: 'bar-ok' | 'bar-failed' | 'bar-running' | 'bar-other';
  title: string;
}

const width = 880;
const labelWidth = 120;
const rowHeight = 18;
const top = 6;

function barsOf(txn: Transaction, steps: StepHistory[], now: Date): Bar[] {
  const bars: Bar[] = [];
  const agentEnd = txn.deliveredAt ?? (txn.state === 'open' ? now : txn.updatedAt);
  const agentCls = txn.deliveredAt ? 'bar-ok' : txn.state === 'agent_failed' ? 'bar-failed' : txn.state === 'open' ? 'bar-running' : 'bar-other';
  bars.push({ label: 'agent', start: txn.openedAt, end: agentEnd, cls: agentCls, title: `agent on ${txn.agentHost ?? 'an unnamed host'}: opened ${formatUtc(txn.openedAt)}, ${txn.deliveredAt ? `delivered after ${formatDuration(agentEnd.getTime() - txn.openedAt.getTime())}` : txn.state}` });
  for (const step of steps) {
    for (const attempt of step.attemptLog) {
      const end = attempt.finishedAt ?? now;
      const cls = attempt.outcome === 'succeeded' ? 'bar-ok' : attempt.outcome === 'running' ? 'bar-running' : attempt.outcome === 'cancelled' ? 'bar-other' : 'bar-failed';
      bars.push({
        label: `${step.name} #${attempt.attempt}`,
        start: attempt.startedAt,
        end,
        cls,
        title: `${step.name} attempt ${attempt.attempt} on ${attempt.host}: ${attempt.outcome} after ${formatDuration(end.getTime() - attempt.startedAt.getTime())}${attempt.error ? `: ${attempt.error.slice(0, 200)}` : ''}`,
      });
    }
  }
  return bars;
}

export function txnTimeline(txn: Transaction, steps: StepHistory[], now: Date): Html {
  const bars = barsOf(txn, steps, now);
  const start = Math.min(...bars.map((bar) => bar.start.getTime()));
  const end = Math.max(start + 1000, ...bars.map((bar) => bar.end.getTime()));
  const scale = (width - labelWidth - 10) / (end - start);
  const x = (at: Date) => labelWidth + (at.getTime() - start) * scale;
  const height = top + bars.length * rowHeight + 26;
  const rows = bars.map((bar, index) => {
    const y = top + index * rowHeight;
    const barWidth = Math.max(2, (bar.end.getTime() - bar.start.getTime()) * scale);
    return html`<text x="0" y="${y + 12}">${bar.label}</text><rect class="${bar.cls}" x="${x(bar.start).toFixed(1)}" y="${y + 2}" width="${barWidth.toFixed(1)}" height="${rowHeight - 5}" rx="2"><title>${bar.title}</title></rect>`;
  });
  const axisY = top + bars.length * rowHeight + 4;
  const summary = `Timeline of transaction ${txn.id} (${txn.geo}, ${formatCycle(txn.cycleStart)}): ${bars.length} bars from ${formatUtc(new Date(start))} to ${formatUtc(new Date(end))} UTC, ${formatDuration(end - start)} in all.`;
  return html`<svg class="chart" role="img" aria-labelledby="tl-title" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><title id="tl-title">${summary}</title>
${rows}<line class="axis" x1="${labelWidth}" y1="${axisY}" x2="${width - 10}" y2="${axisY}"></line><text x="${labelWidth}" y="${axisY + 14}">${formatUtc(new Date(start))} UTC</text><text x="${width - 10}" y="${axisY + 14}" text-anchor="end">+${formatDuration(end - start)}</text></svg>`;
}
