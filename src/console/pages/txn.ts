// GET /console/txn/ID: one GEO's hour from opening to done — its steps as a timeline and as a table (each
// attempt: host, start, duration, outcome, error, rows and bytes), the last log lines of failed attempts, the
// delivered file and who signed it, the status events; and for the admin, Retry and Cancel.
import { HttpError } from '../../api/http.js';
import { formatCycle, hourMs } from '../../cycle.js';
import { listEvents, type StoredEvent } from '../../state/events.js';
import { findGeo } from '../../state/geos.js';
import { listStepHistory, type StepHistory } from '../../state/step-history.js';
import { getTransaction, type Transaction } from '../../state/transactions.js';
import type { SessionRequest } from '../context.js';
import { between, formatBytes, formatCount, formatDuration, formatUtc } from '../format.js';
import { consolePath, html, type Html } from '../html.js';
import { layout } from '../layout.js';
import { page, type ConsoleReply } from '../reply.js';
import { txnTimeline } from './txn-timeline.js';

export function parseTxnIdParam(text: string): number {
  const id = Number(text);
  if (!/^\d{1,15}$/.test(text) || !Number.isSafeInteger(id) || id <= 0) throw new HttpError(400, `"${text.slice(0, 40)}" is not a transaction id`);
  return id;
}

export async function loadTxn(request: SessionRequest): Promise<Transaction> {
  const id = parseTxnIdParam(request.params[0]!);
  const txn = await getTransaction(request.server.db, id);
  if (!txn) throw new HttpError(404, `no transaction ${id}`);
  return txn;
}

/** Transaction, step, attempt and cycle states alike, by the colour they share with the grid. */
const stateClass: Record<string, string> = {
  done: 's-d', succeeded: 's-d', fed: 's-d', sent: 's-d',
  open: 's-r', delivered: 's-r', processing: 's-r', pending: 's-r', running: 's-r', collecting: 's-r', ready: 's-r', feeding: 's-r', sending: 's-r',
  late: 's-l',
  failed: 's-f', refused: 's-f', agent_failed: 's-f', crashed: 's-f',
  cancelled: 's-x',
};
export const badge = (state: string) => html`<span class="badge ${stateClass[state] ?? 's-m'}">${state}</span>`;

function actions(request: SessionRequest, txn: Transaction): Html {
  if (request.signedIn.user.role !== 'admin') return html``;
  const buttons: Html[] = [];
  if (txn.state === 'failed') buttons.push(html`<a class="button primary" href="${consolePath(['txn', txn.id, 'retry'])}">Retry…</a>`);
  if (txn.state !== 'done' && txn.state !== 'cancelled') buttons.push(html`<a class="button danger" href="${consolePath(['txn', txn.id, 'cancel'])}">Cancel…</a>`);
  return buttons.length ? html`<p>${buttons} <span class="muted">each asks to confirm first, and is recorded in the audit trail</span></p>` : html``;
}

const done: Record<string, string> = {
  retry: 'Retried: the failed step is due again with a fresh attempt count; the next tick runs it.',
  cancel: 'Cancelled: its steps are stopped and its scratch schema dropped; the delivered file is kept.',
};

/**
 * Host, start and duration of the step's current attempt. A retry (`txn retry`, the console's Retry) sets a
 * failed step pending with no attempts but leaves the row's host and times of the attempt before: those
 * belong to the attempt rows below, not to a step that has not started again.
 */
function currentAttempt(step: StepHistory, now: Date): Html {
  if (step.attempts === 0) return html`<td></td><td class="muted">${step.state === 'pending' ? 'pending' : '—'}</td><td class="num">—</td>`;
  return html`<td>${step.leaseHost ?? ''}</td><td>${formatUtc(step.startedAt)}</td><td class="num">${formatDuration(between(step.startedAt, step.finishedAt ?? (step.state === 'running' ? now : null)))}</td>`;
}

