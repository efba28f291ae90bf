// What agents and tools use to talk to the status API. Every failure becomes a one-line GanymedeError:
// unreachable, 429 or 5xx (retry later), 401/403 and TLS verification (a configuration matter), 409 (a
// conflict the caller decides about), anything else refused. ApiUnavailable marks the failures that a
// restarting API gives (refused or reset connections, timeouts, 502/503/504): the agent waits those out. node:http(s) rather than fetch: Node's fetch
// takes no CA or client certificate per request, and undici is not installed to give it one.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ExitCode } from '../exit-codes.js';
import { configError, GanymedeError, messageOf } from '../errors.js';
import type { Transaction } from '../state/transactions.js';
import { minTlsVersion, readPemFile } from './tls.js';
import { createLogger } from '../log.js';

const debugLog = createLogger('api client');

export interface ApiEvent {
  key: string;
  at: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  phase: string;
  table?: string;
  rows?: number;
  bytes?: number;
  message?: string;
}

/** A transaction as the API sends it (dates as ISO strings). */
export type ApiTransaction = Omit<Transaction, 'cycleStart' | 'openedAt' | 'deliveredAt' | 'warehousedAt' | 'finishedAt' | 'updatedAt'> & {
  cycleStart: string;
  openedAt: string;
  deliveredAt: string | null;
};

export class ApiConflict extends GanymedeError {
  constructor(
    message: string,
    readonly transaction: ApiTransaction | undefined,
  ) {
    super(ExitCode.refused, message);
  }
}

/**
 * The API could not be reached, or a proxy or the API said it is briefly unavailable (502, 503, 504): what a
 * deploy or a restart looks like from an agent, worth asking again. `reason` is short, for a log line.
 */
export class ApiUnavailable extends GanymedeError {
  constructor(
    message: string,
    readonly host: string,
    readonly reason: string,
    hint: string,
  ) {
    super(ExitCode.unreachable, message, { hint });
  }
}

// Connection failures another try may cure. Not ENOTFOUND (a wrong api.url far more often than a DNS blip)
// nor anything TLS: those are answered at once.
const transientCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'GMD_TIMEOUT']);
const unavailableStatuses = new Set([502, 503, 504]);

export interface ApiClientOptions {
  baseUrl: string;
  token: string;
  timeoutMs?: number;
  /** Who is calling, for messages: "GEO emea". */
  as: string;
  /** PEM CA(s) the API's certificate must chain to (api.ca_file); the system's CAs when absent. */
  caFile?: string | undefined;
  /** PEM client certificate and its key, for an API that wants one (api.client_cert_file, api.client_key_file). */
  clientCertFile?: string | undefined;
  clientKeyFile?: string | undefined;
  /** Allows http:// to a host other than this machine (api.allow_insecure): the token crosses the network in clear. */
  allowInsecure?: boolean | undefined;
}

const isLoopbackHost = (hostname: string) => hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);

/** The API's URL, refused when it would send a token in clear text to another machine. */
export function checkApiUrl(baseUrl: string, allowInsecure = false): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw configError(`api.url ${baseUrl} is not a URL`, { hint: 'write it as https://host:port' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw configError(`api.url ${baseUrl}: expected http:// or https://`, { hint: 'write it as https://host:port' });
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname) && !allowInsecure) {
    throw configError(`api.url ${url.origin} is plain http:// to another machine, so the token would cross the network in clear text; use https:// or set api.allow_insecure to true`);
  }
  return url;
}

