// s3:// location URLs (restic's s3/config.go), for AWS and the many S3-compatible stores:
//
//   s3://[ACCESS_KEY_ID@]BUCKET[/PREFIX][?endpoint=URL][&region=REGION][&path_style=true|false][&part_bytes=N]
//
// Without endpoint the store is AWS; with one, requests go there and path-style addressing is the default
// (http://host/bucket/key), which S3-compatible stores expect. The access key id may stand in the URL;
// the secret access key never does: it comes from TransportOptions.secret, read from a file by the config.
import { configError } from '../errors.js';
import { maskSecretParams, secretParams } from './object-parts.js';

export interface S3Location {
  scheme: 's3';
  bucket: string;
  /** Keys start with `prefix/` when it is not empty. */
  prefix: string;
  endpoint: string | undefined;
  region: string;
  pathStyle: boolean;
  accessKeyId: string | undefined;
  /** Files larger than this go up as a multipart upload in parts of this size. */
  partBytes: number;
}

const mebibyte = 1024 ** 2;
// S3's limits: parts of 5 MiB to 5 GiB (the last may be smaller), at most 10,000 of them.
export const minPartBytes = 5 * mebibyte;
export const maxPartBytes = 5 * 1024 * mebibyte;
export const maxParts = 10_000;
export const defaultPartBytes = 512 * mebibyte;
const defaultRegion = 'us-east-1';
const known = new Set(['endpoint', 'region', 'path_style', 'part_bytes']);
const form = 's3://[ACCESS_KEY_ID@]bucket[/prefix][?endpoint=https://s3.example&region=REGION]';

export function parseS3Url(url: URL, text: string): S3Location {
  const shown = maskSecretParams(text);
  const fail = (problem: string, hint = `write it as ${form}`) => configError(`location ${shown} ${problem}`, { hint });
  if (url.password) throw fail('holds a secret key', 'remove it from the URL and give the secret access key file in the config');
  if (!url.hostname) throw fail('names no bucket');
  const params = url.searchParams;
  for (const name of secretParams) if (params.has(name)) throw fail(`holds a ${name}`, 'put the secret access key in a file and name the file in the config');
  for (const name of params.keys()) if (!known.has(name)) throw fail(`has an unknown parameter ${name}`, `known: ${[...known].join(', ')}`);
  const endpointText = params.get('endpoint') ?? undefined;
  if (endpointText !== undefined) {
    let endpoint: URL;
    try {
      endpoint = new URL(endpointText);
    } catch {
      throw fail(`has an endpoint that is not a URL: ${endpointText}`);
    }
    if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') throw fail(`has an endpoint that is not http(s): ${endpointText}`);
    if (endpoint.username || endpoint.password) throw fail('has credentials in its endpoint', 'give the access key id before the bucket and the secret in the config');
  }
  const pathStyle = params.get('path_style');
  if (pathStyle !== null && pathStyle !== 'true' && pathStyle !== 'false') throw fail(`has path_style=${pathStyle}`, 'use true or false');
  return {
    scheme: 's3',
    bucket: decodeURIComponent(url.hostname),
    prefix: decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, ''),
    endpoint: endpointText?.replace(/\/+$/, ''),
    region: params.get('region') || defaultRegion,
    pathStyle: pathStyle === null ? endpointText !== undefined : pathStyle === 'true',
    accessKeyId: url.username ? decodeURIComponent(url.username) : undefined,
    partBytes: partBytesOf(params.get('part_bytes'), fail),
  };
}

function partBytesOf(text: string | null, fail: (problem: string, hint?: string) => Error): number {
  if (text === null) return defaultPartBytes;
  const bytes = Number(text);
  if (!/^\d+$/.test(text) || bytes < minPartBytes || bytes > maxPartBytes) {
    throw fail(`has part_bytes=${text}`, `give a whole number of bytes from ${minPartBytes} (5 MiB) to ${maxPartBytes} (5 GiB), S3's limits for a part`);
  }
  return bytes;
}

/** The location as messages show it: bucket and prefix, no credentials. */
export const describeS3 = (location: Pick<S3Location, 'bucket' | 'prefix'>) => `s3://${location.bucket}${location.prefix ? `/${location.prefix}` : ''}`;
