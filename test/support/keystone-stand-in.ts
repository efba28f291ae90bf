// A stand-in for Keystone v2 / Rackspace Cloud Identity: it only issues tokens. It checks the
// passwordCredentials or RAX-KSKEY:apiKeyCredentials it is sent, then hands out a real tempauth token of
// the rig's Swift with a service catalog whose object-store endpoints point at that Swift, so the object
// traffic still goes to the real server. No Keystone can be had here; this is the part the client sees.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SwiftServer } from './swift.js';

export interface IdentityUser {
  username: string;
  password?: string;
  apiKey?: string;
  tenant?: string;
}

export interface KeystoneStandInOptions {
  swift: SwiftServer;
  users: IdentityUser[];
  /** Region → the object-store publicURL the catalog names for it. */
  regions: Record<string, string>;
  /** Tokens to hand out before real ones, e.g. one Swift will refuse, as an expired token would be. */
  staleTokens?: string[];
}

export interface KeystoneStandIn {
  /** `http://127.0.0.1:<port>/v2.0` */
  authUrl: string;
  /** The token requests received, their credential type and user. */
  logins: Array<{ type: string; username: string }>;
  stop(): Promise<void>;
}

interface TokenRequest {
  auth?: {
    passwordCredentials?: { username?: string; password?: string };
    'RAX-KSKEY:apiKeyCredentials'?: { username?: string; apiKey?: string };
    tenantName?: string;
  };
}

export async function startKeystoneStandIn(options: KeystoneStandInOptions): Promise<KeystoneStandIn> {
  const logins: KeystoneStandIn['logins'] = [];
  const stale = [...(options.staleTokens ?? [])];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void answer(request, Buffer.concat(chunks).toString('utf8')).then(
        ([status, body]) => {
          response.writeHead(status, { 'Content-Type': 'application/json' });
          response.end(JSON.stringify(body));
        },
        (error: Error) => {
          response.writeHead(500, { 'Content-Type': 'text/plain' });
          response.end(error.message);
        },
      );
    });
  });

  async function answer(request: http.IncomingMessage, text: string): Promise<[number, unknown]> {
    if (request.method !== 'POST' || request.url !== '/v2.0/tokens') return [404, { error: { code: 404, message: 'not found' } }];
    const auth = (JSON.parse(text) as TokenRequest).auth ?? {};
    const byPassword = auth.passwordCredentials;
    const byApiKey = auth['RAX-KSKEY:apiKeyCredentials'];
    const username = byPassword?.username ?? byApiKey?.username ?? '';
    logins.push({ type: byPassword ? 'password' : byApiKey ? 'apiKey' : 'none', username });
    const user = options.users.find((candidate) => candidate.username === username);
    const accepted =
      user !== undefined &&
      (byPassword ? user.password !== undefined && byPassword.password === user.password : byApiKey ? user.apiKey !== undefined && byApiKey.apiKey === user.apiKey : false) &&
      (user.tenant === undefined || auth.tenantName === user.tenant);
    if (!accepted) return [401, { unauthorized: { code: 401, message: 'Unable to authenticate user with credentials provided.' } }];
    const token = stale.shift() ?? (await tempauthToken(options.swift));
    return [
      200,
      {
        access: {
          token: { id: token, expires: new Date(Date.now() + 3_600_000).toISOString(), tenant: { id: 'test', name: 'test' } },
          serviceCatalog: [
            { type: 'compute', name: 'cloudServersOpenStack', endpoints: [{ region: 'ORD', publicURL: 'http://127.0.0.1:9/compute' }] },
            {
              type: 'object-store',
              name: 'cloudFiles',
              endpoints: Object.entries(options.regions).map(([region, publicURL]) => ({ region, publicURL, internalURL: publicURL, tenantId: 'AUTH_test' })),
            },
          ],
          user: { id: '1', name: username },
        },
      },
    ];
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    authUrl: `http://127.0.0.1:${port}/v2.0`,
    logins,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function tempauthToken(swift: SwiftServer): Promise<string> {
  const response = await fetch(swift.authUrl, { headers: { 'X-Auth-User': swift.user, 'X-Auth-Key': swift.key } });
  await response.arrayBuffer();
  const token = response.headers.get('x-auth-token');
  if (!response.ok || !token) throw new Error(`the rig's Swift refused its own tempauth login (${response.status})`);
  return token;
}