function stepsTable(steps: StepHistory[], now: Date): Html {
  if (steps.length === 0) return html`<p class="muted">No steps yet: the centre starts with decrypt once the agent has delivered.</p>`;
  const rows = steps.map((step) => {
    const attempts = step.attemptLog.map(
      (attempt) => html`<tr><td></td><td>#${attempt.attempt}</td><td>${badge(attempt.outcome)}</td><td>${attempt.host}${attempt.pid === null ? '' : html` <span class="muted">pid ${attempt.pid}</span>`}</td><td>${formatUtc(attempt.startedAt)}</td><td class="num">${formatDuration(between(attempt.startedAt, attempt.finishedAt ?? now))}</td><td class="num">${formatCount(attempt.rows)}</td><td class="num">${formatBytes(attempt.bytes)}</td><td class="error">${attempt.error ?? ''}</td></tr>`,
    );
    return html`<tr><th scope="row">${step.name}</th><td>${step.attempts} attempt${step.attempts === 1 ? '' : 's'}</td><td>${badge(step.state)}</td>${currentAttempt(step, now)}<td class="num">${formatCount(step.rows)}</td><td class="num">${formatBytes(step.bytes)}</td><td class="error">${step.lastError ?? ''}${step.state === 'pending' && step.attempts > 0 ? html` <span class="muted">(next try ${formatUtc(step.nextRunAt)})</span>` : ''}</td></tr>${attempts}`;
  });
  return html`<table class="data"><thead><tr><th scope="col">Step</th><th scope="col">Attempt</th><th scope="col">Outcome</th><th scope="col">Host</th><th scope="col">Started (UTC)</th><th scope="col" class="num">Took</th><th scope="col" class="num">Rows</th><th scope="col" class="num">Bytes</th><th scope="col">Error</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function logTails(steps: StepHistory[]): Html {
  const tails = steps.flatMap((step) => {
    const failed = step.attemptLog.filter((attempt) => attempt.logTail !== null).at(-1);
    return failed ? [html`<h3>${step.name} attempt #${failed.attempt} on ${failed.host}</h3><pre class="log">${failed.logTail!.join('\n')}</pre>`] : [];
  });
  return tails.length ? html`<h2>Last log lines of failed attempts</h2>${tails}` : html``;
}

/** The decrypt step says which key signed the file (a worker's event; an agent cannot post as a worker). */
function signerOf(events: StoredEvent[]): string | undefined {
  const said = events.filter((event) => event.source === 'worker' && event.phase === 'decrypt' && event.message?.startsWith('signed by ')).at(-1);
  return said ? /^signed by ([0-9A-Fa-f]{16,64})/.exec(said.message!)?.[1] : undefined;
}

/** A worker records each change of a GEO's schema since its hour before as an event of this phase (src/worker/schema-events.ts). */
const schemaPhase = 'schema';

/** Only what went wrong reads as an error; a warning (a schema change among them) as a warning; the rest plain. */
function eventClass(event: StoredEvent): string {
  if (event.level === 'error' || event.phase === 'failed') return 'error';
  if (event.level === 'warn' || event.phase === schemaPhase) return 'warning';
  return 'message';
}

function eventsTable(events: StoredEvent[]): Html {
  if (events.length === 0) return html`<p class="muted">No status events.</p>`;
  const rows = events.map((event) => {
    const phase = event.phase === schemaPhase ? html`<span class="badge s-l">schema change</span>` : event.phase;
    return html`<tr><td>${formatUtc(event.at)}</td><td>${event.source}</td><td>${event.level}</td><td>${phase}</td><td>${event.table ?? ''}</td><td class="num">${formatCount(event.rows)}</td><td class="num">${formatBytes(event.bytes)}</td><td class="${eventClass(event)}">${event.message ?? ''}</td></tr>`;
  });
  return html`<table class="data"><thead><tr><th scope="col">At (UTC)</th><th scope="col">Source</th><th scope="col">Level</th><th scope="col">Phase</th><th scope="col">Table</th><th scope="col" class="num">Rows</th><th scope="col" class="num">Bytes</th><th scope="col">Message</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** The hour's schema changes on their own, near the top: an operator looking at a failed etl wants them first. */
function schemaChanges(events: StoredEvent[]): Html {
  const changes = events.filter((event) => event.phase === schemaPhase);
  if (changes.length === 0) return html``;
  return html`<h2>Schema changes</h2><p class="muted">The GEO's schema at this hour differs from its hour before (recorded by load; each is also among the status events below).</p><ul class="changes">${changes.map((event) => html`<li><span class="badge s-l">schema change</span> ${event.message ?? event.table ?? ''}</li>`)}</ul>`;
}

