// What a console route gets: the server's shared parts (the Ganymede database, the log, the admin token,
// TLS and the failed-authentication limiter shared with the API), the configuration, and the request.
import type { IncomingMessage } from 'node:http';
import type { LoadedConfig } from '../config/load.js';
import type { ConsoleReply } from './reply.js';
import type { ConsoleAuth, SignedIn } from './session.js';

export interface ConsoleSettings {
  /** The configuration `ganymede api` runs with: deadlines and check thresholds, and the scratch MySQL a cancel drops schemas on. */
  loaded: LoadedConfig;
}

export interface ConsoleServer extends ConsoleAuth {
  settings: ConsoleSettings;
}

export interface ConsoleRequest {
  server: ConsoleServer;
  request: IncomingMessage;
  query: URLSearchParams;
  /** The route pattern's groups, in order. */
  params: string[];
  /** The caller's address, as the rate limiter and the audit trail count it. */
  source: string;
  /** The posted form, read and its form token checked before the handler runs; empty for a GET. */
  form: URLSearchParams;
  signedIn?: SignedIn | undefined;
}

export type SessionRequest = ConsoleRequest & { signedIn: SignedIn };

export type Access = 'public' | 'session' | 'admin';

export type ConsoleRoute =
  | { method: 'GET' | 'POST'; pattern: RegExp; access: 'public'; handle: (request: ConsoleRequest) => Promise<ConsoleReply> }
  | { method: 'GET' | 'POST'; pattern: RegExp; access: 'session' | 'admin'; json?: boolean; handle: (request: SessionRequest) => Promise<ConsoleReply> };
