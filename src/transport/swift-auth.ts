// Logging in to Swift: a token and the storage URL the object requests go to. Swift's own v1 auth
// (X-Auth-User/X-Auth-Key) or Keystone v2 identity (Rackspace Cloud Identity included), whose service
// catalog names the object-store endpoint per region.
import { configError, failedError } from '../errors.js';
import { send, statusError } from './swift-http.js';
import type { SwiftLocation } from './swift-config.js';

export interface SwiftSession {
  token: string;
  /** `https://storage.example/v1/AUTH_account`, without a trailing slash. */
  storageUrl: string;
  /** When the token stops working, if the identity service said. */
  expiresAtMs: number | undefined;
}

interface CatalogEndpoint {
  region?: string;
  publicURL?: string;
  internalURL?: string;
}

interface KeystoneAccess {
  access?: {
    token?: { id?: string; expires?: string };
    serviceCatalog?: Array<{ type?: string; name?: string; endpoints?: CatalogEndpoint[] }>;
  };
}

type AuthLocation = Pick<SwiftLocation, 'authUrl' | 'authVersion' | 'user' | 'tenant' | 'region' | 'keyType' | 'interface'>;

export async function authenticate(location: AuthLocation, secret: string): Promise<SwiftSession> {
  return location.authVersion === 1 ? authenticateV1(location, secret) : authenticateV2(location, secret);
}

async function authenticateV1(location: AuthLocation, secret: string): Promise<SwiftSession> {
  const { authUrl, user } = location;
  const response = await send(authUrl, 'log in', authUrl, { headers: { 'X-Auth-User': user, 'X-Auth-Key': secret } });
  if (response.status === 401 || response.status === 403) throw await refusedLogin(response, location);
  if (!response.ok) throw await statusError(response, authUrl, `log in as ${user}`);
  await response.arrayBuffer();
  const token = response.headers.get('x-auth-token') ?? response.headers.get('x-storage-token');
  const storageUrl = response.headers.get('x-storage-url');
  if (!token || !storageUrl) throw failedError(`${authUrl}: the login as ${user} answered without X-Auth-Token and X-Storage-Url`, 'check that the auth URL is a Swift v1 auth endpoint');
  const expiresSeconds = Number(response.headers.get('x-auth-token-expires'));
  return {
    token,
    storageUrl: storageUrl.replace(/\/+$/, ''),
    expiresAtMs: Number.isFinite(expiresSeconds) && expiresSeconds > 0 ? Date.now() + expiresSeconds * 1000 : undefined,
  };
}

async function authenticateV2(location: AuthLocation, secret: string): Promise<SwiftSession> {
  const { authUrl, user, tenant, keyType } = location;
  const tokensUrl = authUrl.endsWith('/tokens') ? authUrl : `${authUrl}/tokens`;
  const credentials =
    keyType === 'api_key'
      ? { 'RAX-KSKEY:apiKeyCredentials': { username: user, apiKey: secret } }
      : { passwordCredentials: { username: user, password: secret } };
  const body = JSON.stringify({ auth: { ...credentials, ...(tenant ? { tenantName: tenant } : {}) } });
  const response = await send(authUrl, 'log in', tokensUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body,
  });
  if (response.status === 401 || response.status === 403 || response.status === 400) throw await refusedLogin(response, location);
  if (!response.ok) throw await statusError(response, authUrl, `log in as ${user}`);
  let answer: KeystoneAccess;
  try {
    answer = (await response.json()) as KeystoneAccess;
  } catch {
    throw failedError(`${authUrl}: the login as ${user} did not answer with JSON`, 'check that the auth URL is a Keystone v2 (/v2.0) endpoint');
  }
  const token = answer.access?.token?.id;
  if (!token) throw failedError(`${authUrl}: the login as ${user} answered without a token`, 'check that the auth URL is a Keystone v2 (/v2.0) endpoint');
  const expires = Date.parse(answer.access?.token?.expires ?? '');
  return { token, storageUrl: pickEndpoint(answer, location).replace(/\/+$/, ''), expiresAtMs: Number.isNaN(expires) ? undefined : expires };
}

/** The object-store endpoint of the catalog, for the region asked (or the only one there is). */
function pickEndpoint(answer: KeystoneAccess, location: AuthLocation): string {
  const { authUrl, user, region } = location;
  const endpoints = (answer.access?.serviceCatalog ?? []).filter((service) => service.type === 'object-store').flatMap((service) => service.endpoints ?? []);
  if (endpoints.length === 0) {
    throw configError(`${authUrl}: the catalog of ${user} has no object-store service`, { hint: 'check that the account has Cloud Files / Swift, and the tenant' });
  }
  const regions = [...new Set(endpoints.map((endpoint) => endpoint.region ?? '(none)'))].sort();
  const matching = region === undefined ? endpoints : endpoints.filter((endpoint) => endpoint.region?.toLowerCase() === region.toLowerCase());
  if (matching.length === 0) {
    throw configError(`${authUrl}: the catalog of ${user} has no object-store in region ${region}`, { hint: `its regions: ${regions.join(', ')}` });
  }
  if (region === undefined && regions.length > 1) {
    throw configError(`${authUrl}: the catalog of ${user} has object-stores in ${regions.length} regions; the location names none`, {
      hint: `add region=… to the location URL, one of ${regions.join(', ')}`,
    });
  }
  const field = location.interface === 'internal' ? 'internalURL' : 'publicURL';
  const url = matching[0]![field];
  if (!url) throw configError(`${authUrl}: the object-store endpoint of ${user} in ${matching[0]!.region ?? 'its region'} has no ${field}`, { hint: 'try interface=public' });
  return url;
}

async function refusedLogin(response: Response, location: AuthLocation): Promise<Error> {
  await response.arrayBuffer().catch(() => undefined);
  const what = location.authVersion === 1 ? 'key' : location.keyType === 'api_key' ? 'API key' : 'password';
  return configError(`${location.authUrl} refused the login of ${location.user} (HTTP ${response.status})`, {
    hint: `check the user and the ${what} in the config's key file${location.tenant ? `, and the tenant ${location.tenant}` : ''}`,
  });
}
