// The one place a location URL becomes a transport (restic's location registry): the config names the
// inbox, Glassbeam and the archives as URLs, and nothing else knows which store is behind one.
import { withRetry } from './retry.js';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { configError, messageOf } from '../errors.js';
import { FileTransport } from './file.js';
import { parseS3Url, type S3Location } from './s3-config.js';
import { SftpTransport } from './sftp.js';
import { parseSwiftUrl, type SwiftLocation } from './swift-config.js';
import type { Transport } from './transport.js';

export interface TransportOptions {
  /** For sftp://: the private key, as a file path or its contents. */
  privateKey?: string | Buffer;
  /** For sftp://: the server's host key as `ssh-keygen -l` prints it (`SHA256:…`); any other is refused. */
  hostKeyFingerprint?: string;
  /** For sftp://: the server's host key as a known_hosts line (`ssh-ed25519 AAAA…`); wins over the fingerprint. */
  hostPublicKey?: string;
  connectTimeoutMs?: number;
  /** For sftp://: the mode of stored files (default 0600). */
  fileMode?: number;
  /**
   * For swift:// the key (v1 auth), password or API key (Keystone/Rackspace identity); for s3:// the
   * secret access key. Never part of the URL: the config reads it from a file.
   */
  secret?: string;
  /** For s3://: the access key id, when the URL does not give it before the bucket. */
  accessKeyId?: string;
}

export type Location =
  | { scheme: 'file'; root: string }
  | { scheme: 'sftp'; host: string; port: number; username: string; root: string }
  | SwiftLocation
  | S3Location;

const expected = 'expected file:///absolute/dir, sftp://user@host[:port]/dir, swift://container[/prefix]?auth=…&user=… or s3://bucket[/prefix][?endpoint=…]';
const defaultSftpPort = 22;
const fingerprintPattern = /^SHA256:([A-Za-z0-9+/]{43})=?$/;

