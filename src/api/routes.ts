// The status API's routes. Each handler gets the caller and the parsed request and returns a status and
// a body; the server turns thrown HttpErrors into 4xx replies. SQL stays in src/state.
import type { Db } from '../state/db.js';
import { hourMs, parseCycle } from '../cycle.js';
import * as geos from '../state/geos.js';
import { transactionForGeo } from './geo-view.js';
import { listStepHistory } from '../state/step-history.js';
import * as txns from '../state/transactions.js';
import { getCycle, listCycles } from '../state/cycles.js';
import { listCentreKeys } from '../state/centre-keys.js';
import { defaultHostDeadAfterMs, listHosts } from '../state/hosts.js';
import { type Principal, requireAdmin, requireGeo } from './auth.js';
import { HttpError, parseWith } from './http.js';
import * as schemas from './schemas.js';
import type { EventWriter } from './event-limits.js';
import type { InboxUploads, UploadedFile } from '../inbox/uploads.js';
import type { Db as MongoDb } from 'mongodb';
import { deliveryObjectName, isDeliveryFileOf } from '../inbox/delivery-name.js';
import { GanymedeError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';

export interface RouteContext {
  db: Db;
  principal: Principal;
  params: Record<string, string>;
  query: URLSearchParams;
  body: () => Promise<unknown>;
  maxEventsPerRequest: number;
  events: EventWriter;
  /** How many hours back a GEO's token may open an hour it has no transaction for; no bound when absent. */
  maxBackfillHours?: number | undefined;
  /** centre.host_dead_after_ms; its default when absent. */
  hostDeadAfterMs?: number | undefined;
  /** Pre-signed uploads into centre.inbox when it is an object store; undefined for any other inbox. */
  uploads?: InboxUploads | undefined;
  /** The MongoDB warehouse (connected on first use); undefined when mongodb.url is not set. */
  warehouse?: (() => Promise<MongoDb>) | undefined;
}

export interface RouteResult {
  status: number;
  body: unknown;
}

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handle: (context: RouteContext) => Promise<RouteResult>;
}

const routes: Route[] = [];
function route(method: string, path: string, handle: Route['handle']): void {
  const keys: string[] = [];
  const pattern = new RegExp(`^${path.replace(/:(\w+)/g, (_match, key: string) => (keys.push(key), '([^/]+)'))}$`);
  routes.push({ method, pattern, keys, handle });
}

function decodeSegment(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new HttpError(400, `the path is not valid percent-encoding: ${text.slice(0, 64)}`);
  }
}

/** The route for a request; 404 for an unknown path and 405 (with Allow) for a known path's wrong method. */
export function matchRoute(method: string, pathname: string): { route: Route; params: Record<string, string> } {
  const allowed: string[] = [];
  for (const candidate of routes) {
    const match = candidate.pattern.exec(pathname);
    if (!match) continue;
    if (candidate.method !== method) {
      allowed.push(candidate.method);
      continue;
    }
    const params = Object.fromEntries(candidate.keys.map((key, index) => [key, decodeSegment(match[index + 1]!)]));
    return { route: candidate, params };
  }
  if (allowed.length > 0) throw new HttpError(405, `${method} is not allowed on ${pathname}`, undefined, { allow: allowed.join(', ') });
  throw new HttpError(404, `no such endpoint: ${method} ${pathname}`);
}

/** An agent whose clock runs a little fast may open the next hour; further ahead is a broken clock. */
const futureCycleToleranceMs = 5 * 60_000;

const ok = (body: unknown, status = 200): RouteResult => ({ status, body });

/**
 * A GEO's token opens hours back to centre.max_backfill_hours; an older hour needs the admin token, so a
 * stolen token cannot fill the centre with hours from years ago. Its own older hours that exist already
 * (opened by the admin, or re-delivered) it may open again: that harms nothing but them.
 */
async function refuseOldHourForGeo(context: RouteContext, geo: geos.Geo, cycle: Date, text: string): Promise<void> {
  const { maxBackfillHours } = context;
  if (context.principal.kind !== 'geo' || maxBackfillHours === undefined) return;
  if (cycle.getTime() >= Date.now() - maxBackfillHours * hourMs) return;
  if (await txns.hasTransaction(context.db, geo.id, cycle)) return;
  throw new HttpError(
    403,
    `field "cycle": ${text} is more than ${maxBackfillHours} hours back (centre.max_backfill_hours); a GEO's token cannot open an hour that old: an operator opens it first with the admin token (POST /v1/geos/${geo.name}/transactions), then the agent can deliver it`,
    'cycle',
  );
}

