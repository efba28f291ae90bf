// GET /console/cycle/HOUR: one UTC hour across the GEOs — which are in the warehouse, on their way, late,
// failed or missing (judged as the grid and `ganymede status` judge them), the cycle's own state, and the
// feed files sent to Glassbeam with their rows, bytes, sha256 and when each went.
import { firstHourOwed } from '../../alerts/dead-man.js';
import { HttpError } from '../../api/http.js';
import { formatCycle, hourMs, parseCycle, previousCycle } from '../../cycle.js';
import { cellState, type CellState } from '../../render/cell-state.js';
import { getCycle, listFeedFiles, type FeedFileRecord } from '../../state/cycles.js';
import { listExpectedGeos } from '../../state/expectations.js';
import { listTransactions, type Transaction } from '../../state/transactions.js';
import type { SessionRequest } from '../context.js';
import { formatBytes, formatCount, formatUtc } from '../format.js';
import { consolePath, html, type Html } from '../html.js';
import { layout } from '../layout.js';
import { page, type ConsoleReply } from '../reply.js';
import { badge } from './txn.js';

type Standing = 'in the warehouse' | 'on its way' | 'late' | 'failed' | 'missing' | 'not due yet';

const standingOf = (txn: Transaction | undefined, cycleStart: Date, deadlineMinutes: number, now: Date): Standing => {
  if (txn?.warehousedAt) return 'in the warehouse';
  const state: CellState = cellState(txn?.state, cycleStart, deadlineMinutes, now);
  return ({ done: 'in the warehouse', running: 'on its way', late: 'late', failed: 'failed', missing: 'missing', waiting: 'not due yet' } as const)[state];
};

const standingClass: Record<Standing, string> = { 'in the warehouse': 's-d', 'on its way': 's-r', late: 's-l', failed: 's-f', missing: 's-m', 'not due yet': 's-w' };

function feedTable(files: FeedFileRecord[]): Html {
  if (files.length === 0) return html`<p class="muted">Nothing sent to Glassbeam for this hour yet.</p>`;
  const rows = files.map(
    (file) => html`<tr><td class="mono">${file.remotePath}</td><td class="num">${formatCount(file.rows)}</td><td class="num">${formatBytes(file.size)}</td><td class="mono">${file.sha256}</td><td>${formatUtc(file.sentAt)}</td></tr>`,
  );
  const bytes = files.reduce((sum, file) => sum + file.size, 0);
  const total = files.reduce((sum, file) => sum + (file.rows ?? 0), 0);
  return html`<table class="data"><thead><tr><th scope="col">File</th><th scope="col" class="num">Rows</th><th scope="col" class="num">Bytes</th><th scope="col">SHA-256</th><th scope="col">Sent (UTC)</th></tr></thead><tbody>${rows}</tbody>
<tfoot><tr><th scope="row">${files.length} files</th><td class="num">${formatCount(total)}</td><td class="num">${formatBytes(bytes)}</td><td></td><td></td></tr></tfoot></table>`;
}

export async function showCycle(request: SessionRequest): Promise<ConsoleReply> {
  const text = request.params[0]!;
  const cycleStart = parseCycle(text);
  if (!cycleStart) throw new HttpError(400, `"${text.slice(0, 40)}" is not a UTC hour (YYYY-MM-DDTHH)`);
  const { db, settings } = request.server;
  const deadlineMinutes = settings.loaded.config.centre.cycle_deadline_minutes;
  const [cycle, txns, geos, files] = await Promise.all([
    getCycle(db, cycleStart),
    listTransactions(db, { from: cycleStart, to: cycleStart, limit: 10_000 }),
    listExpectedGeos(db, { includeDisabled: true }),
    listFeedFiles(db, cycleStart),
  ]);
  const now = new Date();
  const byGeo = new Map(txns.map((txn) => [txn.geo, txn]));
  const expected = geos.filter((geo) => (geo.enabled && cycleStart.getTime() >= firstHourOwed(geo.expectedSince)) || byGeo.has(geo.name));
  const standings = expected.map((geo) => ({ geo, txn: byGeo.get(geo.name), standing: standingOf(byGeo.get(geo.name), cycleStart, deadlineMinutes, now) }));
  const counts = new Map<Standing, number>();
  for (const { standing } of standings) counts.set(standing, (counts.get(standing) ?? 0) + 1);
  const late = cycle?.state === 'collecting' && cycleStart.getTime() + deadlineMinutes * 60_000 < now.getTime();
  const rows = standings.map(
    ({ geo, txn, standing }) =>
      html`<tr><th scope="row">${geo.name}${geo.enabled ? '' : html` <span class="muted">(disabled)</span>`}</th><td><span class="badge ${standingClass[standing]}">${standing}</span></td><td>${txn ? html`<a href="${consolePath(['txn', txn.id])}">${txn.id}</a>` : '—'}</td><td>${txn ? badge(txn.state) : ''}${txn?.step ? html` ${txn.step}` : ''}</td><td>${formatUtc(txn?.deliveredAt)}</td><td>${formatUtc(txn?.warehousedAt)}</td><td class="error">${txn?.error ?? ''}</td></tr>`,
  );
  const hour = formatCycle(cycleStart);
  const previous = formatCycle(previousCycle(cycleStart));
  const next = formatCycle(new Date(cycleStart.getTime() + hourMs));
  const body = html`<h1>Cycle ${hour} UTC</h1>
<p class="pager"><a href="${consolePath(['cycle', previous])}">← ${previous}</a><a href="${consolePath(['cycle', next])}">${next} →</a><a href="${consolePath([], { before: formatCycle(new Date(cycleStart.getTime() + 25 * hourMs)) })}">in the grid</a></p>
${cycle
  ? html`<p>${badge(late ? 'late' : cycle.state)}${late ? html` <span class="muted">still collecting ${deadlineMinutes} min after the hour</span>` : ''}</p>${cycle.error ? html`<p class="note bad"><span class="error">${cycle.error}</span></p>` : ''}
<dl class="facts"><dt>Ready to feed</dt><dd>${formatUtc(cycle.readyAt)}</dd><dt>Fed</dt><dd>${formatUtc(cycle.fedAt)}</dd><dt>Sent</dt><dd>${formatUtc(cycle.sentAt)}</dd><dt>Fed without</dt><dd>${cycle.missingGeos.length ? cycle.missingGeos.join(', ') : '—'}</dd></dl>`
  : html`<p class="note warn">No GEO has opened this hour yet.</p>`}
<h2>GEOs</h2><p>${[...counts].map(([standing, count]) => `${count} ${standing}`).join(' · ') || 'no GEO is expected for this hour'}</p>
<table class="data"><thead><tr><th scope="col">GEO</th><th scope="col">Standing</th><th scope="col">Txn</th><th scope="col">State</th><th scope="col">Delivered (UTC)</th><th scope="col">In the warehouse</th><th scope="col">Error</th></tr></thead><tbody>${rows}</tbody></table>
<h2>Feed sent to Glassbeam</h2>${feedTable(files)}`;
  return page(layout({ title: `Cycle ${hour}`, signedIn: request.signedIn, section: 'grid', body }));
}
