// The console's static assets, built into the package (no CDN, nothing fetched from elsewhere). Pages ask
// for each by its content hash (?v=…), so a browser keeps it until the next version changes the hash.
import { createHash } from 'node:crypto';
import { consoleCss } from './assets/console-css.js';
import { consoleJs } from './assets/console-js.js';
import type { ConsoleReply } from './reply.js';

interface Asset {
  contentType: string;
  body: Buffer;
  hash: string;
}

function asset(contentType: string, text: string): Asset {
  const body = Buffer.from(text, 'utf8');
  return { contentType, body, hash: createHash('sha256').update(body).digest('base64url').slice(0, 16) };
}

const assets = new Map<string, Asset>([
  ['console.css', asset('text/css; charset=utf-8', consoleCss)],
  ['console.js', asset('text/javascript; charset=utf-8', consoleJs)],
]);

/** The URL a page links the asset with. */
export function assetHref(name: 'console.css' | 'console.js'): string {
  return `/console/assets/${name}?v=${assets.get(name)!.hash}`;
}

/** The asset's reply, or undefined when there is no such asset. */
export function assetReply(name: string, version: string | null): ConsoleReply | undefined {
  const found = assets.get(name);
  if (!found) return undefined;
  return { kind: 'asset', contentType: found.contentType, body: found.body, etag: `"${found.hash}"`, immutable: version === found.hash };
}