function txnId(params: Record<string, string>): number {
  const id = Number(params.id);
  if (!Number.isSafeInteger(id) || id <= 0) throw new HttpError(400, `"${params.id}" is not a transaction id`);
  return id;
}

/** Loads a transaction the caller may see: a GEO sees only its own (403 otherwise), unknown is 404. */
async function visibleTxn(context: RouteContext): Promise<txns.Transaction> {
  const txn = await txns.getTransaction(context.db, txnId(context.params));
  if (!txn) throw new HttpError(404, `no transaction ${context.params.id}`);
  requireGeo(context.principal, txn.geo);
  return txn;
}

/** A transaction as the caller may read it: a GEO's token gets the GEO's view (geo-view.ts), the admin all of it. */
function shown(context: RouteContext, txn: txns.Transaction): txns.Transaction {
  return context.principal.kind === 'geo' ? transactionForGeo(txn) : txn;
}

function cycleParam(text: string, field: string): Date {
  const cycle = parseCycle(text);
  if (!cycle) throw new HttpError(400, `field "${field}": "${text}" is not a UTC hour (YYYY-MM-DDTHH)`, field);
  return cycle;
}

async function publicKeyFingerprint(armored: string): Promise<string> {
  const { readPublicKey, fingerprintOf, OpenPgpKeyError } = await import('../openpgp/keys.js');
  try {
    return fingerprintOf(await readPublicKey(armored, 'publicKey', 'verify'));
  } catch (error) {
    if (error instanceof OpenPgpKeyError) throw new HttpError(400, (error as Error).message, 'publicKey');
    throw error;
  }
}

const presentGeo = (geo: geos.Geo) => ({
  name: geo.name,
  enabled: geo.enabled,
  keyFingerprint: geo.keyFingerprint,
  tokenHint: geo.tokenHint,
  createdAt: geo.createdAt,
  updatedAt: geo.updatedAt,
  keyRotatedAt: geo.keyRotatedAt,
  tokenRotatedAt: geo.tokenRotatedAt,
});

async function existingGeo(db: Db, name: string): Promise<geos.Geo> {
  const geo = await geos.findGeo(db, name);
  if (!geo) throw new HttpError(404, `no GEO named ${name}`);
  return geo;
}

route('GET', '/v1/health', async () => ok({ status: 'ok' }));

// The centre's public keys, oldest first, each after the first signed by the one before: agents follow
// the chain from the key they trust to the newest (`keys rotate`). Public material, but only for callers
// with a token, like everything else here.
route('GET', '/v1/centre-keys', async (context) => {
  const keys = await listCentreKeys(context.db);
  return ok({ keys: keys.map((key) => ({ fingerprint: key.fingerprint, publicKey: key.publicKey, signedBy: key.signedBy, signature: key.signature, createdAt: key.createdAt, retiredAt: key.retiredAt })) });
});

route('POST', '/v1/geos/:geo/transactions', async (context) => {
  requireGeo(context.principal, context.params.geo!);
  const body = parseWith(schemas.openTransactionBody, await context.body());
  const geo = await existingGeo(context.db, context.params.geo!);
  if (!geo.enabled) throw new HttpError(403, `GEO ${geo.name} is disabled`);
  const cycle = cycleParam(body.cycle, 'cycle');
  if (cycle.getTime() > Date.now() + futureCycleToleranceMs) {
    throw new HttpError(400, `field "cycle": ${body.cycle} is in the future; check the clock of the agent's host`, 'cycle');
  }
  await refuseOldHourForGeo(context, geo, cycle, body.cycle);
  const outcome = await txns.openTransaction(context.db, geo.id, cycle, { force: body.force, agentHost: body.agentHost });
  if (outcome.kind === 'conflict') throw Object.assign(new HttpError(409, outcome.reason), { extra: { transaction: shown(context, outcome.txn) } });
  return ok({ transaction: shown(context, outcome.txn), created: outcome.created }, outcome.created ? 201 : 200);
});

route('GET', '/v1/transactions/:id', async (context) => ok({ transaction: shown(context, await visibleTxn(context)) }));

// The centre's side of an hour, for operators on any host: steps, attempts (host, outcome, error) and the last
// log lines of failed ones. Not for a GEO's token: it names the centre's hosts, paths and servers.
route('GET', '/v1/transactions/:id/steps', async (context) => {
  requireAdmin(context.principal);
  const txn = await visibleTxn(context);
  return ok({ transaction: txn.id, steps: await listStepHistory(context.db, txn.id) });
});

