// HTTPS for the status API: the server's certificate and key, TLS 1.2 or later, and optional mutual
// TLS in which each GEO's client certificate is bound to that GEO (its CN or a DNS SAN is the GEO name).
// The handshake asks for a client certificate but does not insist: the request is refused afterwards,
// with a 403 that says why, because only the bearer token tells whose certificate it must be.
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { ServerOptions } from 'node:https';
import { createSecureContext, type PeerCertificate, TLSSocket } from 'node:tls';
import { configError, messageOf } from '../errors.js';
import type { Principal } from './auth.js';
import { HttpError } from './http.js';

export interface ApiTlsOptions {
  /** PEM certificate (with its chain) the API presents: api.tls.cert_file. */
  certFile: string;
  /** PEM private key of that certificate: api.tls.key_file. */
  keyFile: string;
  /** PEM CA(s) that sign client certificates: api.tls.client_ca_file. Set: a GEO's requests need its certificate. */
  clientCaFile?: string | undefined;
  /** With clientCaFile: admin-token requests need a client certificate with this CN or SAN (api.tls.admin_client_cert_name). */
  adminClientCertName?: string | undefined;
}

export const minTlsVersion = 'TLSv1.2';

/** Reads a PEM file named by a config key; what is wrong with it is a config error naming both. */
export function readPemFile(file: string, key: string, what: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : messageOf(error);
    throw configError(`${key}: the ${what} ${file} ${why}`, { hint: `check ${key}` });
  }
  if (!pem.includes('-----BEGIN ')) throw configError(`${key}: ${file} is not a PEM file (no -----BEGIN line)`, { hint: `give the ${what} in PEM format` });
  return pem;
}

/** node:https options for the API; the files are read and checked now, so a bad one stops the start. */
export function serverTlsOptions(tls: ApiTlsOptions): ServerOptions {
  const options: ServerOptions = {
    cert: readPemFile(tls.certFile, 'api.tls.cert_file', 'certificate'),
    key: readPemFile(tls.keyFile, 'api.tls.key_file', 'private key'),
    minVersion: minTlsVersion,
  };
  if (tls.clientCaFile) {
    Object.assign(options, { ca: readPemFile(tls.clientCaFile, 'api.tls.client_ca_file', 'client CA certificate'), requestCert: true, rejectUnauthorized: false });
  }
  try {
    createSecureContext(options);
  } catch (error) {
    throw configError(`api.tls: the certificate ${tls.certFile} and key ${tls.keyFile} cannot be used: ${messageOf(error)}`, {
      hint: 'check that the key belongs to the certificate and both are PEM',
    });
  }
  return options;
}

export interface ClientCertificate {
  presented: boolean;
  /** Signed by the client CA (and valid now). */
  authorized: boolean;
  /** Why not authorized, as OpenSSL says it. */
  problem: string | undefined;
  /** The CN and DNS SANs, lower-cased. */
  names: string[];
}

function commonNames(certificate: PeerCertificate): string[] {
  const cn = (certificate.subject as unknown as Record<string, string | string[] | undefined> | undefined)?.CN;
  return cn === undefined ? [] : Array.isArray(cn) ? cn : [cn];
}

/** What client certificate came with the request's connection, if any. */
export function clientCertificateOf(request: IncomingMessage): ClientCertificate {
  const socket = request.socket;
  if (!(socket instanceof TLSSocket)) return { presented: false, authorized: false, problem: 'not a TLS connection', names: [] };
  const certificate = socket.getPeerCertificate();
  if (!certificate || Object.keys(certificate).length === 0) return { presented: false, authorized: false, problem: undefined, names: [] };
  const sans = (certificate.subjectaltname ?? '')
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4));
  const names = [...new Set([...commonNames(certificate), ...sans].map((name) => name.toLowerCase()))];
  const problem = socket.authorized ? undefined : String(socket.authorizationError ?? 'not verified');
  return { presented: true, authorized: socket.authorized, problem, names };
}

/**
 * Refuses (403) a request whose client certificate does not match its token: a GEO's must name that
 * GEO; the admin's must name adminClientCertName when one is configured. No client CA: nothing to check.
 */
export function checkClientCertificate(request: IncomingMessage, principal: Principal, tls: ApiTlsOptions | undefined): void {
  if (!tls?.clientCaFile) return;
  const expected = principal.kind === 'geo' ? principal.geo.name : tls.adminClientCertName;
  if (expected === undefined) return;
  const who = principal.kind === 'geo' ? `GEO ${principal.geo.name}'s token` : 'the admin token';
  const certificate = clientCertificateOf(request);
  if (!certificate.presented) {
    throw new HttpError(403, `${who} needs a client certificate for ${expected} signed by the API's client CA; none was presented (set api.client_cert_file and api.client_key_file)`);
  }
  if (!certificate.authorized) {
    throw new HttpError(403, `the client certificate (${certificate.names.join(', ') || 'no name'}) is not accepted: ${certificate.problem}; it must be signed by the API's client CA`);
  }
  if (!certificate.names.includes(expected.toLowerCase())) {
    throw new HttpError(403, `the client certificate is for ${certificate.names.join(', ') || 'no name'}, but ${who} needs one for ${expected}`);
  }
}
