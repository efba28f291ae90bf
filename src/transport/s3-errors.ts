// What the AWS SDK throws, turned into one-line errors that say what to do. A service error carries S3's
// code as its name and the HTTP status in $metadata; a connection that failed carries neither.
import { configError, failedError, GanymedeError, messageOf, refusedError, unreachableError } from '../errors.js';

interface SdkError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: 'client' | 'server';
}

const credentialCodes = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AuthorizationHeaderMalformed', 'InvalidToken', 'ExpiredToken', 'InvalidClientTokenId']);
const digestCodes = new Set(['BadDigest', 'InvalidDigest', 'XAmzContentSHA256Mismatch']);
const retryableCodes = new Set(['SlowDown', 'RequestTimeout', 'RequestTimeTooSkewed', 'ServiceUnavailable', 'InternalError', 'TimeoutError', 'RequestTimeoutException']);
const connectionCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

const statusOf = (error: unknown) => (error as SdkError | null)?.$metadata?.httpStatusCode;
const nameOf = (error: unknown) => (error as SdkError | null)?.name ?? '';

/** A missing key or bucket: HEAD answers a bare 404 ("NotFound"), GET and LIST name it. */
export function isNotFound(error: unknown): boolean {
  return statusOf(error) === 404 || ['NotFound', 'NoSuchKey', 'NoSuchBucket'].includes(nameOf(error));
}

export function s3Error(error: unknown, address: string, action: string): GanymedeError {
  if (error instanceof GanymedeError) return error;
  const name = nameOf(error);
  const status = statusOf(error);
  const code = (error as SdkError | null)?.code;
  const what = `${address}: could not ${action}: ${messageOf(error)}${name && !messageOf(error).includes(name) ? ` (${name})` : ''}`;
  if (credentialCodes.has(name)) {
    return configError(`${what}`, { hint: 'check the access key id and the secret access key file in the config' });
  }
  if (digestCodes.has(name)) {
    return failedError(
      `${address}: could not ${action}: the MD5 the store computed differs from the one sent, so nothing was stored; the source changed between reading it for its checksum and sending it, or the bytes were damaged on the way`,
      'send it again; if this repeats, check the file and the network',
    );
  }
  if (name === 'AccessDenied' || status === 403) return refusedError(what, "check the key's rights on the bucket (its policy)");
  if (name === 'NoSuchBucket') return failedError(what, 'check the bucket name, or create it');
  if (name === 'EntityTooLarge' || status === 413) return failedError(what, 'lower part_bytes in the location URL');
  const lostConnection = status === undefined && (connectionCodes.has(code ?? '') || connectionCodes.has(name) || /socket hang up|ECONNREFUSED|ECONNRESET|timed? ?out/i.test(messageOf(error)));
  if (lostConnection || retryableCodes.has(name) || (status !== undefined && (status >= 500 || status === 429 || status === 408))) {
    return unreachableError(what, 'it is retried; if it keeps failing, check the endpoint, the network and that the store is up', error);
  }
  return failedError(what);
}