route('POST', '/v1/transactions/:id/events', async (context) => {
  const body = parseWith(schemas.eventsBody(context.maxEventsPerRequest), await context.body());
  const txn = await visibleTxn(context);
  const { stored, dropped } = await context.events.store({
    txnId: txn.id,
    geoId: txn.geoId,
    geoName: txn.geo,
    source: context.principal.kind === 'geo' ? 'agent' : 'admin',
    events: body.events.map((event) => ({ ...event, at: new Date(event.at) })),
  });
  return ok({ received: body.events.length, stored, ...(dropped > 0 ? { dropped } : {}) });
});

route('POST', '/v1/transactions/:id/close', async (context) => {
  const body = parseWith(schemas.closeTransactionBody, await context.body());
  const txn = await visibleTxn(context);
  const outcome = await txns.closeTransaction(context.db, txn.id, body.file);
  if (outcome.kind === 'conflict') throw new HttpError(409, outcome.reason);
  return ok({ transaction: shown(context, outcome.txn) });
});

/**
 * The checks before the centre signs anything for a GEO: an object-store inbox that can sign, the caller's
 * own open transaction, and exactly the name this transaction delivers (so a URL writes nothing but it).
 */
async function uploadFor(context: RouteContext): Promise<{ uploads: InboxUploads; objectName: string; file: UploadedFile }> {
  const { file } = parseWith(schemas.uploadBody, await context.body());
  const txn = await visibleTxn(context);
  const { uploads } = context;
  if (!uploads) throw new HttpError(409, "the centre's inbox (centre.inbox) is not an object store, so it hands out no uploads; set agent.inbox to the sftp:// (or file://) inbox");
  if (uploads.unavailable) throw new HttpError(409, uploads.unavailable);
  if (txn.state !== 'open') throw new HttpError(409, `transaction ${txn.id} is ${txn.state}, not open; open it again before uploading`);
  if (!isDeliveryFileOf(file.name, txn)) throw new HttpError(403, `field "file.name": ${file.name} is not the file of transaction ${txn.id} (${txn.geo}, ${txn.cycle}, delivery ${txn.delivery})`, 'file.name');
  if (file.size > uploads.maxBytes) throw new HttpError(413, `field "file.size": ${file.size} bytes is more than the ${uploads.maxBytes} the centre's inbox takes through pre-signed uploads`, 'file.size');
  return { uploads, objectName: deliveryObjectName(txn.geo, file.name), file };
}

/** A store that is down is worth retrying (503); one that refuses the upload says why (409); the rest is a 500. */
async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof GanymedeError && error.exitCode === ExitCode.unreachable) throw new HttpError(503, "the centre's inbox store is unreachable; try again later");
    if (error instanceof GanymedeError && error.exitCode === ExitCode.refused) throw new HttpError(409, error.message);
    throw error;
  }
}

// Pre-signed uploads (README, "Inbox in object storage"): the URLs in the reply are credentials for one object.
route('POST', '/v1/transactions/:id/upload', async (context) => {
  const { uploads, objectName, file } = await uploadFor(context);
  return ok({ upload: await storeCall(() => uploads.plan(objectName, file)) });
});

route('POST', '/v1/transactions/:id/upload/complete', async (context) => {
  const { uploads, objectName, file } = await uploadFor(context);
  await storeCall(() => uploads.complete(objectName, file));
  return ok({ object: objectName, size: file.size });
});

route('POST', '/v1/transactions/:id/fail', async (context) => {
  const body = parseWith(schemas.failTransactionBody, await context.body());
  const txn = await visibleTxn(context);
  const outcome = await txns.failTransactionByAgent(context.db, txn.id, body.reason);
  if (outcome.kind === 'conflict') throw new HttpError(409, outcome.reason);
  return ok({ transaction: shown(context, outcome.txn) });
});

route('GET', '/v1/transactions', async (context) => {
  const query = parseWith(schemas.listTransactionsQuery, Object.fromEntries(context.query), 'query');
  if (context.principal.kind === 'geo') {
    if (query.geo && query.geo !== context.principal.geo.name) requireGeo(context.principal, query.geo);
    query.geo = context.principal.geo.name;
  }
  const transactions = await txns.listTransactions(context.db, {
    geo: query.geo,
    state: query.state,
    from: query.from ? cycleParam(query.from, 'from') : undefined,
    to: query.to ? cycleParam(query.to, 'to') : undefined,
    limit: query.limit,
  });
  return ok({ transactions: transactions.map((txn) => shown(context, txn)) });
});

route('GET', '/v1/cycles', async (context) => {
  requireAdmin(context.principal);
  return ok({ cycles: await listCycles(context.db) });
});

route('GET', '/v1/cycles/:cycle', async (context) => {
  requireAdmin(context.principal);
  const cycle = await getCycle(context.db, cycleParam(context.params.cycle!, 'cycle'));
  if (!cycle) throw new HttpError(404, `no cycle ${context.params.cycle}`);
  return ok({ cycle });
});