// OpenSSL's certificate verification results (and Node's name check) as error codes.
const tlsVerificationCode = /^(UNABLE_TO_|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED|CERT_|INVALID_CA|HOSTNAME_MISMATCH|ERR_TLS_CERT_ALTNAME_INVALID)/;
const tlsHandshakeCode = /^(ERR_SSL_|ERR_TLS_|EPROTO$)/;

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export class ApiClient {
  private readonly timeoutMs: number;
  private connection: { url: URL; agent: HttpAgent } | undefined;

  constructor(private readonly options: ApiClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { url: base, agent } = this.connect();
    const url = new URL(path, base);
    let reply: Reply;
    const started = performance.now();
    try {
      reply = await this.send(url, agent, method, body === undefined ? undefined : JSON.stringify(body));
    } catch (error) {
      debugLog.debug(`${method} ${url.pathname} failed after ${Math.round(performance.now() - started)} ms: ${String((error as NodeJS.ErrnoException).code ?? messageOf(error))}`);
      throw this.connectionError(error, url);
    }
    debugLog.debug(`${method} ${url.origin}${url.pathname} ${reply.status} in ${Math.round(performance.now() - started)} ms, ${reply.text.length} bytes`);
    let parsed: Record<string, unknown> = {};
    try {
      parsed = reply.text ? (JSON.parse(reply.text) as Record<string, unknown>) : {};
    } catch {
      parsed = { error: reply.text.slice(0, 200) };
    }
    const { status } = reply;
    if (status >= 200 && status < 300) return parsed as T;
    const reason = typeof parsed.error === 'string' ? parsed.error : `HTTP ${status}`;
    const what = `the status API answered ${status} to ${method} ${url.pathname}: ${reason}`;
    if (status === 401 || status === 403) {
      const hint = /client certificate/i.test(reason)
        ? `check api.client_cert_file and api.client_key_file of ${this.options.as}: the certificate must be signed by the API's client CA and name the GEO`
        : `check the token of ${this.options.as} (agent.token_file); was it rotated or the GEO disabled?`;
      throw new GanymedeError(ExitCode.config, what, { hint });
    }
    if (status === 409) throw new ApiConflict(reason, parsed.transaction as ApiTransaction | undefined);
    if (status === 429) {
      const retryAfter = Number(reply.headers['retry-after']);
      throw new GanymedeError(ExitCode.unreachable, what, { hint: `the API refuses more of this for now${retryAfter > 0 ? `; try again in ${retryAfter} s` : '; try again later'}` });
    }
    const hint = 'the centre has a problem; this run can be retried later';
    if (unavailableStatuses.has(status)) throw new ApiUnavailable(what, url.host, `HTTP ${status}`, hint);
    if (status >= 500) throw new GanymedeError(ExitCode.unreachable, what, { hint });
    throw new GanymedeError(ExitCode.refused, what);
  }

  /** The URL and an agent with the TLS settings, made on first use (so a constructor never throws). */
  private connect(): { url: URL; agent: HttpAgent } {
    if (this.connection) return this.connection;
    const { caFile, clientCertFile, clientKeyFile } = this.options;
    const url = checkApiUrl(this.options.baseUrl, this.options.allowInsecure);
    if ((clientCertFile === undefined) !== (clientKeyFile === undefined)) {
      throw configError(`${clientCertFile ? 'api.client_key_file' : 'api.client_cert_file'} is not set`, { hint: 'a client certificate needs both api.client_cert_file and api.client_key_file' });
    }
    // Without keep-alive: a few requests an hour, and no idle socket may keep a cron run from exiting.
    const agent =
      url.protocol === 'https:'
        ? new HttpsAgent({
            keepAlive: false,
            minVersion: minTlsVersion,
            ca: caFile ? readPemFile(caFile, 'api.ca_file', 'CA certificate') : undefined,
            cert: clientCertFile ? readPemFile(clientCertFile, 'api.client_cert_file', 'client certificate') : undefined,
            key: clientKeyFile ? readPemFile(clientKeyFile, 'api.client_key_file', 'client key') : undefined,
          })
        : new HttpAgent({ keepAlive: false });
    this.connection = { url, agent };
    return this.connection;
  }

  private send(url: URL, agent: HttpAgent, method: string, payload: string | undefined): Promise<Reply> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.token}`, accept: 'application/json' };
    if (payload !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) });
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Reply>((resolve, reject) => {
      const outgoing = send(url, { method, headers, agent }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') }));
      });
      // One deadline for the whole exchange, as fetch's AbortSignal.timeout gave: connect, send, answer.
      const timer = setTimeout(() => outgoing.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: 'GMD_TIMEOUT' })), this.timeoutMs);
      outgoing.on('error', reject);
      outgoing.on('close', () => clearTimeout(timer));
      outgoing.end(payload);
    });
  }

  private connectionError(error: unknown, url: URL): GanymedeError {
    const code = String((error as NodeJS.ErrnoException).code ?? '');
    const hint = 'is `ganymede api` running? check api.url';
    if (code === 'GMD_TIMEOUT') return new ApiUnavailable(`cannot reach the status API at ${url.host}: ${messageOf(error)}`, url.host, messageOf(error), hint);
    if (tlsVerificationCode.test(code)) {
      return configError(`TLS verification of the status API at ${url.host} failed: ${code} (${messageOf(error)})`, {
        hint: "check api.ca_file: it must hold the CA that signed the API's certificate, and api.url must use a name the certificate is for",
      });
    }
    if (tlsHandshakeCode.test(code)) {
      return configError(`the TLS handshake with the status API at ${url.host} failed: ${code} (${messageOf(error)})`, {
        hint: 'check that api.url says https:// only if the API serves HTTPS, and the client certificate settings (api.client_cert_file, api.client_key_file)',
      });
    }
    const message = `cannot reach the status API at ${url.host}: ${code || messageOf(error)}`;
    if (transientCodes.has(code)) return new ApiUnavailable(message, url.host, code, hint);
    return new GanymedeError(ExitCode.unreachable, message, { hint });
  }

  openTransaction(geo: string, cycle: string, options: { force?: boolean; agentHost?: string } = {}) {
    return this.request<{ transaction: ApiTransaction; created: boolean }>('POST', `/v1/geos/${encodeURIComponent(geo)}/transactions`, { cycle, ...options });
  }

  postEvents(txnId: number, events: ApiEvent[]) {
    return this.request<{ received: number; stored: number; dropped?: number }>('POST', `/v1/transactions/${txnId}/events`, { events });
  }

  closeTransaction(txnId: number, file: { name: string; size: number; sha256: string }) {
    return this.request<{ transaction: ApiTransaction }>('POST', `/v1/transactions/${txnId}/close`, { file });
  }

  /** Pre-signed URLs for this transaction's file (src/inbox/upload-plan.ts): credentials, never to be logged. */
  requestUpload(txnId: number, file: { name: string; size: number; sha256: string }) {
    return this.request<{ upload: unknown }>('POST', `/v1/transactions/${txnId}/upload`, { file });
  }

  /** After the PUTs: the centre joins the segments and checks the object is there, whole. */
  completeUpload(txnId: number, file: { name: string; size: number; sha256: string }) {
    return this.request<{ object: string; size: number }>('POST', `/v1/transactions/${txnId}/upload/complete`, { file });
  }

  failTransaction(txnId: number, reason: string) {
    return this.request<{ transaction: ApiTransaction }>('POST', `/v1/transactions/${txnId}/fail`, { reason: reason.slice(0, 2000) });
  }

  centreKeys() {
    return this.request<{ keys: PublishedCentreKey[] }>('GET', '/v1/centre-keys');
  }
}

export interface PublishedCentreKey {
  fingerprint: string;
  publicKey: string;
  signedBy: string | null;
  signature: string | null;
}
