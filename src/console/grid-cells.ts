// One cell of the grid, and the cycle state heading each hour's column, as the page and its live updates
// (grid.json) both show them: a short class for the colour, a glyph that reads without colour (the legend of
// `ganymede status`), a title with the transaction's id, state, step and durations, and where it links.
import { firstHourOwed } from '../alerts/dead-man.js';
import { formatCycle } from '../cycle.js';
import { cellState, cellSymbol, type CellState } from '../render/cell-state.js';
import type { ExpectedGeo } from '../state/expectations.js';
import type { GridCycle, GridTxn } from '../state/grid.js';
import { formatDuration, formatUtc } from './format.js';
import { consolePath, escapeHtml } from './html.js';

export interface CellView {
  /** A class of one or two letters: 200 GEOs × 48 hours of cells must stay small. */
  cls: string;
  glyph: string;
  title: string;
  href: string | null;
  /** The GEO's schema changed at this hour since its hour before: marked on the cell and said in its title. */
  schema?: boolean;
}

export interface GridRules {
  deadlineMinutes: number;
  now: Date;
}

const cellClass: Record<CellState, string> = { done: 'd', running: 'r', late: 'l', failed: 'f', missing: 'm', waiting: 'w' };

/** Words for the legend and the titles, by class. */
export const cellLegend: Array<{ cls: string; glyph: string; word: string; short: string }> = [
  { cls: 'd', glyph: '#', word: 'done', short: 'done' },
  { cls: 'r', glyph: 'd l e c >', word: 'running (its step: decrypt, load, etl, clean; > at the agent or waiting)', short: 'running' },
  { cls: 'l', glyph: '!', word: 'late: not done by the deadline', short: 'late' },
  { cls: 'f', glyph: 'x', word: 'failed (at the centre, refused, or given up by the agent)', short: 'failed' },
  { cls: 'm', glyph: '.', word: 'missing: nothing opened by the deadline', short: 'missing' },
  { cls: 'w', glyph: '-', word: 'not due yet', short: 'not due yet' },
  { cls: 'x', glyph: '/', word: 'cancelled by an operator', short: 'cancelled' },
  { cls: 'n', glyph: ' ', word: 'not expected (the GEO was added later, or is disabled)', short: 'not expected' },
];

function durations(txn: GridTxn): string {
  if (txn.state === 'open') return `; open ${formatDuration(txn.agentMs)}`;
  return txn.centreMs === null ? '' : `; agent ${formatDuration(txn.agentMs)}, centre ${formatDuration(txn.centreMs)}${txn.finished ? '' : ' so far'}`;
}

/** Where a cell's title puts outside text (a GEO's name, an error): as it is for JSON, escaped for markup. */
type Text = (text: string) => string;
const asText: Text = (text) => text;

function cellView(geo: ExpectedGeo, cycleStart: Date, txn: GridTxn | undefined, rules: GridRules, hour: string, text: Text): CellView {
  const where = `${text(geo.name)} ${hour}`;
  if (!txn || txn.state === 'cancelled') {
    if (txn) return { cls: 'x', glyph: '/', title: `txn ${txn.id} ${where}: cancelled`, href: `/console/txn/${txn.id}` };
    if (!geo.enabled || cycleStart.getTime() < firstHourOwed(geo.expectedSince)) {
      return { cls: 'n', glyph: '', title: `${where}: not expected (${geo.enabled ? 'the GEO was added after this hour' : 'the GEO is disabled'})`, href: null };
    }
    const state = cellState(undefined, cycleStart, rules.deadlineMinutes, rules.now);
    const title = state === 'missing' ? `${where}: missing, nothing opened by the ${rules.deadlineMinutes} min deadline` : `${where}: not due yet`;
    return { cls: cellClass[state], glyph: cellSymbol(state, null), title, href: null };
  }
  const state = cellState(txn.state, cycleStart, rules.deadlineMinutes, rules.now);
  const step = txn.step ? ` (${text(txn.step)})` : '';
  const schema = txn.schemaChanges > 0 ? `; schema changed (${txn.schemaChanges} change${txn.schemaChanges === 1 ? '' : 's'} since the hour before)` : '';
  const error = txn.error ? `; ${text(txn.error.length > 160 ? `${txn.error.slice(0, 159)}…` : txn.error)}` : '';
  const title = `txn ${txn.id} ${where}: ${state === 'late' ? 'late, ' : ''}${txn.state}${step}${durations(txn)}${schema}${error}`;
  return { cls: cellClass[state], glyph: cellSymbol(state, txn.step), title, href: `/console/txn/${txn.id}`, schema: txn.schemaChanges > 0 };
}

