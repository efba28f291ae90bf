// The status API server: node:http, or node:https when given a certificate (TLS 1.2+, optionally
// mutual TLS), one log line per request, never a crash on bad input, failed authentications limited per
// source address, an audit row for every admin change, and a graceful stop on SIGTERM (stop accepting,
// finish what is in flight, close idle keep-alive sockets).
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Db } from '../state/db.js';
import type { Logger } from '../log.js';
import { messageOf } from '../errors.js';
import { recordAudit } from '../state/audit.js';
import { authenticateRequest, principalName, type Principal } from './auth.js';
import { HttpError, readJsonBody, sendError, sendJson } from './http.js';
import { matchRoute, type RouteResult } from './routes.js';
import { renderMetrics, type RequestStats } from './prometheus.js';
import { AuthFailureLimiter, sourceAddressOf, type AuthFailureLimitOptions } from './rate-limit.js';
import { serverTlsOptions, type ApiTlsOptions } from './tls.js';
import { loggableTarget, parseRequestTarget, type RequestTarget } from './request-target.js';
import { EventWriter, type EventLimits } from './event-limits.js';
import type { InboxUploads } from '../inbox/uploads.js';
import type { Db as MongoDb } from 'mongodb';
import type { ConsoleServer, ConsoleSettings } from '../console/context.js';

export interface ApiServerOptions {
  db: Db;
  /** Request counts and latency for /metrics; one per server. */
  stats: RequestStats;
  log: Logger;
  adminToken: string | undefined;
  maxBodyBytes: number;
  maxEventsPerRequest: number;
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open; Node's default when absent. */
  keepAliveTimeoutMs?: number | undefined;
  /** HTTPS with this certificate and key (TLS 1.2+), and mutual TLS with a client CA; plain HTTP when absent. */
  tls?: ApiTlsOptions | undefined;
  /** serverTlsOptions(tls) when already read (the files are read once); read here otherwise. */
  tlsServerOptions?: HttpsServerOptions | undefined;
  /** Failed authentications allowed per source address; no limit when absent. */
  authFailures?: AuthFailureLimitOptions | undefined;
  /** Stored events per transaction and per GEO and minute; defaultEventLimits when absent. */
  eventLimits?: EventLimits | undefined;
  /** How many hours back a GEO's token may open an hour (centre.max_backfill_hours); no bound when absent. */
  maxBackfillHours?: number | undefined;
  /** centre.host_dead_after_ms, for /v1/hosts and /metrics; its default when absent. */
  hostDeadAfterMs?: number | undefined;
  /** Pre-signed uploads into centre.inbox when it is an object store. */
  uploads?: InboxUploads | undefined;
  /** The MongoDB warehouse, for GET /v1/warehouse/…; absent when mongodb.url is not set. */
  warehouse?: (() => Promise<MongoDb>) | undefined;
  /** The web console under /console (src/console/); not served when absent. */
  console?: (ConsoleSettings & { sessionHours: number }) | undefined;
}

export type ApiServer = HttpServer | HttpsServer;

interface ServerState {
  options: ApiServerOptions;
  limiter: AuthFailureLimiter | undefined;
  events: EventWriter;
  /** The console's share of the server: the same database, log, admin token, TLS and limiter. */
  console: ConsoleServer | undefined;
}

const unreachableDbCodes = new Set(['ECONNREFUSED', 'PROTOCOL_CONNECTION_LOST', 'ETIMEDOUT', 'ER_CON_COUNT_ERROR', 'ECONNRESET', 'ER_SERVER_SHUTDOWN']);

/** Who the caller turned out to be, kept for the log line even when the route then fails. */
interface Caller {
  principal?: Principal | undefined;
  /** Who is signed in to the console, for a /console request. */
  consoleUser?: string;
}

const isConsolePath = (pathname: string) => pathname === '/console' || pathname.startsWith('/console/');

