// `ganymede config check`: connects to every server this host's configuration names and reports each.
import type { LoadedConfig } from '../../config/load.js';
import { messageOf } from '../../errors.js';
import { renderTable } from '../../render/table.js';
import { fetchHostKey, sftpTargets } from './host-keys.js';
import { paint } from '../../render/style.js';
import { probeApi, probeLocalDir, probeMongo, probeMysql, probeScratchMysql, probeSftp, probeConfiguredStore, probeStoreDir, type ProbeOutcome } from './probes.js';

export interface CheckRow {
  target: string;
  address: string;
  ok: boolean;
  latencyMs: number;
  note: string;
  error: string;
  /** Works, but should not be left so: an SFTP server whose host key is not pinned. */
  warning?: string;
}

export interface ConfigCheckResult {
  configFile: string | null;
  rows: CheckRow[];
  ok: boolean;
}

/** The address to show: host and port (and path), never user info. */
function showAddress(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname && parsed.pathname !== '/' ? parsed.pathname : ''}`;
  } catch {
    return url;
  }
}

export async function runConfigCheck({ loaded }: { loaded: LoadedConfig }): Promise<ConfigCheckResult> {
  const { config } = loaded;
  const timeoutMs = Math.min(config.mysql.connect_timeout_ms, 10_000);
  const probes: Array<{ target: string; address: string; probe: () => Promise<ProbeOutcome> }> = [];
  if (config.mysql.url) {
    // A central host without a scratch user of its own loads what GEOs deliver as the Ganymede user: said, not failed.
    const sharedUser = config.centre.private_key_file !== undefined && config.centre.scratch_mysql_url === undefined;
    const probe = async () => {
      const outcome = await probeMysql(config.mysql.url!, 'mysql.url', loaded.secret('mysql.password'), timeoutMs, true);
      return sharedUser ? { note: `${outcome.note}; loads run as this user too (set centre.scratch_mysql_url: README, "Least privilege")` } : outcome;
    };
    probes.push({ target: 'ganymede mysql', address: showAddress(config.mysql.url), probe });
  }
  if (config.centre.scratch_mysql_url) {
    probes.push({ target: 'scratch mysql', address: showAddress(config.centre.scratch_mysql_url), probe: () => probeScratchMysql(loaded) });
  }
  if (config.mongodb.url) {
    probes.push({ target: 'mongodb', address: showAddress(config.mongodb.url), probe: () => probeMongo(config.mongodb.url!, loaded.secret('mongodb.password'), config.mongodb.connect_timeout_ms) });
  }
  const agentToken = loaded.secret('agent.token');
  const adminToken = loaded.secret('api.admin_token');
  if (config.mysql.url || config.agent.geo || agentToken || adminToken) {
    const auth = agentToken && config.agent.geo
      ? { token: agentToken, path: `/v1/geos/${config.agent.geo}`, as: `GEO ${config.agent.geo}` }
      : adminToken
        ? { token: adminToken, path: '/v1/geos', as: 'admin' }
        : undefined;
    probes.push({ target: 'api', address: showAddress(config.api.url), probe: () => probeApi(config.api.url, timeoutMs, auth, { caFile: config.api.ca_file, clientCertFile: config.api.client_cert_file, clientKeyFile: config.api.client_key_file, allowInsecure: config.api.allow_insecure }) });
  }
  if (config.agent.source.url) {
    probes.push({ target: 'cloud control mysql', address: showAddress(config.agent.source.url), probe: () => probeMysql(config.agent.source.url!, 'agent.source.url', loaded.secret('agent.source.password'), timeoutMs, false) });
  }
  if (config.agent.inbox) {
    const inbox = config.agent.inbox;
    const storeOptions = { secret: loaded.secret('agent.inbox_secret'), accessKeyId: config.agent.inbox_access_key_id };
    probes.push({
      target: 'central inbox',
      address: inbox === 'api' ? 'pre-signed uploads from the API' : inbox.startsWith('file:') ? new URL(inbox).pathname : showAddress(inbox),
      probe: () =>
        inbox === 'api'
          ? Promise.resolve({ note: 'the API hands out each upload (see the api row)' })
          : inbox.startsWith('file:')
            ? probeLocalDir(new URL(inbox).pathname)
            : /^(swift|s3):/.test(inbox)
              ? probeConfiguredStore(inbox, { keyFile: undefined, hostKey: undefined, ...storeOptions }, timeoutMs)
              : probeSftp(inbox, config.agent.sftp_key_file, timeoutMs),
    });
  }
  // Stores every central host shares: a host that cannot reach one fails its steps, so the check says so first.
  const stores = [
    { target: 'centre inbox', url: config.centre.inbox, access: { keyFile: config.centre.inbox_key_file, hostKey: config.centre.inbox_host_key, secret: loaded.secret('centre.inbox_secret'), accessKeyId: config.centre.inbox_access_key_id } },
    { target: 'feed store', url: config.feed.store, access: { keyFile: config.feed.store_key_file, hostKey: config.feed.store_host_key, secret: loaded.secret('feed.store_secret'), accessKeyId: config.feed.store_access_key_id } },
    { target: 'archive store', url: config.archive.url, access: { keyFile: config.archive.key_file, hostKey: config.archive.host_key, secret: loaded.secret('archive.secret'), accessKeyId: config.archive.access_key_id } },
  ];
  for (const { target, url, access } of stores) {
    if (!url) continue;
    probes.push({
      target,
      address: url.startsWith('file:') ? new URL(url).pathname : showAddress(url),
      probe: () => (url.startsWith('file:') ? probeStoreDir(new URL(url).pathname) : probeConfiguredStore(url, access, timeoutMs)),
    });
  }
  if (config.glassbeam.url) {
    probes.push({ target: 'glassbeam sftp', address: showAddress(config.glassbeam.url), probe: () => probeSftp(config.glassbeam.url!, config.glassbeam.key_file, timeoutMs) });
  }
  const rows = await Promise.all(
    probes.map(async ({ target, address, probe }): Promise<CheckRow> => {
      const started = performance.now();
      try {
        const outcome = await probe();
        return { target, address, ok: true, latencyMs: Math.round(performance.now() - started), note: outcome.note ?? '', error: '' };
      } catch (error) {
        const hint = (error as { hint?: string }).hint;
        return { target, address, ok: false, latencyMs: Math.round(performance.now() - started), note: '', error: messageOf(error) + (hint ? ` (${hint})` : '') };
      }
    }),
  );
  // A server whose key is not pinned is accepted whatever key it shows: a man in the middle would be too.
  const rowOfSetting: Record<string, string> = { 'glassbeam.url': 'glassbeam sftp', 'agent.inbox': 'central inbox', 'centre.inbox': 'centre inbox', 'feed.store': 'feed store', 'archive.url': 'archive store' };
  for (const target of sftpTargets(loaded).filter((candidate) => !candidate.pinned)) {
    const row = rows.find((candidate) => candidate.target === rowOfSetting[target.urlKey]);
    if (!row?.ok) continue;
    const seen = await fetchHostKey(target.host, target.port, timeoutMs).catch(() => undefined);
    row.warning = `host key not pinned (${target.pinKey} unset${seen ? `; the server shows ${seen}` : ''}): run \`ganymede config pin-host-keys\``;
  }
  return { configFile: loaded.path ?? null, rows, ok: rows.every((row) => row.ok) };
}

export function describeConfigCheck(result: ConfigCheckResult): string {
  const head = `config: ${result.configFile ?? 'no file (defaults and GANYMEDE_* environment)'}`;
  if (result.rows.length === 0) return `${head}\nnothing to check: the configuration names no server (see README, "Configuration")`;
  const table = renderTable(
    ['TARGET', 'ADDRESS', 'RESULT', 'LATENCY', 'DETAIL'],
    result.rows.map((row) => [
      row.target, row.address, !row.ok ? paint.red('FAILED') : row.warning ? paint.yellow('WARNING') : paint.green('ok'), `${row.latencyMs} ms`,
      row.ok ? [row.note, row.warning].filter(Boolean).join('; ') : row.error,
    ]),
  );
  const failed = result.rows.filter((row) => !row.ok).length;
  const warned = result.rows.filter((row) => row.ok && row.warning).length;
  const warnings = warned === 0 ? '' : `, ${warned} with a warning`;
  return `${head}\n${table}\n${failed === 0 ? (warned === 0 ? `all ${result.rows.length} targets ok` : `all ${result.rows.length} targets answer${warnings}`) : `${failed} of ${result.rows.length} targets failed${warnings}`}`;
}