export async function showTxn(request: SessionRequest): Promise<ConsoleReply> {
  const txn = await loadTxn(request);
  const { db } = request.server;
  const [steps, events, geo] = await Promise.all([listStepHistory(db, txn.id), listEvents(db, txn.id), findGeo(db, txn.geo)]);
  const now = new Date();
  const did = request.query.get('did');
  const signer = signerOf(events);
  const file = txn.file
    ? html`<dl class="facts"><dt>Name</dt><dd class="mono">${txn.file.name}</dd><dt>Size</dt><dd>${formatBytes(txn.file.size)} (${formatCount(txn.file.size)} bytes)</dd><dt>SHA-256</dt><dd class="mono">${txn.file.sha256}</dd><dt>Signed by</dt><dd class="mono">${signer ?? html`<span class="muted">not verified yet (decrypt checks the signature)</span>`}${signer && geo ? (signer.toUpperCase() === geo.keyFingerprint.toUpperCase() ? html` <span class="muted">(${txn.geo}'s key in force)</span>` : html` <span class="muted">(not ${txn.geo}'s key in force, ${geo.keyFingerprint}: a retired one)</span>`) : ''}</dd><dt>Delivered</dt><dd>${formatUtc(txn.deliveredAt)} UTC</dd></dl>`
    : html`<p class="muted">Nothing delivered yet.</p>`;
  const body = html`<h1>Transaction ${txn.id}: ${txn.geo}, ${formatCycle(txn.cycleStart)}</h1>
${did && done[did] ? html`<p class="note good" role="status">${done[did]}</p>` : ''}
<p>${badge(txn.state)}${txn.step ? html` at <strong>${txn.step}</strong>` : ''} · delivery ${txn.delivery} · <a href="${consolePath(['cycle', formatCycle(txn.cycleStart)])}">cycle ${formatCycle(txn.cycleStart)}</a> · <a href="${consolePath([], { before: formatCycle(new Date(txn.cycleStart.getTime() + 25 * hourMs)) })}">in the grid</a></p>
${txn.error ? html`<p class="note bad"><strong>Error:</strong> <span class="error">${txn.error}</span></p>` : ''}
${actions(request, txn)}
<dl class="facts"><dt>Opened</dt><dd>${formatUtc(txn.openedAt)} UTC${txn.agentHost ? html` by <span class="mono">${txn.agentHost}</span>` : ''}</dd><dt>Delivered</dt><dd>${formatUtc(txn.deliveredAt)}${txn.deliveredAt ? html` <span class="muted">(${formatDuration(between(txn.openedAt, txn.deliveredAt))} after opening)</span>` : ''}</dd><dt>In the warehouse</dt><dd>${formatUtc(txn.warehousedAt)}</dd><dt>Finished</dt><dd>${formatUtc(txn.finishedAt)}${txn.finishedAt && txn.deliveredAt ? html` <span class="muted">(${formatDuration(between(txn.deliveredAt, txn.finishedAt))} at the centre)</span>` : ''}</dd></dl>
${schemaChanges(events)}
<h2>Timeline</h2>${txnTimeline(txn, steps, now)}
<h2>Steps and attempts</h2>${stepsTable(steps, now)}
${logTails(steps)}
<h2>Delivered file</h2>${file}
<h2>Status events</h2>${eventsTable(events)}`;
  return page(layout({ title: `Transaction ${txn.id}`, signedIn: request.signedIn, section: 'grid', body }));
}
