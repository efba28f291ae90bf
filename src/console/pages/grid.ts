// GET /console: the grid an on-call operator opens first — GEOs down, UTC hours across (48 by default,
// ?before=HOUR pages back, ?hours=N up to a week), one cell per GEO's hour, each hour's column headed by its
// cycle's state. A silent GEO (the dead-man switch of `ganymede check`) is flagged on its row. GET
// /console/grid.json is what the page's script polls: the cells that changed since its last answer.
import { findSilences, lookbackStart, type Problem } from '../../alerts/dead-man.js';
import { cycleOf, formatCycle, hourMs, parseCycle } from '../../cycle.js';
import { HttpError } from '../../api/http.js';
import { listExpectedGeos, type ExpectedGeo } from '../../state/expectations.js';
import { listGridHours, type GridCycle, type GridHours, type GridTxn } from '../../state/grid.js';
import type { SessionRequest } from '../context.js';
import { formatUtc } from '../format.js';
import { cellLegend, cellMarkup, classOf, hourHeadView, hourLegend, schemaClass, txnCellMarkup, txnCellView, type GridRules } from '../grid-cells.js';
import { consolePath, html, Html } from '../html.js';
import { layout } from '../layout.js';
import { json, page, type ConsoleReply } from '../reply.js';

export const defaultGridHours = 48;
const maxGridHours = 24 * 7;

interface GridWindow {
  /** The first hour shown. */
  from: Date;
  /** The hour after the last one shown. */
  to: Date;
  hours: Date[];
  /** The window ends with the current hour: the page updates itself. */
  live: boolean;
}

function gridWindow(query: URLSearchParams, now: Date): GridWindow {
  const count = query.has('hours') ? Number(query.get('hours')) : defaultGridHours;
  if (!Number.isInteger(count) || count < 1 || count > maxGridHours) throw new HttpError(400, `hours=${query.get('hours')}: show 1 to ${maxGridHours} hours`);
  const latest = cycleOf(now).getTime() + hourMs;
  const beforeText = query.get('before');
  const before = beforeText === null ? undefined : parseCycle(beforeText);
  if (beforeText !== null && !before) throw new HttpError(400, `before=${beforeText}: not a UTC hour (YYYY-MM-DDTHH)`);
  const to = Math.min(before?.getTime() ?? latest, latest);
  const from = to - count * hourMs;
  return { from: new Date(from), to: new Date(to), hours: Array.from({ length: count }, (_, i) => new Date(from + i * hourMs)), live: to === latest };
}

function rulesOf(request: SessionRequest, now: Date): GridRules {
  return { deadlineMinutes: request.server.settings.loaded.config.centre.cycle_deadline_minutes, now };
}

/** The dead-man switch's problems, when the window holds its whole look-back (the live view, usually). */
function silences(request: SessionRequest, geos: ExpectedGeo[], txns: GridTxn[], window: GridWindow, now: Date): Problem[] {
  const { check, centre } = request.server.settings.loaded.config;
  const rules = { now, deadlineMinutes: centre.cycle_deadline_minutes, criticalHours: check.geo_critical_hours, lookbackHours: check.lookback_hours };
  const start = lookbackStart(rules);
  if (!window.live || start.getTime() < window.from.getTime()) return [];
  const recent = txns.filter((txn) => txn.cycleStart.getTime() >= start.getTime()).map((txn) => ({ geoId: txn.geoId, cycleStart: txn.cycleStart, state: txn.state }));
  return findSilences(geos.filter((geo) => geo.enabled), recent, rules);
}


function headRows(window: GridWindow, cycles: Map<number, GridCycle>, rules: GridRules): Html {
  const days: Array<{ day: string; span: number }> = [];
  for (const hour of window.hours) {
    const day = formatCycle(hour).slice(0, 10);
    if (days.at(-1)?.day === day) days.at(-1)!.span++;
    else days.push({ day, span: 1 });
  }
  const dayCells = days.map(({ day, span }) => html`<th colspan=${span} scope=colgroup>${span >= 3 ? day : ''}</th>`);
  const hourCells = window.hours.map((hour) => html`<th scope=col data-h=${formatCycle(hour)} title="${formatCycle(hour)}:00 UTC">${formatCycle(hour).slice(11)}</th>`);
  const cycleCells = new Html(window.hours.map((hour) => cellMarkup(hourHeadView(hour, cycles.get(hour.getTime()), rules))).join(''));
  return html`<thead><tr class=days><th></th>${dayCells}</tr><tr class=hours><th scope=col>GEO</th>${hourCells}</tr><tr class=cycles><th scope=row>cycle</th>${cycleCells}</tr></thead>`;
}

