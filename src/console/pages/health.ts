// GET /console/health: `ganymede check` as a page — the very same evaluation (evaluateCheck), each finding
// with its level — then the archive's last objects and the last restore drill, and the central hosts with
// their heartbeats and what runs on each.
import { evaluateCheck, type CheckResult } from '../../commands/check.js';
import { formatAgo } from '../../render/age.js';
import { listArchiveRecords, type ArchiveRecord } from '../../state/archive.js';
import { listHosts, type HostView } from '../../state/hosts.js';
import { lastMetricPoint } from '../../state/metrics.js';
import type { SessionRequest } from '../context.js';
import { formatBytes, formatUtc } from '../format.js';
import { consolePath, html, type Html } from '../html.js';
import { layout } from '../layout.js';
import { page, type ConsoleReply } from '../reply.js';

const levelClass = { ok: 's-d', warning: 's-l', critical: 's-f', unknown: 's-m' } as const;

function checkSection(result: CheckResult): Html {
  const rank = { critical: 0, warning: 1, ok: 2 } as const;
  const findings = [...result.findings].sort((a, b) => rank[a.level] - rank[b.level]).map((finding) => html`<li><span class="badge ${levelClass[finding.level]}">${finding.level.toUpperCase()}</span> ${finding.what}</li>`);
  const said = result.findings.length === 0 ? result.summary.replace(/^GANYMEDE OK - /, '') : `${result.findings.length} finding${result.findings.length === 1 ? '' : 's'}, the worst first:`;
  return html`<p class="note ${result.status === 'ok' ? 'good' : result.status === 'warning' ? 'warn' : 'bad'}"><span class="badge ${levelClass[result.status]}">${result.status.toUpperCase()}</span> ${said}</p>${findings.length ? html`<ul>${findings}</ul>` : ''}`;
}

function archiveSection(records: ArchiveRecord[], drill: Awaited<ReturnType<typeof lastMetricPoint>>): Html {
  const rows = records.map(
    (record) => html`<tr><td>${record.kind}</td><td>${record.geo ?? '—'}</td><td>${record.cycle ? html`<a href="${consolePath(['cycle', record.cycle])}">${record.cycle}</a>` : '—'}</td><td class="mono">${record.objectKey}</td><td class="num">${formatBytes(record.size)}</td><td>${record.state}</td><td>${formatUtc(record.archivedAt ?? record.createdAt)}</td></tr>`,
  );
  const drillText = drill
    ? html`<span class="badge ${drill.dimensions.result === 'ok' ? 's-d' : 's-f'}">${drill.dimensions.result === 'ok' ? 'passed' : 'FAILED'}</span> at ${formatUtc(drill.at)} UTC (${formatAgo(Date.now() - drill.at.getTime())}): ${drill.value} sample${drill.value === 1 ? '' : 's'} restored and verified`
    : html`<span class="muted">no restore drill on record: run <code>ganymede archive verify</code> (daily, from cron)</span>`;
  return html`<p>Last restore drill: ${drillText}</p>${
    records.length
      ? html`<table class="data"><caption class="muted">The newest archived objects</caption><thead><tr><th scope="col">Kind</th><th scope="col">GEO</th><th scope="col">Cycle</th><th scope="col">Object</th><th scope="col" class="num">Size</th><th scope="col">State</th><th scope="col">Archived (UTC)</th></tr></thead><tbody>${rows}</tbody></table>`
      : html`<p class="muted">Nothing archived yet: <code>ganymede archive</code> runs hourly from cron.</p>`
  }`;
}

function hostsSection(hosts: HostView[], deadAfterMs: number): Html {
  if (hosts.length === 0) return html`<p class="muted">No central host has sent a heartbeat yet (each jupiter tick and each worker sends one).</p>`;
  const rows = hosts.map((host) => {
    const running = host.running.map((step) => (step.txnId ? html`<a href="${consolePath(['txn', step.txnId])}">${step.step} ${step.txnId}</a>` : html`${step.step} ${step.cycle}`));
    return html`<tr><th scope="row">${host.name}</th><td><span class="badge ${host.alive ? 's-d' : 's-f'}">${host.alive ? 'alive' : 'dead'}</span></td><td>${formatUtc(host.lastSeenAt)} <span class="muted">(${formatAgo(host.lastSeenAgoMs)}, by ${host.lastSeenBy})</span></td><td>${host.version}</td><td>${running.length ? running.map((item, index) => html`${index ? ', ' : ''}${item}`) : '—'}</td></tr>`;
  });
  return html`<table class="data"><thead><tr><th scope="col">Host</th><th scope="col">State</th><th scope="col">Last heartbeat (UTC)</th><th scope="col">Version</th><th scope="col">Running now</th></tr></thead><tbody>${rows}</tbody></table><p class="muted">Dead after ${Math.round(deadAfterMs / 1000)} s without a heartbeat (centre.host_dead_after_ms).</p>`;
}

export async function showHealth(request: SessionRequest): Promise<ConsoleReply> {
  const { db, settings } = request.server;
  const { config } = settings.loaded;
  const [result, dbDumps, agentDumps, drill, hosts] = await Promise.all([
    evaluateCheck(db, config),
    listArchiveRecords(db, { kind: 'ganymede-db', limit: 1 }),
    listArchiveRecords(db, { kind: 'agent-dump', limit: 5 }),
    lastMetricPoint(db, 'archive.verify'),
    listHosts(db, config.centre.host_dead_after_ms),
  ]);
  const body = html`<h1>Health</h1><h2>Checks</h2><p class="muted">The same checks as <code>ganymede check</code>, with the thresholds in check.* of this host's configuration.</p>${checkSection(result)}
<h2>Archive</h2>${archiveSection([...dbDumps, ...agentDumps], drill)}
<h2>Central hosts</h2>${hostsSection(hosts, config.centre.host_dead_after_ms)}`;
  return page(layout({ title: 'Health', signedIn: request.signedIn, section: 'health', body }));
}