async function handle({ options, limiter, events, console: consoleServer }: ServerState, target: RequestTarget, request: IncomingMessage, response: ServerResponse, caller: Caller): Promise<void> {
  const method = request.method ?? 'GET';
  const { pathname } = target;
  if (consoleServer && isConsolePath(pathname)) {
    // The console signs in with a session cookie, not a bearer token: it answers for itself, in HTML.
    const { serveConsole } = await import('../console/router.js');
    await serveConsole(consoleServer, target, request, response, caller);
    return;
  }
  if (pathname === '/metrics' && method === 'GET') {
    // Prometheus scrapes without a token: the numbers hold no secrets; keep api.listen on a private address.
    const text = await renderMetrics(options.db, options.stats, options.hostDeadAfterMs);
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    response.end(text);
    return;
  }
  const matched = matchRoute(method, pathname);
  const source = sourceAddressOf(request);
  const principal =
    pathname === '/v1/health'
      ? ({ kind: 'admin' } as const)
      : await authenticateRequest(request, source, { db: options.db, adminToken: options.adminToken, tls: options.tls, limiter, log: options.log });
  if (pathname !== '/v1/health') caller.principal = principal;
  const result = await matched.route.handle({
    db: options.db,
    principal,
    params: matched.params,
    query: target.query,
    body: () => readJsonBody(request, options.maxBodyBytes),
    maxEventsPerRequest: options.maxEventsPerRequest,
    events,
    maxBackfillHours: options.maxBackfillHours,
    hostDeadAfterMs: options.hostDeadAfterMs,
    uploads: options.uploads,
    warehouse: options.warehouse,
  });
  if (principal.kind === 'admin' && pathname !== '/v1/health') await auditAdminAction(options, method, pathname, result, source);
  sendJson(response, result.status, result.body);
}

/** The reply to a request whose handling threw: 4xx for what the client did wrong, 503 or 500 otherwise. */
function replyToError(options: ApiServerOptions, request: IncomingMessage, response: ServerResponse, error: unknown, target: string): void {
  // request.socket is gone once the body stream was destroyed (a 413 mid-body); the response's is what matters.
  if ((!response.socket || response.socket.destroyed) && !(error instanceof HttpError)) {
    // The client went away mid-request (its body cut short): nobody is left to answer.
    options.log.warn(`${request.method} ${target}: the client closed the connection before the reply (${(error as { code?: string }).code ?? messageOf(error)})`);
    return;
  }
  if (response.headersSent) {
    options.log.error(`internal error on ${request.method} ${target} after the reply began: ${messageOf(error)}`);
    response.destroy();
    return;
  }
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
  options.log.error(`internal error on ${request.method} ${target}: ${messageOf(error)}`, { stack: (error as Error)?.stack?.split('\n')[1]?.trim() });
  sendError(response, 500, 'internal error; the API log has the details');
}

/**
 * One request, start to end. Nothing in here may reject: a failure of the reply itself or of the log line
 * ends this request's connection, never the process (an unhandled rejection would exit it).
 */
async function serveRequest(state: ServerState, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const { options } = state;
  const started = performance.now();
  const caller: Caller = {};
  let shown = loggableTarget(request.url);
  try {
    const target = parseRequestTarget(request.url);
    shown = target.pathname;
    await handle(state, target, request, response, caller);
  } catch (error) {
    try {
      replyToError(options, request, response, error, shown);
    } catch (replyError) {
      options.log.error(`could not answer ${request.method} ${shown}: ${messageOf(replyError)}`);
      response.destroy();
    }
  } finally {
    const elapsedMs = performance.now() - started;
    options.stats.record(request.method ?? 'GET', response.statusCode, elapsedMs / 1000);
    options.log.info(`${request.method} ${shown} ${response.statusCode} ${Math.round(elapsedMs)}ms`, { geo: caller.consoleUser ?? principalName(caller.principal) });
  }
}

/** What the GEO routes reply with, as far as the audit trail needs it. */
type GeoReply = { geo: { name: string; enabled: boolean; keyFingerprint: string; tokenHint: string } };

