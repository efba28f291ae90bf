// The request target of a status API request, read once as text: origin-form only (a path and an optional
// query), never resolved as a URL. `new URL('//a:99999', base)` reads a host out of such a target and
// throws, which once took the whole API down; a target that is not a plain path is a 400 here instead.
import { HttpError } from './http.js';

export interface RequestTarget {
  pathname: string;
  query: URLSearchParams;
}

// RFC 3986: a path segment is pchar (unreserved, pct-encoded, sub-delims, ':' and '@'); a query adds '/' and '?'.
const segmentPattern = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+$/;
const queryPattern = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/;

const malformed = (what: string) => new HttpError(400, `malformed request target: ${what}; send a path such as /v1/health`);

/** The path and query of a request; a 400 for anything else (`//`, `/\`, `*`, a URL with a host, bad %-escapes). */
export function parseRequestTarget(raw: string | undefined): RequestTarget {
  const text = raw ?? '';
  const queryAt = text.indexOf('?');
  const pathname = queryAt === -1 ? text : text.slice(0, queryAt);
  const query = queryAt === -1 ? '' : text.slice(queryAt + 1);
  if (!pathname.startsWith('/')) throw malformed('it must be a path starting with /');
  const segments = pathname.split('/').slice(1);
  for (const [index, segment] of segments.entries()) {
    // A trailing slash is tolerated (no route has one, so it is a 404); an empty segment inside is not.
    if (segment === '' && index === segments.length - 1) continue;
    if (segment === '') throw malformed('an empty path segment (//)');
    if (segment === '.' || segment === '..') throw malformed('a . or .. path segment');
    if (!segmentPattern.test(segment)) throw malformed('a character that must be percent-encoded, or a bad %-escape, in the path');
  }
  if (!queryPattern.test(query)) throw malformed('a character that must be percent-encoded, or a bad %-escape, in the query');
  return { pathname, query: new URLSearchParams(query) };
}

/** The target as a log may show it: printable ASCII only (anything else %-escaped), at most 200 characters. */
export function loggableTarget(raw: string | undefined): string {
  const text = (raw ?? '').slice(0, 200);
  return text.replace(/[^\x21-\x7e]/g, (char) => `%${char.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`) + ((raw ?? '').length > 200 ? '…' : '');
}
