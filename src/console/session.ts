// Who is using the console. Signing in takes the admin token or a viewer token (`ganymede viewer add`) and
// nothing else: a GEO's token, or a wrong one, gets the same one message and counts against the API's
// failed-authentication limits (src/api/rate-limit.ts). A session lasts api.console_session_hours; an admin
// session also ends when the admin token changes, a viewer's when the viewer is revoked.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { countAuthFailure, tooManyFailures } from '../api/auth.js';
import { HttpError } from '../api/http.js';
import type { AuthFailureLimiter } from '../api/rate-limit.js';
import { checkClientCertificate, type ApiTlsOptions } from '../api/tls.js';
import type { Logger } from '../log.js';
import { createConsoleSession, dropExpiredConsoleSessions, findConsoleSession } from '../state/console-sessions.js';
import type { Db } from '../state/db.js';
import { findViewerByToken, noteViewerSignIn } from '../state/viewers.js';
import { cookieHeader, readCookies, sessionCookie } from './cookies.js';

export type ConsoleUser = { role: 'admin'; name: 'admin' } | { role: 'viewer'; name: string };

export interface SignedIn {
  user: ConsoleUser;
  sessionId: string;
  csrfSecret: string;
}

export interface ConsoleAuth {
  db: Db;
  log: Logger;
  adminToken: string | undefined;
  tls?: ApiTlsOptions | undefined;
  limiter?: AuthFailureLimiter | undefined;
  sessionHours: number;
}

export const signInRefusal =
  'this token cannot sign in: use the admin token or a viewer token (`ganymede viewer add NAME`); a GEO\'s token cannot sign in, and a revoked or mistyped one neither';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** Names the admin token a session was made with, without storing anything that would help guess it. */
export function credentialTagOf(adminToken: string): string {
  return createHash('sha256').update(`ganymede console admin session\n${adminToken}`, 'utf8').digest('hex').slice(0, 16);
}

const isAdminToken = (token: string, adminToken: string | undefined) => adminToken !== undefined && adminToken !== '' && timingSafeEqual(digest(token), digest(adminToken));

/** With a client CA and api.tls.admin_client_cert_name, the admin needs that certificate in the console too. */
function checkAdminCertificate(request: IncomingMessage, auth: ConsoleAuth): void {
  checkClientCertificate(request, { kind: 'admin' }, auth.tls);
}

/** Checks a token from the sign-in form and opens a session; returns the session cookie to set. */
export async function signIn(auth: ConsoleAuth, request: IncomingMessage, token: string, source: string): Promise<{ signedIn: SignedIn; cookie: string }> {
  const { limiter } = auth;
  if (limiter && !limiter.mayCheck(source)) throw tooManyFailures(limiter, source);
  const trimmed = token.trim();
  let user: ConsoleUser | undefined;
  let viewerId: number | undefined;
  if (trimmed !== '' && isAdminToken(trimmed, auth.adminToken)) user = { role: 'admin', name: 'admin' };
  else if (trimmed !== '') {
    const viewer = await findViewerByToken(auth.db, trimmed);
    if (viewer) {
      user = { role: 'viewer', name: viewer.name };
      viewerId = viewer.id;
    }
  }
  if (!user) throw countAuthFailure(limiter, source, auth.log, new HttpError(401, signInRefusal));
  if (user.role === 'admin') {
    try {
      checkAdminCertificate(request, auth);
    } catch (error) {
      throw countAuthFailure(limiter, source, auth.log, error);
    }
  }
  await dropExpiredConsoleSessions(auth.db);
  const created = await createConsoleSession(auth.db, {
    role: user.role,
    viewerId,
    credentialTag: user.role === 'admin' ? credentialTagOf(auth.adminToken!) : undefined,
    sourceAddress: source,
    hours: auth.sessionHours,
  });
  if (viewerId !== undefined) await noteViewerSignIn(auth.db, viewerId);
  const secure = auth.tls !== undefined;
  return {
    signedIn: { user, sessionId: created.sessionId, csrfSecret: created.csrfSecret },
    cookie: cookieHeader(sessionCookie, created.sessionId, { secure, maxAgeSeconds: auth.sessionHours * 3600 }),
  };
}

/** The session the request's cookie names, if it is still good; undefined sends the browser to sign in. */
export async function currentSession(auth: ConsoleAuth, request: IncomingMessage): Promise<SignedIn | undefined> {
  const sessionId = readCookies(request.headers.cookie).get(sessionCookie);
  if (!sessionId || !/^[A-Za-z0-9_-]{43}$/.test(sessionId)) return undefined;
  const session = await findConsoleSession(auth.db, sessionId);
  if (!session) return undefined;
  if (session.role === 'admin') {
    // Made with an admin token that is no longer the one configured: over.
    if (!auth.adminToken || session.credentialTag !== credentialTagOf(auth.adminToken)) return undefined;
    checkAdminCertificate(request, auth);
    return { user: { role: 'admin', name: 'admin' }, sessionId, csrfSecret: session.csrfSecret };
  }
  return { user: { role: 'viewer', name: session.viewerName! }, sessionId, csrfSecret: session.csrfSecret };
}

/** The Set-Cookie that removes the session cookie. */
export const clearSessionCookie = (auth: ConsoleAuth) => cookieHeader(sessionCookie, '', { secure: auth.tls !== undefined, maxAgeSeconds: 0 });

export function requireConsoleAdmin(signedIn: SignedIn): void {
  if (signedIn.user.role !== 'admin') throw new HttpError(403, `viewer ${signedIn.user.name} can look but not act: this needs the admin token`);
}
