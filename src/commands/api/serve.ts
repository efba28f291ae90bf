// `ganymede api`: serves the status API until SIGTERM or SIGINT, then drains and exits 0.
import { configError, unreachableError, usageError } from '../../errors.js';
import { getPath, type LoadedConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { createLogger } from '../../log.js';
import { createApiServer, listen, stopServer } from '../../api/server.js';
import { RequestStats } from '../../api/prometheus.js';
import type { AuthFailureLimitOptions } from '../../api/rate-limit.js';
import { serverTlsOptions, type ApiTlsOptions } from '../../api/tls.js';
import { openStateDb } from '../../state/db.js';
import { openInboxUploads } from '../../inbox/uploads.js';

export interface ApiServeOptions {
  loaded: LoadedConfig;
  /** Resolves when the server should stop; defaults to the first SIGTERM or SIGINT. */
  stopSignal?: Promise<unknown>;
  onListening?: (address: { host: string; port: number; tls: boolean }) => void;
  /** The address came from --listen: a host that cannot be listened on is then a usage error (exit 2). */
  listenFromFlag?: boolean;
  /** How long an idle keep-alive connection stays open; Node's default (5 s) when absent. Tests make it long. */
  keepAliveTimeoutMs?: number;
}

export interface ApiSecuritySettings {
  tls: ApiTlsOptions | undefined;
  authFailures: AuthFailureLimitOptions | undefined;
}

/**
 * api.tls.* and api.auth_failure_*. Read by key (not typed) so that this works whether or not the
 * schema declares them yet; the schema validates their types, this checks that they fit together.
 */
export function apiSecuritySettings(config: Config): ApiSecuritySettings {
  const text = (key: string) => {
    const value = getPath(config, key);
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const [certFile, keyFile, clientCaFile, adminClientCertName] = ['cert_file', 'key_file', 'client_ca_file', 'admin_client_cert_name'].map((key) => text(`api.tls.${key}`));
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw configError(`api.tls: ${certFile ? 'api.tls.key_file' : 'api.tls.cert_file'} is not set`, { hint: 'HTTPS needs both api.tls.cert_file and api.tls.key_file' });
  }
  if (clientCaFile && !certFile) throw configError('api.tls.client_ca_file is set but HTTPS is not', { hint: 'set api.tls.cert_file and api.tls.key_file too' });
  if (adminClientCertName && !clientCaFile) throw configError('api.tls.admin_client_cert_name is set without api.tls.client_ca_file', { hint: 'set the client CA, or remove the name' });
  const count = (key: string) => {
    const value = getPath(config, key);
    return typeof value === 'number' && value > 0 ? value : undefined;
  };
  const [maxFailures, maxGlobalFailures] = [count('api.auth_failure_limit'), count('api.auth_failure_global_limit')];
  return {
    tls: certFile && keyFile ? { certFile, keyFile, clientCaFile, adminClientCertName } : undefined,
    // 0 (or no setting) turns a limit off; with both off there is no limiter.
    authFailures:
      maxFailures || maxGlobalFailures
        ? { maxFailures: maxFailures ?? Number.POSITIVE_INFINITY, maxGlobalFailures, windowMs: count('api.auth_failure_window_ms') ?? 60_000 }
        : undefined,
  };
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);

const drainGraceMs = 10_000;

function splitListen(listenAt: string): { host: string; port: number } {
  const at = listenAt.lastIndexOf(':');
  return { host: listenAt.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(listenAt.slice(at + 1)) };
}

function firstSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

export async function runApiServe(options: ApiServeOptions): Promise<{ stoppedBy: string }> {
  const { config } = options.loaded;
  const log = createLogger('api');
  const adminToken = options.loaded.secret('api.admin_token');
  if (!adminToken) log.warn('no admin token configured (api.admin_token_file or GANYMEDE_API_ADMIN_TOKEN): admin endpoints answer 401');
  const security = apiSecuritySettings(config);
  // Read before the database is opened: a bad certificate or key stops the start with nothing to close.
  const tls = security.tls && serverTlsOptions(security.tls);
  const stopSignal = options.stopSignal ?? firstSignal();
  const uploads = await openInboxUploads(options.loaded);
  if (uploads?.unavailable) log.warn(`${uploads.unavailable}: agents with agent.inbox "api" will be refused`);
  // GET /v1/warehouse/… reads MongoDB, connected on its first request: the API serves everything else without it.
  const warehouse = config.mongodb.url ? (await import('../../warehouse/client.js')).lazyWarehouse(options.loaded) : undefined;
  const db = await openStateDb(options.loaded);
  const server = createApiServer({
    ...security,
    tlsServerOptions: tls,
    db,
    stats: new RequestStats(),
    log,
    adminToken,
    maxBodyBytes: config.api.max_body_bytes,
    maxEventsPerRequest: config.api.max_events_per_request,
    eventLimits: { maxEventsPerTxn: config.api.max_events_per_txn, maxEventsPerGeoPerMinute: config.api.max_events_per_geo_per_minute },
    maxBackfillHours: config.centre.max_backfill_hours,
    hostDeadAfterMs: config.centre.host_dead_after_ms,
    requestTimeoutMs: config.api.request_timeout_ms,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs,
    uploads,
    warehouse: warehouse && (() => warehouse.db()),
    console: { loaded: options.loaded, sessionHours: config.api.console_session_hours },
  });
  try {
    const { host, port } = splitListen(config.api.listen);
    try {
      const address = await listen(server, host, port);
      const scheme = security.tls ? 'https' : 'http';
      log.info(`listening on ${scheme}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}${security.tls?.clientCaFile ? ' (client certificates required for GEOs)' : ''}`);
      if (!security.tls && !isLoopback(host)) log.warn(`plain HTTP on ${config.api.listen}: tokens cross the network in clear text; set api.tls.cert_file and api.tls.key_file`);
      options.onListening?.({ host: address.address, port: address.port, tls: security.tls !== undefined });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw unreachableError(`cannot listen on ${config.api.listen}: the address is in use`, 'is another `ganymede api` running? change api.listen');
      const why = code ?? (error as Error).message;
      if (options.listenFromFlag) throw usageError(`--listen ${config.api.listen}: cannot listen there (${why})`, 'give a host:port of this machine, e.g. 127.0.0.1:8080');
      throw configError(`cannot listen on ${config.api.listen}: ${why}`, { hint: 'check api.listen' });
    }
    const reason = await stopSignal;
    log.info(`stopping (${String(reason)}): finishing requests in flight`);
    await stopServer(server, drainGraceMs);
    log.info('stopped');
    return { stoppedBy: String(reason) };
  } finally {
    if (server.listening) await stopServer(server, 0);
    await Promise.all([db.end().catch(() => undefined), warehouse?.close()]);
  }
}
