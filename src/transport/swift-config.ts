// swift:// location URLs (restic's swift/config.go): which container and prefix, and how to log in.
//
//   swift://CONTAINER[/PREFIX]?auth=AUTH_URL&user=USER[&tenant=NAME][&region=REGION]
//          [&key_type=password|api_key][&interface=public|internal][&segment_bytes=N]
//
// auth ending in /v1.0 (or /v1): Swift's own auth (tempauth, swauth, Rackspace's legacy v1.0), user and key
// sent as X-Auth-User / X-Auth-Key. auth ending in /v2.0: Keystone v2 identity, as Rackspace's Cloud
// Identity is; key_type=api_key sends RAX-KSKEY:apiKeyCredentials, password (the default) sends
// passwordCredentials; region picks the object-store endpoint from the catalog. The key, password or API
// key is never in the URL: it comes from TransportOptions.secret, which the config reads from a file.
import { configError } from '../errors.js';
import { maskSecretParams, secretParams } from './object-parts.js';

export interface SwiftLocation {
  scheme: 'swift';
  container: string;
  /** Object names start with `prefix/` when it is not empty. */
  prefix: string;
  authUrl: string;
  authVersion: 1 | 2;
  user: string;
  tenant: string | undefined;
  region: string | undefined;
  keyType: 'password' | 'api_key';
  interface: 'public' | 'internal';
  /** Files larger than this go up as Static Large Object segments of this size. */
  segmentBytes: number;
}

// Swift's default max_file_size is 5 GiB + 2 bytes, so one segment of 5 GiB always fits.
export const defaultSegmentBytes = 5 * 1024 ** 3;
const known = new Set(['auth', 'user', 'tenant', 'region', 'key_type', 'interface', 'segment_bytes', 'auth_version']);
const form = 'swift://container[/prefix]?auth=https://identity.example/v2.0&user=NAME[&region=REGION]';

export function parseSwiftUrl(url: URL, text: string): SwiftLocation {
  const shown = maskSecretParams(text);
  const fail = (problem: string, hint = `write it as ${form}`) => configError(`location ${shown} ${problem}`, { hint });
  if (url.username || url.password) {
    throw fail('holds a user or password before the container', `give the user as user=…; the key comes from the config's key file, never the URL`);
  }
  if (!url.hostname) throw fail('names no container');
  const params = url.searchParams;
  for (const name of secretParams) if (params.has(name)) throw fail(`holds a ${name}`, 'put it in a file and name the file in the config');
  for (const name of params.keys()) if (!known.has(name)) throw fail(`has an unknown parameter ${name}`, `known: ${[...known].join(', ')}`);
  const authText = params.get('auth');
  if (!authText) throw fail('names no auth URL (auth=…)');
  let auth: URL;
  try {
    auth = new URL(authText);
  } catch {
    throw fail(`has an auth parameter that is not a URL: ${authText}`);
  }
  if (auth.protocol !== 'https:' && auth.protocol !== 'http:') throw fail(`has an auth URL that is not http(s): ${authText}`);
  const user = params.get('user');
  if (!user) throw fail('names no user (user=…)');
  return {
    scheme: 'swift',
    container: decodeURIComponent(url.hostname),
    prefix: decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, ''),
    authUrl: auth.href.replace(/\/+$/, ''),
    authVersion: authVersionOf(auth, params.get('auth_version'), fail),
    user,
    tenant: params.get('tenant') ?? undefined,
    region: params.get('region') ?? undefined,
    keyType: oneOf(params.get('key_type') ?? 'password', ['password', 'api_key'] as const, 'key_type', fail),
    interface: oneOf(params.get('interface') ?? 'public', ['public', 'internal'] as const, 'interface', fail),
    segmentBytes: segmentBytesOf(params.get('segment_bytes'), fail),
  };
}

type Fail = (problem: string, hint?: string) => Error;

function authVersionOf(auth: URL, given: string | null, fail: Fail): 1 | 2 {
  if (given === '1' || given === '2') return Number(given) as 1 | 2;
  if (given !== null) throw fail(`has auth_version=${given}; 1 (Swift auth) and 2 (Keystone v2, Rackspace identity) are supported`);
  const path = auth.pathname.replace(/\/+$/, '');
  if (/\/v1(\.0)?$/.test(path)) return 1;
  if (/\/v2\.0(\/tokens)?$/.test(path)) return 2;
  throw fail(`has an auth URL ${auth.href} that ends neither in /v1.0 nor in /v2.0`, 'Swift auth ends in /auth/v1.0 and Keystone v2 in /v2.0; or add auth_version=1|2');
}

function oneOf<T extends string>(value: string, allowed: readonly T[], name: string, fail: Fail): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw fail(`has ${name}=${value}`, `use one of ${allowed.join(', ')}`);
}

function segmentBytesOf(text: string | null, fail: Fail): number {
  if (text === null) return defaultSegmentBytes;
  const bytes = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(bytes) || bytes < 1 || bytes > defaultSegmentBytes) {
    throw fail(`has segment_bytes=${text}`, `give a whole number of bytes from 1 to ${defaultSegmentBytes}`);
  }
  return bytes;
}

/** The location as messages show it: container and prefix, no credentials. */
export const describeSwift = (location: Pick<SwiftLocation, 'container' | 'prefix'>) =>
  `swift://${location.container}${location.prefix ? `/${location.prefix}` : ''}`;
