// S3 pre-signed URLs: Signature Version 4 in the query string (AWS's "query string authentication"), so
// whoever holds the URL may send exactly this method to exactly this key until it expires, without the
// secret. Only `host` is signed and the payload is UNSIGNED-PAYLOAD: the body streams, and its integrity
// is the Content-MD5 header the uploader adds. Written here rather than taken from
// @aws-sdk/s3-request-presigner: forty lines of documented algorithm against one more dependency.
import { createHash, createHmac } from 'node:crypto';
import type { S3Location } from './s3-config.js';

export interface PresignRequest {
  location: Pick<S3Location, 'bucket' | 'endpoint' | 'region' | 'pathStyle'>;
  accessKeyId: string;
  secret: string;
  method: 'PUT' | 'GET' | 'HEAD' | 'POST' | 'DELETE';
  /** The full key, the location's prefix included. */
  key: string;
  /** 1 to 604,800 (seven days), S3's bounds. */
  expiresSeconds: number;
  /** Other query parameters the request carries (uploadId, partNumber): signed with the rest. */
  query?: Record<string, string>;
  now?: Date;
}

export const maxPresignSeconds = 604_800;

export function presignS3Url(request: PresignRequest): string {
  const { location, key } = request;
  const now = request.now ?? new Date();
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${location.region}/s3/aws4_request`;
  const { origin, host, path } = addressOf(location, key);
  const query: Record<string, string> = {
    ...request.query,
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${request.accessKeyId}/${scope}`,
    'X-Amz-Date': amzDate,
    'X-Amz-Expires': String(request.expiresSeconds),
    'X-Amz-SignedHeaders': 'host',
  };
  const canonicalQuery = Object.entries(query)
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalRequest = [request.method, path, canonicalQuery, `host:${host}\n`, 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const signingKey = ['s3', 'aws4_request'].reduce((mac, part) => hmac(mac, part), hmac(hmac(`AWS4${request.secret}`, day), location.region));
  const signature = createHmac('sha256', signingKey).update(stringToSign).digest('hex');
  return `${origin}${path}?${canonicalQuery}&X-Amz-Signature=${signature}`;
}

const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** Path-style (endpoint/bucket/key) for S3-compatible stores, virtual-hosted (bucket.host/key) for AWS. */
function addressOf(location: PresignRequest['location'], key: string): { origin: string; host: string; path: string } {
  const encodedKey = key.split('/').map(uriEncode).join('/');
  const endpoint = new URL(location.endpoint ?? `https://s3.${location.region}.amazonaws.com`);
  if (location.pathStyle) return { origin: endpoint.origin, host: endpoint.host, path: `${endpoint.pathname.replace(/\/+$/, '')}/${uriEncode(location.bucket)}/${encodedKey}` };
  const host = `${location.bucket}.${endpoint.host}`;
  return { origin: `${endpoint.protocol}//${host}`, host, path: `/${encodedKey}` };
}

/** SigV4's encoding: everything but A-Z a-z 0-9 - _ . ~ as %XX, upper-case hex. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}