route('GET', '/v1/status', async (context) => {
  requireAdmin(context.principal);
  const [all, latest] = await Promise.all([geos.listGeos(context.db), txns.latestTransactionPerGeo(context.db)]);
  return ok({ geos: all.map((geo) => ({ ...presentGeo(geo), latestTransaction: latest.get(geo.id) ?? null })) });
});

route('GET', '/v1/geos', async (context) => {
  requireAdmin(context.principal);
  return ok({ geos: (await geos.listGeos(context.db)).map(presentGeo) });
});

route('GET', '/v1/geos/:geo', async (context) => {
  requireGeo(context.principal, context.params.geo!);
  return ok({ geo: presentGeo(await existingGeo(context.db, context.params.geo!)) });
});

route('POST', '/v1/geos', async (context) => {
  requireAdmin(context.principal);
  const body = parseWith(schemas.addGeoBody, await context.body());
  const added = await geos.addGeo(context.db, { name: body.name, publicKey: body.publicKey, keyFingerprint: await publicKeyFingerprint(body.publicKey) });
  if (!added) throw new HttpError(409, `a GEO named ${body.name} exists already`);
  return ok({ geo: presentGeo(added.geo), token: added.token }, 201);
});

route('PATCH', '/v1/geos/:geo', async (context) => {
  requireAdmin(context.principal);
  const body = parseWith(schemas.patchGeoBody, await context.body());
  await existingGeo(context.db, context.params.geo!);
  return ok({ geo: presentGeo((await geos.setGeoEnabled(context.db, context.params.geo!, body.enabled))!) });
});

route('POST', '/v1/geos/:geo/rotate-token', async (context) => {
  requireAdmin(context.principal);
  const rotated = await geos.rotateGeoToken(context.db, (await existingGeo(context.db, context.params.geo!)).name);
  if (!rotated) throw new HttpError(404, `no GEO named ${context.params.geo}`);
  return ok({ geo: presentGeo(rotated.geo), token: rotated.token });
});

route('POST', '/v1/geos/:geo/rotate-key', async (context) => {
  requireAdmin(context.principal);
  const body = parseWith(schemas.rotateKeyBody, await context.body());
  const geo = await existingGeo(context.db, context.params.geo!);
  const rotated = await geos.rotateGeoKey(context.db, geo.name, body.publicKey, await publicKeyFingerprint(body.publicKey), { revokeOld: body.revokeOldKey ?? false }).catch((error: unknown) => {
    throw error instanceof geos.RevokedKeyError ? new HttpError(409, error.message, 'publicKey') : error;
  });
  return ok({ geo: presentGeo(rotated!) });
});

// The central hosts, as `ganymede hosts --json` shows them.
route('GET', '/v1/hosts', async (context) => {
  requireAdmin(context.principal);
  const hostDeadAfterMs = context.hostDeadAfterMs ?? defaultHostDeadAfterMs;
  return ok({ hostDeadAfterMs, hosts: await listHosts(context.db, hostDeadAfterMs) });
});

/** What a warehouse read threw, as a reply: bad input 400, no such document 404, MongoDB away 503. */
function warehouseReply(error: unknown): never {
  if (error instanceof GanymedeError) {
    if (error.exitCode === ExitCode.usage) throw new HttpError(400, error.hint ? `${error.message} (${error.hint})` : error.message);
    if (error.exitCode === ExitCode.notFound) throw new HttpError(404, error.message);
    if (error.exitCode === ExitCode.unreachable) throw new HttpError(503, 'the warehouse (MongoDB) is unreachable; try again shortly');
  }
  throw error;
}

// One warehouse document and, with ?history=1, its change-log entries (`ganymede lookup --json` gives the same).
route('GET', '/v1/warehouse/:collection/:id', async (context) => {
  requireAdmin(context.principal);
  const query = parseWith(schemas.warehouseLookupQuery, Object.fromEntries(context.query), 'query');
  const { lookupDocument, parseLookupTarget } = await import('../warehouse/lookup.js');
  let target;
  try {
    target = parseLookupTarget(context.params.collection!, context.params.id!, query.geo);
  } catch (error) {
    warehouseReply(error);
  }
  if (!context.warehouse) throw new HttpError(503, 'this API host has no warehouse configured (mongodb.url)');
  const history = query.history === '1' || query.history === 'true';
  try {
    return ok(await lookupDocument({ db: await context.warehouse(), target, history, historyLimit: query.limit }));
  } catch (error) {
    warehouseReply(error);
  }
});
