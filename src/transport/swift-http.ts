// Swift's HTTP answers turned into one-line errors that say what to do. Only what another try may cure
// (no connection, a 5xx, a rate limit) is "unreachable", which withRetry retries.
import { configError, failedError, GanymedeError, messageOf, refusedError, unreachableError } from '../errors.js';

/** fetch(), with a connection that cannot be made or breaks turned into an "unreachable" error. */
export async function send(address: string, action: string, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    throw networkError(error, address, action);
  }
}

export function networkError(error: unknown, address: string, action: string): GanymedeError {
  if (error instanceof GanymedeError) return error;
  return unreachableError(`${address}: could not ${action}: ${causeOf(error)}`, 'it is retried; if it keeps failing, check the network and that the store is up', error);
}

/** undici says "fetch failed" and keeps the reason (ECONNREFUSED, a reset, a timeout) in `cause`. */
export function causeOf(error: unknown): string {
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    const text = messageOf(cause);
    return typeof code === 'string' && !text.includes(code) ? `${text} (${code})` : text;
  }
  return messageOf(error);
}

export const causeCode = (error: unknown): unknown => ((error as { cause?: { code?: unknown } } | null)?.cause as { code?: unknown } | undefined)?.code;

/** The error for an answer that is not a success; the body is read (and dropped) so the socket is reused. */
export async function statusError(response: Response, address: string, action: string): Promise<GanymedeError> {
  const body = (await response.text().catch(() => '')).replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
  const status = `HTTP ${response.status}${body ? `: ${body}` : ''}`;
  const what = `${address}: could not ${action} (${status})`;
  switch (response.status) {
    case 401:
      return configError(`${what}: the token was not accepted`, { hint: 'check the user, key and auth URL in the config' });
    case 403:
      return refusedError(`${what}: not allowed for this user`, "check the user's rights on the container (its ACLs, or its role)");
    case 404:
      return failedError(`${what}: not found`, 'check the container name');
    case 413:
      return failedError(`${what}: the store refused it as too large`, 'lower segment_bytes in the location URL below the store\'s max_file_size');
    case 422:
      return failedError(
        `${what}: the MD5 the store computed differs from the one sent, so nothing was stored; the source changed between reading it for its checksum and sending it, or the bytes were damaged on the way`,
        'send it again; if this repeats, check the file and the network',
      );
    case 507:
      return failedError(`${what}: the store is out of space`, 'free space on the store or ask its operator');
  }
  if (response.status >= 500 || response.status === 408 || response.status === 429 || response.status === 498) {
    return unreachableError(what, 'it is retried; if it keeps failing, check the store\'s status');
  }
  return failedError(what);
}
