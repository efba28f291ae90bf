// Who is calling: the admin (operators and tools) or one GEO's agent. Tokens are compared as hashes
// in constant time; a GEO token gives access to that GEO only.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Db } from '../state/db.js';
import { findGeoByToken, type Geo } from '../state/geos.js';
import { HttpError } from './http.js';

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
