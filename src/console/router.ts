// The web console under /console, served by `ganymede api` beside the status API (src/api/server.ts hands
// every /console request here). Pages are HTML from the server, readable without JavaScript. Every route but
// sign-in and the assets needs a session; every POST needs the session's form token (403 without it) and
// comes from our own pages (a browser's Sec-Fetch-Site says so); acting (retry, cancel) and the audit trail
// need the admin's session.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '../api/http.js';
import { sourceAddressOf } from '../api/rate-limit.js';
import type { RequestTarget } from '../api/request-target.js';
import { messageOf } from '../errors.js';
import { assetReply } from './assets.js';
import type { ConsoleRequest, ConsoleRoute, ConsoleServer, SessionRequest } from './context.js';
import { formTokenMatches } from './csrf.js';
import { readForm } from './form.js';
import { messagePage } from './layout.js';
import { json, page, redirect, sendReply, type ConsoleReply } from './reply.js';
import { currentSession, requireConsoleAdmin } from './session.js';
import { postSignIn, postSignOut, sessionJson, showSignIn } from './pages/sign-in.js';
import { gridJson, showGrid } from './pages/grid.js';
import { showTxn } from './pages/txn.js';
import { confirmTxnAction, postTxnAction } from './pages/txn-actions.js';
import { showCycle } from './pages/cycle.js';
import { showHealth } from './pages/health.js';
import { showAudit } from './pages/audit.js';
import { showCharts } from './pages/charts.js';

const routes: ConsoleRoute[] = [
  { method: 'GET', pattern: /^\/console\/assets\/([a-z.]+)$/, access: 'public', handle: async (request) => assetReply(request.params[0]!, request.query.get('v')) ?? notFound(request) },
  { method: 'GET', pattern: /^\/console\/sign-in$/, access: 'public', handle: showSignIn },
  { method: 'POST', pattern: /^\/console\/sign-in$/, access: 'public', handle: postSignIn },
  { method: 'POST', pattern: /^\/console\/sign-out$/, access: 'session', handle: postSignOut },
  { method: 'GET', pattern: /^\/console\/session\.json$/, access: 'public', handle: sessionJson },
  { method: 'GET', pattern: /^\/console\/?$/, access: 'session', handle: showGrid },
  { method: 'GET', pattern: /^\/console\/grid\.json$/, access: 'session', json: true, handle: gridJson },
  { method: 'GET', pattern: /^\/console\/txn\/([^/]+)$/, access: 'session', handle: showTxn },
  { method: 'GET', pattern: /^\/console\/txn\/([^/]+)\/(retry|cancel)$/, access: 'admin', handle: confirmTxnAction },
  { method: 'POST', pattern: /^\/console\/txn\/([^/]+)\/(retry|cancel)$/, access: 'admin', handle: postTxnAction },
  { method: 'GET', pattern: /^\/console\/cycle\/([^/]+)$/, access: 'session', handle: showCycle },
  { method: 'GET', pattern: /^\/console\/charts$/, access: 'session', handle: showCharts },
  { method: 'GET', pattern: /^\/console\/health$/, access: 'session', handle: showHealth },
  { method: 'GET', pattern: /^\/console\/audit$/, access: 'admin', handle: showAudit },
];

async function notFound(request: ConsoleRequest): Promise<ConsoleReply> {
  return page(messagePage(request.signedIn, 'Not found', `there is no console page ${request.request.url?.split('?')[0]?.slice(0, 200) ?? ''}`, { href: '/console', label: 'Back to the grid' }), 404);
}

const unreachableDbCodes = new Set(['ECONNREFUSED', 'PROTOCOL_CONNECTION_LOST', 'ETIMEDOUT', 'ER_CON_COUNT_ERROR', 'ECONNRESET', 'ER_SERVER_SHUTDOWN']);

