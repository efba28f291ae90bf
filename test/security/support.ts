// What the security tests share: the real API server (createApiServer) with TLS and rate-limit options
// passed directly, over a fresh migrated database; a raw client that controls TLS and the source address;
// and the audit table, created from the DDL proposed for migration 3 until that migration exists.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { SecureVersion } from 'node:tls';
import { RequestStats } from '../../src/api/prometheus.js';
import type { AuthFailureLimitOptions } from '../../src/api/rate-limit.js';
import { createApiServer, listen, stopServer, type ApiServerOptions } from '../../src/api/server.js';
import type { ApiTlsOptions } from '../../src/api/tls.js';
import { GanymedeError } from '../../src/errors.js';
import { configureLogging, createLogger } from '../../src/log.js';
import { openStateDb, type Db } from '../../src/state/db.js';
import { addGeo } from '../../src/state/geos.js';
import { testCentre, type TestCentre } from '../support/ganymede.js';

export interface SecureApi {
  url: string;
  port: number;
  adminToken: string;
  db: Db;
  centre: TestCentre;
  stop(): Promise<void>;
}

/** The status API on 127.0.0.1 (or `host`) and a free port, with the given TLS and limit options. */
export async function startSecureApi(
  options: { tls?: ApiTlsOptions; authFailures?: AuthFailureLimitOptions; host?: string; server?: Partial<Pick<ApiServerOptions, 'eventLimits' | 'maxBackfillHours' | 'requestTimeoutMs' | 'maxBodyBytes'>> } = {},
): Promise<SecureApi> {
  const adminToken = `admin_${randomBytes(24).toString('base64url')}`;
  const centre = await testCentre('sec');
  const db = await openStateDb(centre.loaded);
  const server = createApiServer({
    db,
    stats: new RequestStats(),
    log: createLogger('api'),
    adminToken,
    maxBodyBytes: 1024 * 1024,
    maxEventsPerRequest: 500,
    requestTimeoutMs: 15_000,
    tls: options.tls,
    authFailures: options.authFailures,
    ...options.server,
  });
  const host = options.host ?? '127.0.0.1';
  const { port } = await listen(server, host, 0);
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    adminToken,
    db,
    centre,
    async stop() {
      await stopServer(server, 0);
      await db.end();
      await centre.dispose();
    },
  };
}

/** A GEO straight in the database (its key is not what these tests are about). */
export async function addTestGeo(db: Db, name: string): Promise<string> {
  const added = await addGeo(db, { name, publicKey: 'not checked here', keyFingerprint: 'F'.repeat(40) });
  if (!added) throw new Error(`GEO ${name} exists already`);
  return added.token;
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: any;
}

export interface CallOptions {
  token?: string;
  json?: unknown;
  /** The source address to connect from, e.g. 127.0.0.2 (all of 127/8 is this machine on Linux). */
  localAddress?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  maxVersion?: SecureVersion;
}

/** One request on a fresh connection (no agent, so no TLS session is reused between calls). */
export function call(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<Reply> {
  const url = new URL(path, baseUrl);
  const payload = options.json === undefined ? undefined : JSON.stringify(options.json);
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (payload !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) });
  const tls = url.protocol === 'https:' ? { ca: options.ca, cert: options.cert, key: options.key, maxVersion: options.maxVersion } : {};
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = send(url, { method, headers, agent: false, localAddress: options.localAddress, ...tls }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: kept as text
        }
        resolve({ status: response.statusCode!, headers: response.headers, body });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

/** The API's log lines, collected instead of printed. */
export function captureApiLog(): string[] {
  const lines: string[] = [];
  configureLogging({ level: 'info', format: 'text', write: (line) => void lines.push(line) });
  return lines;
}

/** A one-line GanymedeError with this exit code, matching the pattern. */
export function isGanymedeError(exitCode: number, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof GanymedeError, `not a GanymedeError: ${(error as Error)?.stack ?? String(error)}`);
    assert.equal(error.exitCode, exitCode, `exit code of: ${error.message}`);
    assert.doesNotMatch(`${error.message}${error.hint ?? ''}`, /\n/, 'one line');
    assert.match(error.message, pattern);
    return true;
  };
}
