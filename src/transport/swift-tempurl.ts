// Swift TempURLs (the tempurl middleware): a URL that allows one method on one object until a time, signed
// with the account's (or the container's) Temp-URL-Key. The signature covers the method, the expiry and
// the object's path from /v1/ on, never the host, so the storage URL's interface does not change it.
import { createHmac } from 'node:crypto';

/** sha1 for older clusters (Rackspace Cloud Files among them); sha256 where `/info` lists it. */
export type TempUrlDigest = 'sha1' | 'sha256';

export interface TempUrlRequest {
  /** The account's storage URL, `https://storage.example/v1/AUTH_account`. */
  storageUrl: string;
  container: string;
  objectName: string;
  method: 'PUT' | 'GET' | 'HEAD' | 'DELETE';
  /** Unix time in seconds. */
  expiresAtS: number;
  key: string;
  digest: TempUrlDigest;
}

/** The full URL: the object's address with temp_url_sig and temp_url_expires. */
export function tempUrl(request: TempUrlRequest): string {
  const base = new URL(request.storageUrl.replace(/\/+$/, ''));
  const accountPath = decodeURIComponent(base.pathname);
  // Swift checks the HMAC against the decoded path; the URL carries it percent-encoded.
  const path = `${accountPath}/${request.container}/${request.objectName}`;
  const encodedPath = [base.pathname, ...[request.container, ...request.objectName.split('/')].map(encodeURIComponent)].join('/');
  const signature = tempUrlSignature(request.method, request.expiresAtS, path, request.key, request.digest);
  return `${base.origin}${encodedPath}?temp_url_sig=${signature}&temp_url_expires=${request.expiresAtS}`;
}

/** HMAC over "METHOD\nEXPIRES\nPATH", hex: what the middleware recomputes from the request. */
export function tempUrlSignature(method: string, expiresAtS: number, path: string, key: string, digest: TempUrlDigest): string {
  return createHmac(digest, key).update(`${method}\n${expiresAtS}\n${path}`).digest('hex');
}