/** What the summary line counts, by class; the page's script counts the cells again after each live update. */
const summaryWords = [...cellLegend.map((item) => [item.cls, item.short]), [schemaClass, 'with a schema change']];

function summaryLine(counts: Map<string, number>, schemaHours: number): Html {
  const parts = summaryWords.map(([cls, word]) => [cls === schemaClass ? schemaHours : (counts.get(cls!) ?? 0), word] as const).filter(([count]) => count > 0);
  const text = parts.map(([count, word]) => `${count} ${word}`).join(' · ') || 'no GEOs yet: add one with ganymede geo add';
  return html`<span id=summary data-words="${summaryWords.map((pair) => pair.join(':')).join('|')}">${text}</span>`;
}

function legend(): Html {
  const item = ({ cls, glyph, word }: { cls: string; glyph: string; word: string }) => html`<span><span class="k ${cls}">${glyph}</span>${word}</span>`;
  const schema = item({ cls: `d ${schemaClass}`, glyph: '#', word: 'corner mark: the schema changed since the hour before' });
  return html`<div class=legend aria-label="cells">${cellLegend.map(item)}${schema}</div><div class=legend aria-label="cycle row">Cycle row: ${hourLegend.map(item)}</div>`;
}

function pager(window: GridWindow, count: number): Html {
  const hoursQuery = count === defaultGridHours ? undefined : count;
  const earlier = consolePath([], { before: formatCycle(window.from), hours: hoursQuery });
  const later = window.live ? undefined : consolePath([], { before: formatCycle(new Date(window.to.getTime() + count * hourMs)), hours: hoursQuery });
  return html`<div class=pager><a href="${earlier}">← ${count} h earlier</a>${later ? html`<a href="${later}">${count} h later →</a><a href="/console">now</a>` : ''}<span class=muted>${formatCycle(window.from)} to ${formatCycle(new Date(window.to.getTime() - hourMs))} UTC</span><span id=live class=muted role=status aria-live=polite>${window.live ? 'live with JavaScript; reload to update without it' : 'history: not live'}</span></div>`;
}

export async function showGrid(request: SessionRequest): Promise<ConsoleReply> {
  const window = gridWindow(request.query, new Date());
  const [geos, hours] = await Promise.all([listExpectedGeos(request.server.db, { includeDisabled: true }), listGridHours(request.server.db, window.from, window.to)]);
  const rules = rulesOf(request, hours.now);
  // Each GEO's transactions by hour index: ten thousand look-ups by number, not by a string key made for each.
  const txnsByGeo = new Map<number, Array<GridTxn | undefined>>();
  for (const txn of hours.txns) {
    const row = txnsByGeo.get(txn.geoId) ?? txnsByGeo.set(txn.geoId, new Array<GridTxn | undefined>(window.hours.length)).get(txn.geoId)!;
    row[(txn.cycleStart.getTime() - window.from.getTime()) / hourMs] = txn;
  }
  const cycles = new Map(hours.cycles.map((cycle) => [cycle.cycleStart.getTime(), cycle]));
  const problems = silences(request, geos, hours.txns, window, hours.now);
  const silentGeo = new Map(problems.filter((problem) => problem.geo).map((problem) => [problem.geo!, problem]));
  const counts = new Map<string, number>();
  const hourTexts = window.hours.map(formatCycle);
  const none: Array<GridTxn | undefined> = [];
  let schemaHours = 0;
  // One array joined once: ten thousand cells appended to a string would make a rope V8 then flattens slowly.
  const rows: string[] = [];
  for (const geo of geos) {
    const silent = silentGeo.get(geo.name);
    const flag = silent ? html`<span class=flag title="${silent.what}">!</span>` : '';
    rows.push(html`<tr data-g="${geo.name}"><th scope=row${geo.enabled ? '' : html` class=off title="disabled"`}>${geo.name}${flag}</th>`.text);
    const own = txnsByGeo.get(geo.id) ?? none;
    for (let index = 0; index < window.hours.length; index++) {
      const cell = txnCellMarkup(geo, window.hours[index]!, own[index], rules, hourTexts[index]!);
      counts.set(cell.cls, (counts.get(cell.cls) ?? 0) + 1);
      if (cell.schema) schemaHours++;
      rows.push(cell.markup);
    }
    rows.push('</tr>\n');
  }
  const summary = summaryLine(counts, schemaHours);
  const notes = problems.filter((problem) => !problem.geo).map((problem) => html`<p class="note ${problem.level === 'critical' ? 'bad' : 'warn'}">${problem.what}</p>`);
  const silentNote = silentGeo.size ? html`<p class="note warn">${silentGeo.size} GEO${silentGeo.size === 1 ? '' : 's'} silent (marked ! by the name): ${[...silentGeo.keys()].join(', ')}</p>` : '';
  const count = window.hours.length;
  const body = html`<div class=gridhead><h1>GEOs × UTC hours</h1>${summary}</div>${pager(window, count)}${notes}${silentNote}
<div class=gridwrap><table class=grid id=grid data-from=${formatCycle(window.from)} data-to=${formatCycle(window.to)} data-since="${hours.now.toISOString()}" data-live=${window.live ? 1 : 0}>
<caption>Each cell is one GEO's hour, linking to its transaction; hover or focus it for the id, state, step and durations. Times UTC, as of ${formatUtc(hours.now)}.</caption>
${headRows(window, cycles, rules)}<tbody>${new Html(rows.join(''))}</tbody></table></div>${legend()}`;
  return page(layout({ title: 'Grid', signedIn: request.signedIn, section: 'grid', body }));
}