function errorReply(server: ConsoleServer, request: ConsoleRequest, error: unknown, asJson: boolean): ConsoleReply {
  let status = 500;
  let message = 'internal error; the API log has the details';
  if (error instanceof HttpError) {
    status = error.status;
    message = error.message;
  } else if (unreachableDbCodes.has((error as { code?: string }).code ?? '')) {
    status = 503;
    message = 'the Ganymede database is unreachable; try again shortly';
    server.log.error(`the Ganymede database is unreachable: ${(error as { code?: string }).code}`);
  } else {
    server.log.error(`internal error on ${request.request.method} ${request.request.url?.split('?')[0]}: ${messageOf(error)}`, { stack: (error as Error)?.stack?.split('\n')[1]?.trim() });
  }
  if (asJson) return json({ error: message }, status);
  const title = status === 403 ? 'Not allowed' : status === 404 ? 'Not found' : status === 429 ? 'Too many attempts' : status >= 500 ? 'Something went wrong' : 'Cannot do that';
  return { kind: 'page', status, body: messagePage(request.signedIn, title, message, { href: '/console', label: 'Back to the grid' }), headers: error instanceof HttpError ? error.headers : undefined };
}

/** A browser says where a request came from; a POST from another site is refused whatever it carries. */
function refuseCrossSite(request: IncomingMessage): void {
  const site = String(request.headers['sec-fetch-site'] ?? '');
  if (site === 'cross-site' || site === 'same-site') throw new HttpError(403, 'this form was posted from another site; the console takes forms from its own pages only');
}

async function route(server: ConsoleServer, request: ConsoleRequest, found: ConsoleRoute): Promise<ConsoleReply> {
  const method = request.request.method;
  if (method === 'POST') {
    refuseCrossSite(request.request);
    request.form = await readForm(request.request);
  }
  if (found.access === 'public') return found.handle(request);
  request.signedIn = await currentSession(server, request.request);
  if (!request.signedIn) {
    if (found.json) return json({ error: 'not signed in, or the session ended: sign in again at /console/sign-in' }, 401);
    if (method === 'POST') return page(messagePage(undefined, 'Signed out', 'your session has ended (or never began): sign in again, then repeat what you were doing', { href: '/console/sign-in', label: 'Sign in' }), 401);
    return redirect(`/console/sign-in?next=${encodeURIComponent(request.request.url ?? '/console')}`);
  }
  const session = request as SessionRequest;
  if (method === 'POST' && !formTokenMatches(session.signedIn.csrfSecret, request.form.get('csrf'))) {
    throw new HttpError(403, 'the form token is missing or wrong (a form from an old page, or not from this console): go back, reload the page and try again');
  }
  if (found.access === 'admin') requireConsoleAdmin(session.signedIn);
  return found.handle(session);
}

/** Serves one /console request; never throws (every failure becomes a reply, or ends the connection). */
export async function serveConsole(server: ConsoleServer, target: RequestTarget, request: IncomingMessage, response: ServerResponse, caller: { consoleUser?: string }): Promise<void> {
  const consoleRequest: ConsoleRequest = { server, request, query: target.query, params: [], source: sourceAddressOf(request), form: new URLSearchParams() };
  const method = request.method === 'HEAD' ? 'GET' : (request.method ?? 'GET');
  let asJson = false;
  let reply: ConsoleReply;
  try {
    const candidates = routes.filter((candidate) => candidate.pattern.test(target.pathname));
    const found = candidates.find((candidate) => candidate.method === method);
    if (found && found.access !== 'public') asJson = found.json === true;
    if (!found) {
      consoleRequest.signedIn = await currentSession(server, request).catch(() => undefined);
      if (candidates.length > 0) throw new HttpError(405, `${request.method} is not allowed on ${target.pathname}`, undefined, { allow: [...new Set(candidates.map((candidate) => candidate.method))].join(', ') });
      reply = await notFound(consoleRequest);
    } else {
      consoleRequest.params = (found.pattern.exec(target.pathname) ?? []).slice(1);
      reply = await route(server, consoleRequest, found);
    }
  } catch (error) {
    reply = errorReply(server, consoleRequest, error, asJson);
    // A body we refused to read must not be parsed as the next request on this socket.
    if (error instanceof HttpError && (error.status === 413 || error.status === 415)) response.once('finish', () => request.destroy());
  }
  if (consoleRequest.signedIn) caller.consoleUser = consoleRequest.signedIn.user.role === 'admin' ? 'console:admin' : `console:${consoleRequest.signedIn.user.name}`;
  await sendReply(request, response, reply);
}
