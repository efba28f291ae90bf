// What the status API tests share: a raw HTTP client (node:http, so a test controls every byte and header
// and still sees the reply when the server closes early), GEOs made through the API, and a seeded PRNG.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { generateKeyPair } from '../../src/openpgp/keys.js';
import { configureLogging } from '../../src/log.js';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The parsed JSON body; undefined when the body is not JSON. */
  body: any;
}

export interface SendOptions {
  token?: string | undefined;
  /** A value to send as JSON; `raw` sends bytes exactly as given. */
  json?: unknown;
  raw?: string | Buffer;
  /** Defaults to application/json when there is a body; null sends no Content-Type at all. */
  contentType?: string | null;
  headers?: Record<string, string>;
  /** Sends the body in chunks without a Content-Length, as a streaming client would. */
  chunked?: boolean;
}

/** Every reply a test got, so a file can assert at the end that no request ever made the server fail. */
export const seenStatuses: number[] = [];

export function send(baseUrl: string, method: string, path: string, options: SendOptions = {}): Promise<Reply> {
  const payload = options.raw ?? (options.json === undefined ? undefined : JSON.stringify(options.json));
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (payload !== undefined) {
    if (options.contentType !== null) headers['content-type'] = options.contentType ?? 'application/json';
    if (!options.chunked) headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    let answered = false;
    const outgoing = httpRequest(new URL(path, baseUrl), { method, headers, agent: false }, (response) => {
      answered = true;
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        seenStatuses.push(response.statusCode!);
        resolve({ status: response.statusCode!, headers: response.headers, text, body });
      });
    });
    // A server that refuses a body (413, 415) may close before we finish writing it: that is fine once it has answered.
    outgoing.on('error', (error) => {
      if (!answered) reject(error);
    });
    if (options.chunked && payload !== undefined) {
      const bytes = Buffer.from(payload);
      for (let at = 0; at < bytes.length; at += 16_384) outgoing.write(bytes.subarray(at, at + 16_384));
      outgoing.end();
    } else outgoing.end(payload);
  });
}

/** A client bound to one API and (optionally) one token. */
export function clientFor(baseUrl: string, token?: string) {
  const call = (method: string, path: string, options: SendOptions = {}) => send(baseUrl, method, path, { token, ...options });
  return {
    get: (path: string, options?: SendOptions) => call('GET', path, options),
    post: (path: string, json?: unknown, options?: SendOptions) => call('POST', path, { json, ...options }),
    patch: (path: string, json?: unknown, options?: SendOptions) => call('PATCH', path, { json, ...options }),
    call,
  };
}

let publicKey: Promise<string> | undefined;
/** One GEO signing key for the whole file: the API only checks it is a usable public key. */
export const geoPublicKey = () => (publicKey ??= generateKeyPair({ name: 'test GEO' }).then((pair) => pair.publicKeyArmored));

export interface TestGeo {
  name: string;
  token: string;
}

export async function addGeo(baseUrl: string, adminToken: string, name: string): Promise<TestGeo> {
  const reply = await send(baseUrl, 'POST', '/v1/geos', { token: adminToken, json: { name, publicKey: await geoPublicKey() } });
  if (reply.status !== 201) throw new Error(`adding GEO ${name}: ${reply.status} ${reply.text}`);
  return { name, token: reply.body.token };
}

/** The cycle n hours after 2026-01-01T00, as the API writes cycles. */
export function cycleAt(hours: number): string {
  return new Date(Date.UTC(2026, 0, 1) + hours * 3_600_000).toISOString().slice(0, 13);
}

export const validFile = (name = 'geo-2026010100.tar.zst.gpg') => ({ name, size: 1234, sha256: 'ab'.repeat(32) });

/** mulberry32: a tiny seeded PRNG, so generated inputs are the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Collects the API's log lines instead of printing them (the logger is per process; node:test runs a file per process). */
export function captureLog(): string[] {
  const lines: string[] = [];
  configureLogging({ level: 'info', format: 'text', write: (line) => void lines.push(line) });
  return lines;
}

export interface RawReply {
  status: number;
  /** Everything the server sent, head and body. */
  text: string;
}

/**
 * Sends bytes exactly as given on a fresh socket and reads until the server closes it: for request targets
 * (`//`, `/\`) that fetch and node:http would normalise or refuse to send.
 */
export function sendRaw(port: number, bytes: string | Buffer, host = '127.0.0.1'): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => (chunks.length > 0 ? undefined : reject(error)));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      seenStatuses.push(status);
      resolve({ status, text });
    });
    // Not end(): node's server drops a request whose client half-closed before the answer was ready.
    socket.write(bytes);
  });
}

/** A GET of `target` as written, with Connection: close. */
export const rawGet = (port: number, target: string, headers = '') => sendRaw(port, `GET ${target} HTTP/1.1\r\nHost: api.test\r\n${headers}Connection: close\r\n\r\n`);
