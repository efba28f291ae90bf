// The status API server: node:http, one log line per request, never a crash on bad input, and a
// graceful stop on SIGTERM (stop accepting, finish what is in flight, close idle keep-alive sockets).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Db } from '../state/db.js';
import type { Logger } from '../log.js';
import { messageOf } from '../errors.js';
import { authenticate, principalName, type Principal } from './auth.js';
import { HttpError, readJsonBody, sendError, sendJson } from './http.js';
import { matchRoute } from './routes.js';
import { renderMetrics, type RequestStats } from './prometheus.js';

export interface ApiServerOptions {
  db: Db;
  /** Request counts and latency for /metrics; one per server. */
  stats: RequestStats;
  log: Logger;
  adminToken: string | undefined;
  maxBodyBytes: number;
  maxEventsPerRequest: number;
  requestTimeoutMs: number;
}

const unreachableDbCodes = new Set(['ECONNREFUSED', 'PROTOCOL_CONNECTION_LOST', 'ETIMEDOUT', 'ER_CON_COUNT_ERROR', 'ECONNRESET', 'ER_SERVER_SHUTDOWN']);

async function handle(options: ApiServerOptions, request: IncomingMessage, response: ServerResponse): Promise<Principal | undefined> {
  const url = new URL(request.url ?? '/', 'http://api.invalid');
  const method = request.method ?? 'GET';
  if (url.pathname === '/metrics' && method === 'GET') {
    // Prometheus scrapes without a token: the numbers hold no secrets; keep api.listen on a private address.
    const text = await renderMetrics(options.db, options.stats);
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    response.end(text);
    return undefined;
  }
  const matched = matchRoute(method, url.pathname);
  const principal = url.pathname === '/v1/health' ? ({ kind: 'admin' } as const) : await authenticate(request, options.db, options.adminToken);
  const result = await matched.route.handle({
    db: options.db,
    principal,
    params: matched.params,
    query: url.searchParams,
    body: () => readJsonBody(request, options.maxBodyBytes),
    maxEventsPerRequest: options.maxEventsPerRequest,
  });
  sendJson(response, result.status, result.body);
  return url.pathname === '/v1/health' ? undefined : principal;
}

const stopping = new WeakSet<Server>();
const inFlight = new WeakMap<Server, Set<ServerResponse>>();

export function createApiServer(options: ApiServerOptions): Server {
  const server = createServer({ requestTimeout: options.requestTimeoutMs, headersTimeout: options.requestTimeoutMs }, (request, response) => {
    const started = performance.now();
    // While draining, every reply closes its connection, so a keep-alive client cannot hold the stop up.
    if (stopping.has(server)) response.setHeader('connection', 'close');
    const responses = inFlight.get(server)!;
    responses.add(response);
    response.once('close', () => responses.delete(response));
    let principal: Principal | undefined;
    handle(options, request, response)
      .then((who) => {
        principal = who;
      })
      .catch((error: unknown) => {
        if (error instanceof HttpError) {
          const extra = (error as HttpError & { extra?: Record<string, unknown> }).extra ?? {};
          sendError(response, error.status, error.message, { ...(error.field ? { field: error.field } : {}), ...extra }, error.headers);
          // A body we refused to read must not be parsed as the next request on this socket.
          if (error.status === 413 || error.status === 415) response.once('finish', () => request.destroy());
          return;
        }
        const code = (error as { code?: string }).code ?? '';
        if (unreachableDbCodes.has(code)) {
          options.log.error(`the Ganymede database is unreachable: ${code}`);
          sendError(response, 503, 'the Ganymede database is unreachable; try again shortly');
          return;
        }
        options.log.error(`internal error on ${request.method} ${request.url}: ${messageOf(error)}`, { stack: (error as Error).stack?.split('\n')[1]?.trim() });
        if (!response.headersSent) sendError(response, 500, 'internal error; the API log has the details');
        else response.destroy();
      })
      .finally(() => {
        const path = new URL(request.url ?? '/', 'http://api.invalid').pathname;
        const elapsedMs = performance.now() - started;
        options.stats.record(request.method ?? 'GET', response.statusCode, elapsedMs / 1000);
        options.log.info(`${request.method} ${path} ${response.statusCode} ${Math.round(elapsedMs)}ms`, { geo: principalName(principal) });
      });
  });
  inFlight.set(server, new Set());
  server.on('clientError', (error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
    options.log.warn(`malformed HTTP request refused: ${(error as NodeJS.ErrnoException).code ?? messageOf(error)}`);
  });
  return server;
}

export function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Stops accepting, lets requests in flight finish for up to graceMs, then closes what is left. */
export async function stopServer(server: Server, graceMs: number): Promise<void> {
  stopping.add(server);
  for (const response of inFlight.get(server) ?? []) {
    if (!response.headersSent) response.setHeader('connection', 'close');
  }
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(timer);
}