/** Checks a location URL without touching the store, e.g. while validating the config. */
export function parseLocation(text: string): Location {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw configError(`${JSON.stringify(hidePassword(text))} is not a location URL`, { hint: expected });
  }
  const shown = hidePassword(text);
  // URL() quietly resolves "a/../b" to "b"; in a config that is more likely a mistake than a wish.
  if (/\/(\.|%2e){2}(\/|$|[?#])/i.test(text)) throw configError(`location ${shown} contains ".."`, { hint: 'give the directory without ".."' });
  // The object stores take their login and endpoint as query parameters.
  if (url.hash && (url.protocol === 'swift:' || url.protocol === 's3:')) throw configError(`location ${shown} has a fragment, which no store understands`, { hint: expected });
  if (url.protocol === 'swift:') return parseSwiftUrl(url, shown);
  if (url.protocol === 's3:') return parseS3Url(url, shown);
  if (url.search || url.hash) throw configError(`location ${shown} has a query or fragment, which no store understands`, { hint: expected });
  if (url.protocol === 'file:') {
    if (url.host && url.host !== 'localhost') throw configError(`location ${shown} names host ${url.host}; a file:// location is on this machine`, { hint: 'use file:///absolute/dir (three slashes), or sftp:// for another host' });
    try {
      return { scheme: 'file', root: fileURLToPath(url).replace(/(.)\/+$/, '$1') };
    } catch (error) {
      throw configError(`location ${shown} is not a usable directory: ${messageOf(error)}`, { hint: expected });
    }
  }
  if (url.protocol === 'sftp:') return parseSftp(url, shown);
  throw configError(`location ${shown} has an unknown scheme ${url.protocol.replace(/:$/, '')}`, { hint: expected });
}

function parseSftp(url: URL, shown: string): Location {
  if (url.password) {
    throw configError(`location ${shown} holds a password; SFTP logins use a private key`, { hint: 'remove the password from the URL and give the key file in the config' });
  }
  if (!url.username) throw configError(`location ${shown} names no user`, { hint: 'write it as sftp://user@host[:port]/dir' });
  if (!url.hostname) throw configError(`location ${shown} names no host`, { hint: 'write it as sftp://user@host[:port]/dir' });
  const pathname = decodeURIComponent(url.pathname);
  // As curl does: /~/dir is relative to the login directory, anything else is absolute.
  const root = pathname === '/~' || pathname === '/~/' ? '.' : pathname.startsWith('/~/') ? pathname.slice(3).replace(/\/+$/, '') : pathname.replace(/(.)\/+$/, '$1') || '/';
  return {
    scheme: 'sftp',
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : defaultSftpPort,
    username: decodeURIComponent(url.username),
    root,
  };
}

/** A transport for the location; stores connect on first use, so opening is cheap and cannot hang. */
/** A pinned host key from config: `SHA256:…` (or `MD5:…`) is a fingerprint, anything else a known_hosts line. */
export function hostKeyPin(value: string | undefined): Pick<TransportOptions, 'hostKeyFingerprint' | 'hostPublicKey'> {
  if (value === undefined) return {};
  return /^[A-Za-z0-9]+:/.test(value) ? { hostKeyFingerprint: value } : { hostPublicKey: value };
}

export async function openTransport(text: string, options: TransportOptions = {}): Promise<Transport> {
  const location = parseLocation(text);
  if (location.scheme === 'file') return new FileTransport(location.root);
  const shown = hidePassword(text);
  if (location.scheme === 'swift' || location.scheme === 's3') return openObjectStore(location, options, shown);
  if (options.privateKey === undefined) {
    throw configError(`no private key is configured for ${shown}`, { hint: 'give the path of the SSH private key to log in with' });
  }
  const { key, label } = await loadKey(options.privateKey, shown);
  return new SftpTransport({
    ...location,
    privateKey: key,
    privateKeyLabel: label,
    hostKeyFingerprint: options.hostKeyFingerprint === undefined ? undefined : checkFingerprint(options.hostKeyFingerprint, shown),
    hostPublicKey: options.hostPublicKey,
    connectTimeoutMs: options.connectTimeoutMs,
    fileMode: options.fileMode,
  });
}

async function openObjectStore(location: SwiftLocation | S3Location, options: TransportOptions, shown: string): Promise<Transport> {
  // A key file saved by an editor ends in a newline that is no part of the key.
  const secret = options.secret?.replace(/[\r\n]+$/, '');
  const what = location.scheme === 'swift' ? 'key (or password, or API key)' : 'secret access key';
  if (!secret) throw configError(`no ${what} is configured for ${shown}`, { hint: `give the file that holds the ${what}; it never goes in the URL` });
  if (location.scheme === 'swift') {
    const { SwiftTransport } = await import('./swift.js');
    return new SwiftTransport({ ...location, secret });
  }
  const accessKeyId = location.accessKeyId ?? options.accessKeyId;
  if (!accessKeyId) throw configError(`no access key id is configured for ${shown}`, { hint: 'write it before the bucket (s3://KEY_ID@bucket/prefix) or give it in the config' });
  // Loaded only when an s3:// location is opened: the AWS SDK is large.
  const { S3Transport } = await import('./s3.js');
  return new S3Transport({ ...location, accessKeyId, secret });
}

async function loadKey(privateKey: string | Buffer, shown: string): Promise<{ key: Buffer; label: string | undefined }> {
  if (Buffer.isBuffer(privateKey)) return { key: privateKey, label: undefined };
  // A key pasted where its path belongs must not end up quoted in an error message.
  if (privateKey.includes('PRIVATE KEY')) {
    throw configError(`the private key for ${shown} is given as text where a file path is expected`, { hint: 'save the key to a file (mode 0600) and give its path' });
  }
  try {
    return { key: await readFile(privateKey), label: privateKey };
  } catch (error) {
    throw configError(`cannot read the private key ${privateKey} for ${shown}: ${messageOf(error)}`, { hint: 'check the path and that this user may read the file' });
  }
}

function checkFingerprint(fingerprint: string, shown: string): string {
  const match = fingerprintPattern.exec(fingerprint.trim());
  if (!match) {
    const hint = 'give it as `ssh-keygen -l -E sha256 -f <host key>.pub` prints it, e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
    throw configError(`the host key fingerprint for ${shown} is not a SHA256:… fingerprint`, { hint });
  }
  return `SHA256:${match[1]}`;
}

/** A URL fit for a message: a password typed into it (which we refuse anyway) is not repeated. */
export function hidePassword(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:***@');
}

/** How a configured store logs in: the `*_key_file`, `*_host_key`, secret and access key id of its config keys. */
export interface StoreAccess {
  keyFile: string | undefined;
  hostKey: string | undefined;
  secret: string | undefined;
  accessKeyId: string | undefined;
  connectTimeoutMs?: number | undefined;
}

/** A store named in the config (archive, inbox, feed), opened with its access and transient failures retried. */
export async function openConfiguredStore(url: string, access: StoreAccess, onRetry?: (line: string) => void): Promise<Transport> {
  const transport = await openTransport(url, {
    privateKey: access.keyFile,
    ...hostKeyPin(access.hostKey),
    secret: access.secret,
    accessKeyId: access.accessKeyId,
    ...(access.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: access.connectTimeoutMs }),
  });
  return withRetry(transport, onRetry ? { onRetry } : {});
}