/** The admin's changes that leave an audit row, by route; the action may depend on the reply. */
const auditedRoutes: { method: string; pattern: RegExp; audit: (reply: GeoReply) => { action: string; detail: Record<string, unknown> } }[] = [
  { method: 'POST', pattern: /^\/v1\/geos$/, audit: ({ geo }) => ({ action: 'geo.add', detail: { keyFingerprint: geo.keyFingerprint } }) },
  { method: 'PATCH', pattern: /^\/v1\/geos\/[^/]+$/, audit: ({ geo }) => ({ action: geo.enabled ? 'geo.enable' : 'geo.disable', detail: { enabled: geo.enabled } }) },
  { method: 'POST', pattern: /^\/v1\/geos\/[^/]+\/rotate-token$/, audit: ({ geo }) => ({ action: 'geo.rotate-token', detail: { tokenHint: geo.tokenHint } }) },
  { method: 'POST', pattern: /^\/v1\/geos\/[^/]+\/rotate-key$/, audit: ({ geo }) => ({ action: 'geo.rotate-key', detail: { keyFingerprint: geo.keyFingerprint } }) },
];

/**
 * Records a successful admin change. The change is made by then: if the row cannot be written the reply
 * still says what happened, and the log says loudly that the trail misses it.
 */
async function auditAdminAction(options: ApiServerOptions, method: string, pathname: string, result: RouteResult, source: string): Promise<void> {
  const audited = auditedRoutes.find((candidate) => candidate.method === method && candidate.pattern.test(pathname));
  if (!audited || result.status >= 300) return;
  const reply = result.body as GeoReply;
  const { action, detail } = audited.audit(reply);
  try {
    await recordAudit(options.db, { actor: 'admin-token', action, target: `geo:${reply.geo.name}`, detail, sourceAddress: source });
  } catch (error) {
    options.log.error(`the audit trail misses ${action} of GEO ${reply.geo.name} from ${source}: ${messageOf(error)}`);
  }
}

const stopping = new WeakSet<ApiServer>();
const inFlight = new WeakMap<ApiServer, Set<ServerResponse>>();

export function createApiServer(options: ApiServerOptions): ApiServer {
  const limiter = options.authFailures ? new AuthFailureLimiter(options.authFailures) : undefined;
  const state: ServerState = {
    options,
    limiter,
    events: new EventWriter(options.db, options.eventLimits),
    console: options.console && {
      db: options.db,
      log: options.log,
      adminToken: options.adminToken,
      tls: options.tls,
      limiter,
      sessionHours: options.console.sessionHours,
      settings: { loaded: options.console.loaded },
    },
  };
  const timeouts = {
    requestTimeout: options.requestTimeoutMs,
    headersTimeout: options.requestTimeoutMs,
    ...(options.keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeout: options.keepAliveTimeoutMs }),
  };
  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
    // While draining, every reply closes its connection, so a keep-alive client cannot hold the stop up.
    if (stopping.has(server)) response.setHeader('connection', 'close');
    const responses = inFlight.get(server)!;
    responses.add(response);
    response.once('close', () => responses.delete(response));
    serveRequest(state, request, response).catch((error: unknown) => {
      // The last resort (the log itself failed): drop this connection, keep the server.
      response.destroy();
      try {
        options.log.error(`request ${loggableTarget(request.url)} failed: ${messageOf(error)}`);
      } catch {
        // nothing is left to tell
      }
    });
  };
  const server: ApiServer = options.tls
    ? createHttpsServer({ ...timeouts, ...(options.tlsServerOptions ?? serverTlsOptions(options.tls)) }, onRequest)
    : createServer(timeouts, onRequest);
  inFlight.set(server, new Set());
  // A refused handshake (an old TLS version, a client that distrusts our certificate) never becomes a request.
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: { remoteAddress?: string }) => {
    options.log.warn(`TLS handshake from ${socket.remoteAddress ?? 'unknown'} failed: ${error.code ?? messageOf(error)}`);
  });
  server.on('clientError', (error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
    options.log.warn(`malformed HTTP request refused: ${(error as NodeJS.ErrnoException).code ?? messageOf(error)}`);
  });
  return server;
}

export function listen(server: ApiServer, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Stops accepting, lets requests in flight finish for up to graceMs, then closes what is left. */
export async function stopServer(server: ApiServer, graceMs: number): Promise<void> {
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