/** What grid.json sends per cell: [geo, hour, class, glyph, title, href]; per hour: [hour, class, glyph, title, href]. */
type JsonCell = [string, string, string, string, string, string | null];
type JsonHour = [string, string, string, string, string | null];

/** Rows committed a moment after their updated_at was set may be missed by one poll: each asks a little further back. */
const pollOverlapMs = 5_000;

export async function gridJson(request: SessionRequest): Promise<ConsoleReply> {
  const from = parseCycle(request.query.get('from') ?? '');
  const to = parseCycle(request.query.get('to') ?? '');
  const since = new Date(request.query.get('since') ?? '');
  if (!from || !to || to <= from || to.getTime() - from.getTime() > maxGridHours * hourMs) throw new HttpError(400, 'from and to must be UTC hours (YYYY-MM-DDTHH), from before to, at most a week apart');
  if (Number.isNaN(since.getTime())) throw new HttpError(400, 'since must be the time of the last answer (its "next")');
  const { db } = request.server;
  const [geos, changed] = await Promise.all([listExpectedGeos(db, { includeDisabled: true }), listGridHours(db, from, to, new Date(since.getTime() - pollOverlapMs))]);
  const rules = rulesOf(request, changed.now);
  // Hours whose deadline passed since the last answer turn from waiting to missing or late without a row changing.
  const crossed: Date[] = [];
  for (let hour = from.getTime(); hour < to.getTime(); hour += hourMs) {
    const deadline = hour + rules.deadlineMinutes * 60_000;
    if (deadline > since.getTime() && deadline <= changed.now.getTime()) crossed.push(new Date(hour));
  }
  const whole: GridHours[] = await Promise.all(crossed.map((hour) => listGridHours(db, hour, new Date(hour.getTime() + hourMs))));
  const geoById = new Map(geos.map((geo) => [geo.id, geo]));
  const cells: JsonCell[] = [];
  const cellOf = (geo: ExpectedGeo, hour: Date, txn: GridTxn | undefined) => {
    const view = txnCellView(geo, hour, txn, rules);
    cells.push([geo.name, formatCycle(hour), classOf(view), view.glyph, view.title, view.href]);
  };
  for (const txn of changed.txns) {
    const geo = geoById.get(txn.geoId);
    if (geo) cellOf(geo, txn.cycleStart, txn);
  }
  const hours: JsonHour[] = [];
  const hourOf = (hour: Date, cycle: GridCycle | undefined) => {
    const view = hourHeadView(hour, cycle, rules);
    hours.push([formatCycle(hour), view.cls, view.glyph, view.title, view.href]);
  };
  for (const cycle of changed.cycles) hourOf(cycle.cycleStart, cycle);
  crossed.forEach((hour, index) => {
    const txns = new Map(whole[index]!.txns.map((txn) => [txn.geoId, txn]));
    for (const geo of geos) cellOf(geo, hour, txns.get(geo.id));
    hourOf(hour, whole[index]!.cycles[0]);
  });
  // Only a live page polls, and it follows the clock: once a new hour begins past its last column, it reloads.
  const reload = cycleOf(changed.now).getTime() >= to.getTime();
  return json({ at: changed.now.toISOString(), next: changed.now.toISOString(), reload, cells, hours });
}
