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
 * The caller of a request from `source`: an address past its failed authentications is refused (429)
 * before its token is looked at; a missing or wrong token (401) and a client certificate that does not
 * match the token (403) count as failures, a valid token of a disabled GEO does not.
 */
export async function authenticateRequest(request: IncomingMessage, source: string, options: AuthenticateOptions): Promise<Principal> {
  const { limiter } = options;
  const blockedMs = limiter?.blockedForMs(source) ?? 0;
  if (blockedMs > 0) {
    const seconds = Math.max(1, Math.ceil(blockedMs / 1000));
    throw new HttpError(429, `too many failed authentications from ${source}; try again in ${seconds} s`, undefined, { 'retry-after': String(seconds) });
  }
  const failed = (error: unknown) => {
    if (limiter?.recordFailure(source)) {
      options.log.warn(`${source}: ${limiter.maxFailures} failed authentications within ${Math.round(limiter.windowMs / 1000)} s; refusing it (429) for the rest of the window`);
    }
    return error;
  };
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
