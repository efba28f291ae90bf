// Who is calling: the admin (operators and tools) or one GEO's agent. Tokens are compared as hashes
// in constant time; a GEO token gives access to that GEO only.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Db } from '../state/db.js';
import { findGeoByToken, type Geo } from '../state/geos.js';
import type { Logger } from '../log.js';
import { HttpError } from './http.js';
import type { AuthFailureLimiter } from './rate-limit.js';
import { checkClientCertificate, type ApiTlsOptions } from './tls.js';

export type Principal = { kind: 'admin' } | { kind: 'geo'; geo: Geo };

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export function bearerToken(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

export async function authenticate(request: IncomingMessage, db: Db, adminToken: string | undefined): Promise<Principal> {
  const token = bearerToken(request);
  if (!token) throw new HttpError(401, 'authentication required: send Authorization: Bearer <token>');
  if (adminToken && timingSafeEqual(digest(token), digest(adminToken))) return { kind: 'admin' };
  const geo = await findGeoByToken(db, token);
  if (!geo) throw new HttpError(401, 'the token is not valid (revoked, rotated or mistyped)');
  if (!geo.enabled) throw new HttpError(403, `GEO ${geo.name} is disabled`);
  return { kind: 'geo', geo };
}

export interface AuthenticateOptions {
  db: Db;
  adminToken: string | undefined;
  /** With a client CA: the client certificate must match the token. */
  tls?: ApiTlsOptions | undefined;
  /** Counts failed authentications per source address. */
  limiter?: AuthFailureLimiter | undefined;
  log: Logger;
}

/**
 * The caller of a request from `source`. The token is looked at first and a valid one is served whatever
 * failed before it; a missing or wrong token (401) and a client certificate that does not match the token
 * (403) count as failures, and past the limits they are a 429 instead, which says nothing about the token.
 * An address that keeps failing has no token looked at for a while (src/api/rate-limit.ts says when), so
 * being limited gives it no more guesses than the limits allow. A valid token of a disabled GEO is no failure.
 */
export async function authenticateRequest(request: IncomingMessage, source: string, options: AuthenticateOptions): Promise<Principal> {
  const { limiter } = options;
  if (limiter && !limiter.mayCheck(source)) throw tooManyFailures(limiter, source);
  const failed = (error: unknown) => countAuthFailure(limiter, source, options.log, error);
  let principal: Principal;
  try {
    principal = await authenticate(request, options.db, options.adminToken);
  } catch (error) {
    throw error instanceof HttpError && error.status === 401 ? failed(error) : error;
  }
  try {
    checkClientCertificate(request, principal, options.tls);
  } catch (error) {
    throw failed(error);
  }
  return principal;
}

/**
 * Counts a failed authentication from `source` (the API's, or a console sign-in's) and returns what to
 * throw: `error` itself, or the 429 once the address or everyone has used up the allowance.
 */
export function countAuthFailure(limiter: AuthFailureLimiter | undefined, source: string, log: Logger, error: unknown): unknown {
  if (!limiter) return error;
  // The failure that uses up an allowance is still told apart (401); the ones after it are not.
  const limited = limiter.blockedForMs(source) > 0 || limiter.globalBlockedForMs() > 0;
  if (limiter.recordFailure(source)) {
    log.warn(`${source}: ${limiter.maxFailures} failed authentications within ${Math.round(limiter.windowMs / 1000)} s; its wrong tokens get 429 for the rest of the window`);
  }
  if (limiter.takeGlobalNotice()) {
    log.warn(`${limiter.maxGlobalFailures} failed authentications from all addresses within ${Math.round(limiter.windowMs / 1000)} s; every wrong token gets 429 for the rest of the window`);
  }
  return limited ? tooManyFailures(limiter, source) : error;
}

/** The 429 of a limited address or of a spent global budget: the same whether or not its token was looked at. */
export function tooManyFailures(limiter: AuthFailureLimiter, source: string): HttpError {
  const own = limiter.blockedForMs(source);
  const waitMs = Math.max(own, limiter.globalBlockedForMs(), 1);
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  const where = own > 0 ? `from ${source}` : 'from many addresses';
  return new HttpError(429, `too many failed authentications ${where}; try again in ${seconds} s`, undefined, { 'retry-after': String(seconds) });
}

export function requireAdmin(principal: Principal): void {
  if (principal.kind !== 'admin') throw new HttpError(403, `this needs the admin token; GEO ${principal.geo.name}'s token cannot do it`);
}

/** Admin, or the GEO itself. */
export function requireGeo(principal: Principal, geoName: string): void {
  if (principal.kind === 'geo' && principal.geo.name !== geoName) {
    throw new HttpError(403, `GEO ${principal.geo.name}'s token cannot act for GEO ${geoName}`);
  }
}

export const principalName = (principal: Principal | undefined) =>
  principal === undefined ? undefined : principal.kind === 'admin' ? 'admin' : principal.geo.name;
