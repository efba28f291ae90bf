// What agents and tools use to talk to the status API. Every failure becomes a one-line GanymedeError:
// unreachable or 5xx (retry later), 401/403 (the token: a configuration matter), 409 (a conflict the
// caller decides about), anything else refused.
import { ExitCode } from '../exit-codes.js';
import { GanymedeError, messageOf } from '../errors.js';
import type { Transaction } from '../state/transactions.js';

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

export interface ApiClientOptions {
  baseUrl: string;
  token: string;
  timeoutMs?: number;
  /** Who is calling, for messages: "GEO emea". */
  as: string;
}

export class ApiClient {
  private readonly timeoutMs: number;

  constructor(private readonly options: ApiClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.options.baseUrl);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.options.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const detail = (error as { cause?: { code?: string; message?: string } }).cause;
      const cause = detail?.code ?? ((error as Error).name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : detail?.message ?? messageOf(error));
      if (/bad port/i.test(cause)) throw new GanymedeError(ExitCode.config, `the status API address ${url.host} is refused by fetch (${cause})`, { hint: 'check api.url' });
      throw new GanymedeError(ExitCode.unreachable, `cannot reach the status API at ${url.host}: ${cause}`, { hint: 'is `ganymede api` running? check api.url' });
    }
    const text = await response.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { error: text.slice(0, 200) };
    }
    if (response.ok) return parsed as T;
    const reason = typeof parsed.error === 'string' ? parsed.error : `HTTP ${response.status}`;
    const what = `the status API answered ${response.status} to ${method} ${url.pathname}: ${reason}`;
    if (response.status === 401 || response.status === 403) {
      throw new GanymedeError(ExitCode.config, what, { hint: `check the token of ${this.options.as} (agent.token_file); was it rotated or the GEO disabled?` });
    }
    if (response.status === 409) throw new ApiConflict(reason, parsed.transaction as ApiTransaction | undefined);
    if (response.status >= 500) throw new GanymedeError(ExitCode.unreachable, what, { hint: 'the centre has a problem; this run can be retried later' });
    throw new GanymedeError(ExitCode.refused, what);
  }

  openTransaction(geo: string, cycle: string, options: { force?: boolean; agentHost?: string } = {}) {
    return this.request<{ transaction: ApiTransaction; created: boolean }>('POST', `/v1/geos/${encodeURIComponent(geo)}/transactions`, { cycle, ...options });
  }

  postEvents(txnId: number, events: ApiEvent[]) {
    return this.request<{ received: number; stored: number }>('POST', `/v1/transactions/${txnId}/events`, { events });
  }

  closeTransaction(txnId: number, file: { name: string; size: number; sha256: string }) {
    return this.request<{ transaction: ApiTransaction }>('POST', `/v1/transactions/${txnId}/close`, { file });
  }

  failTransaction(txnId: number, reason: string) {
    return this.request<{ transaction: ApiTransaction }>('POST', `/v1/transactions/${txnId}/fail`, { reason: reason.slice(0, 2000) });
  }
}
