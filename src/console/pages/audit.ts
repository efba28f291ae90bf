// GET /console/audit (admin only): who did what, when and from where — `ganymede audit` as a page, with the
// same filters (actor, action, target) as links and a form that works without JavaScript.
import { HttpError } from '../../api/http.js';
import { listAudit } from '../../state/audit.js';
import type { SessionRequest } from '../context.js';
import { formatUtc } from '../format.js';
import { consolePath, html } from '../html.js';
import { layout } from '../layout.js';
import { page, type ConsoleReply } from '../reply.js';

const filters = ['actor', 'action', 'target'] as const;

export async function showAudit(request: SessionRequest): Promise<ConsoleReply> {
  const chosen: Partial<Record<(typeof filters)[number], string>> = {};
  for (const name of filters) {
    const value = request.query.get(name)?.trim();
    if (value) {
      if (value.length > 191) throw new HttpError(400, `${name}: at most 191 characters`);
      chosen[name] = value;
    }
  }
  const limit = Math.min(1000, Math.max(1, Number(request.query.get('limit') ?? 200) || 200));
  const entries = await listAudit(request.server.db, { ...chosen, limit });
  const link = (name: (typeof filters)[number], value: string) => html`<a href="${consolePath(['audit'], { ...chosen, [name]: value })}">${value}</a>`;
  const rows = entries.map(
    (entry) => html`<tr><td>${formatUtc(entry.at)}</td><td>${link('actor', entry.actor)}</td><td>${link('action', entry.action)}</td><td>${link('target', entry.target)}</td><td>${entry.sourceAddress ?? '—'}</td><td class="mono">${entry.detail ?? ''}</td></tr>`,
  );
  const field = (name: (typeof filters)[number], example: string) => html`<label for="f-${name}">${name}</label><input id="f-${name}" type="text" name="${name}" value="${chosen[name] ?? ''}" placeholder="${example}">`;
  const body = html`<h1>Audit trail</h1><p class="muted">Every admin action through the API, the CLI or this console, newest first (also <code>ganymede audit</code>).</p>
<form method="get" action="/console/audit">${field('actor', 'admin-token, os:root, viewer:alice')}${field('action', 'txn.retry')}${field('target', 'txn:42, geo:emea')}<p><button type="submit">Filter</button> <a href="/console/audit">all</a></p></form>
<p>${entries.length === limit ? `the newest ${limit}` : `${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}`}</p>
<table class="data"><thead><tr><th scope="col">At (UTC)</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">From</th><th scope="col">Detail</th></tr></thead><tbody>${rows}</tbody></table>`;
  return page(layout({ title: 'Audit', signedIn: request.signedIn, section: 'audit', body }));
}
