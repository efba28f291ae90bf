// What a console route answers, and how it goes out: every reply carries the console's security headers (a
// strict Content-Security-Policy: no inline script or style, nothing from elsewhere), pages are never cached,
// and large bodies are compressed, brotli or gzip, as the browser takes them (the 200-GEO grid is mostly
// repeated markup). Form tokens are masked afresh in every page (src/console/csrf.ts), so compressing a page
// leaks no secret.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { Html } from './html.js';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

export const contentSecurityPolicy =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const securityHeaders: Record<string, string> = {
  'content-security-policy': contentSecurityPolicy,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

export type ConsoleReply =
  | { kind: 'page'; status: number; body: Html; cookies?: string[]; headers?: Record<string, string> }
  | { kind: 'json'; status: number; body: unknown }
  | { kind: 'redirect'; location: string; cookies?: string[] }
  | { kind: 'asset'; contentType: string; body: Buffer; etag: string; immutable: boolean };

export const page = (body: Html, status = 200, cookies?: string[]): ConsoleReply => ({ kind: 'page', status, body, cookies });
export const json = (body: unknown, status = 200): ConsoleReply => ({ kind: 'json', status, body });
/** 303: after a POST the browser GETs the target, so a reload never repeats the action. */
export const redirect = (location: string, cookies?: string[]): ConsoleReply => ({ kind: 'redirect', location, cookies });

/** Bodies under this go out as they are: compressing them costs more than it saves. */
const minCompressBytes = 2048;

export type ContentCoding = 'br' | 'gzip';

/**
 * The coding to send a body in, from the request's Accept-Encoding: brotli when the client takes it (every
 * browser over HTTPS, curl --compressed), else gzip, else none. A coding with q=0 is refused; `*` stands
 * for any coding not named.
 */
export function chooseContentCoding(acceptEncoding: string | string[] | undefined): ContentCoding | undefined {
  const weights = new Map<string, number>();
  for (const item of String(acceptEncoding ?? '').split(',')) {
    const [name, ...params] = item.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((param) => /^\s*q\s*=\s*([\d.]+)\s*$/.exec(param)?.[1]).find((value) => value !== undefined);
    weights.set(name.trim(), q === undefined ? 1 : Number(q) || 0);
  }
  const weight = (coding: ContentCoding) => weights.get(coding) ?? weights.get('*') ?? 0;
  if (weight('br') > 0 && weight('br') >= weight('gzip')) return 'br';
  if (weight('gzip') > 0) return 'gzip';
  return undefined;
}

// The grid of 200 GEOs × 48 hours is ~1 MB of HTML, mostly the same few words: brotli at quality 5 makes it
// ~40 KB in ~8 ms (quality 4: ~63 KB in ~5 ms; gzip level 1: ~95 KB in ~4 ms; level 6 ~80 KB in ~10 ms).
// Quality 5 is where brotli starts matching over its whole window; higher ones cost far more for little.
const brotliOptions = (bytes: number) => ({ params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT, [constants.BROTLI_PARAM_SIZE_HINT]: bytes } });

async function sendBody(request: IncomingMessage, response: ServerResponse, status: number, headers: Record<string, string>, body: Buffer): Promise<void> {
  let bytes = body;
  if (body.length >= minCompressBytes) {
    headers.vary = 'Accept-Encoding';
    const coding = chooseContentCoding(request.headers['accept-encoding']);
    // Compressed off the event loop (zlib's thread pool): another request's page is built meanwhile.
    if (coding === 'br') bytes = await brotliAsync(body, brotliOptions(body.length));
    else if (coding === 'gzip') bytes = await gzipAsync(body, { level: 1 });
    if (coding) headers['content-encoding'] = coding;
  }
  response.writeHead(status, { ...securityHeaders, ...headers, 'content-length': String(bytes.length) });
  response.end(request.method === 'HEAD' ? undefined : bytes);
}

export async function sendReply(request: IncomingMessage, response: ServerResponse, reply: ConsoleReply): Promise<void> {
  const cookies = 'cookies' in reply && reply.cookies?.length ? { 'set-cookie': reply.cookies } : {};
  switch (reply.kind) {
    case 'page':
      for (const [name, value] of Object.entries(cookies)) response.setHeader(name, value);
      return sendBody(request, response, reply.status, { ...reply.headers, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }, Buffer.from(reply.body.text, 'utf8'));
    case 'json':
      return sendBody(request, response, reply.status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, Buffer.from(JSON.stringify(reply.body), 'utf8'));
    case 'redirect':
      for (const [name, value] of Object.entries(cookies)) response.setHeader(name, value);
      response.writeHead(303, { ...securityHeaders, location: reply.location, 'cache-control': 'no-store', 'content-length': '0' });
      response.end();
      return;
    case 'asset': {
      const headers = {
        'content-type': reply.contentType,
        etag: reply.etag,
        // An asset asked for by its content hash never changes; asked for without it, it is checked each time.
        'cache-control': reply.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      };
      if (request.headers['if-none-match'] === reply.etag) {
        response.writeHead(304, { ...securityHeaders, ...headers });
        response.end();
        return;
      }
      return sendBody(request, response, 200, headers, reply.body);
    }
  }
}
