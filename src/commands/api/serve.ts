// `ganymede api`: serves the status API until SIGTERM or SIGINT, then drains and exits 0.
import { configError, unreachableError } from '../../errors.js';
import type { LoadedConfig } from '../../config/load.js';
import { createLogger } from '../../log.js';
import { createApiServer, listen, stopServer } from '../../api/server.js';
import { RequestStats } from '../../api/prometheus.js';
import { openStateDb } from '../../state/db.js';

export interface ApiServeOptions {
  loaded: LoadedConfig;
  /** Resolves when the server should stop; defaults to the first SIGTERM or SIGINT. */
  stopSignal?: Promise<unknown>;
  onListening?: (address: { host: string; port: number }) => void;
}

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
  const stopSignal = options.stopSignal ?? firstSignal();
  const db = await openStateDb(options.loaded);
  const server = createApiServer({
    db,
    stats: new RequestStats(),
    log,
    adminToken,
    maxBodyBytes: config.api.max_body_bytes,
    maxEventsPerRequest: config.api.max_events_per_request,
    requestTimeoutMs: config.api.request_timeout_ms,
  });
  try {
    const { host, port } = splitListen(config.api.listen);
    try {
      const address = await listen(server, host, port);
      log.info(`listening on ${address.address}:${address.port}`);
      options.onListening?.({ host: address.address, port: address.port });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw unreachableError(`cannot listen on ${config.api.listen}: the address is in use`, 'is another `ganymede api` running? change api.listen');
      throw configError(`cannot listen on ${config.api.listen}: ${code ?? (error as Error).message}`, { hint: 'check api.listen' });
    }
    const reason = await stopSignal;
    log.info(`stopping (${String(reason)}): finishing requests in flight`);
    await stopServer(server, drainGraceMs);
    log.info('stopped');
    return { stoppedBy: String(reason) };
  } finally {
    if (server.listening) await stopServer(server, 0);
    await db.end().catch(() => undefined);
  }
}