/** `hour` is formatCycle(cycleStart), passed in by the grid, which has it for every column already. */
export function txnCellView(geo: ExpectedGeo, cycleStart: Date, txn: GridTxn | undefined, rules: GridRules, hour = formatCycle(cycleStart)): CellView {
  return cellView(geo, cycleStart, txn, rules, hour, asText);
}

/** The class that marks an hour whose schema changed, after the state's letter. */
export const schemaClass = 's';

/** The class attribute's value: the state's letter, and `s` for an hour whose schema changed. */
export const classOf = (view: CellView): string => (view.schema ? `${view.cls} ${schemaClass}` : view.cls);

/**
 * A GEO's hour as markup, for the page: the same view as txnCellView, with the outside parts of its title
 * escaped as they go in rather than the whole title afterwards (ten thousand titles a page). Concatenated
 * rather than built by the html template for the same reason; the class and href are ours (a letter or two;
 * /console/txn/<digits>), so they need no quotes, but for a schema mark's space.
 */
export function txnCellMarkup(geo: ExpectedGeo, cycleStart: Date, txn: GridTxn | undefined, rules: GridRules, hour: string): { cls: string; schema: boolean; markup: string } {
  const view = cellView(geo, cycleStart, txn, rules, hour, escapeHtml);
  const glyph = escapeHtml(view.glyph);
  const markup = view.href
    ? `<td><a class=${view.schema ? `"${classOf(view)}"` : view.cls} href=${view.href} title="${view.title}">${glyph}</a>`
    : `<td><span class=${view.cls} title="${view.title}">${glyph}</span>`;
  return { cls: view.cls, schema: view.schema === true, markup };
}

/**
 * A cell as markup. Concatenated rather than built by the html template because it runs ten thousand times
 * for a big grid; the class and href are ours (a letter or two; /console/txn/<digits>), so they need no
 * quotes, and the title and glyph go through escapeHtml like every other text.
 */
export function cellMarkup(view: CellView): string {
  return view.href
    ? `<td><a class=${view.cls} href=${view.href} title="${escapeHtml(view.title)}">${escapeHtml(view.glyph)}</a>`
    : `<td><span class=${view.cls} title="${escapeHtml(view.title)}">${escapeHtml(view.glyph)}</span>`;
}

type HourState = GridCycle['state'] | 'late' | 'none';

const hourGlyph: Record<HourState, [string, string]> = {
  collecting: ['hc', '·'],
  late: ['hl', '!'],
  ready: ['hr', 'r'],
  feeding: ['hf', 'f'],
  fed: ['hd', 'F'],
  sending: ['hs', 's'],
  sent: ['ht', '#'],
  failed: ['hx', 'x'],
  empty: ['he', '0'],
  none: ['hn', ''],
};

export const hourLegend: Array<{ cls: string; glyph: string; word: string }> = (Object.entries(hourGlyph) as Array<[HourState, [string, string]]>)
  .filter(([state]) => state !== 'none')
  .map(([state, [cls, glyph]]) => ({ cls, glyph, word: state === 'late' ? 'late: still collecting after the deadline' : state === 'empty' ? 'empty: no GEO reached the warehouse' : state }));

export function hourHeadView(cycleStart: Date, cycle: GridCycle | undefined, rules: GridRules): CellView {
  const hour = formatCycle(cycleStart);
  const pastDeadline = cycleStart.getTime() + rules.deadlineMinutes * 60_000 < rules.now.getTime();
  const state: HourState = !cycle ? 'none' : cycle.state === 'collecting' && pastDeadline ? 'late' : cycle.state;
  const [cls, glyph] = hourGlyph[state];
  if (!cycle) return { cls, glyph, title: `cycle ${hour}: no GEO has opened it`, href: null };
  const sent = cycle.sentAt ? ` at ${formatUtc(cycle.sentAt)}` : '';
  const error = cycle.error ? `; ${cycle.error.slice(0, 160)}` : '';
  return { cls, glyph, title: `cycle ${hour}: ${state}${state === 'sent' ? sent : ''}${error}`, href: consolePath(['cycle', hour]) };
}
