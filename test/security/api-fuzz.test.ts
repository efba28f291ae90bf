// A bounded fuzzer against the real API server, as one compromised GEO or anyone on the port would try
// it: a few thousand hostile requests from a fixed seed (fuzz-requests.ts), each on its own connection.
// Throughout, the server stays up and never answers 5xx; no answer carries a stack trace, a file path of
// ours or a secret (a token, another GEO's token hash); and no row of the other GEO changes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { hashToken } from '../../src/state/geos.js';
import { recordEvents } from '../../src/state/events.js';
import { openTransaction } from '../../src/state/transactions.js';
import { seededRandom } from '../api/support.js';
import { fuzzRequest, sendRawRequest, type FuzzReply, type FuzzRequest, type FuzzTarget } from './fuzz-requests.js';
import { addTestGeo, captureApiLog, startSecureApi, type SecureApi } from './support.js';

const requests = 5_000;
const parallel = 8;
const log = captureApiLog();
let api: SecureApi;
let fuzz: FuzzTarget;
let victimToken: string;
let victimId: number;
let victimRowsBefore: unknown;
const answered: { request: FuzzRequest; reply: FuzzReply }[] = [];

const hourStart = (hoursAgo: number) => new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - hoursAgo * 3_600_000);

async function geoId(name: string): Promise<number> {
  const [rows] = await api.db.query<mysql.RowDataPacket[]>('SELECT id FROM geos WHERE name = ?', [name]);
  return Number(rows[0]!.id);
}

/** Everything of the victim's that the attacker must not be able to change. */
async function victimRows(): Promise<unknown> {
  const query = async (sql: string, params: unknown[]) => (await api.db.query<mysql.RowDataPacket[]>(sql, params))[0];
  const txnIds = fuzz.victim.txnIds;
  return {
    geo: await query('SELECT * FROM geos WHERE id = ?', [victimId]),
    transactions: await query('SELECT * FROM transactions WHERE geo_id = ? ORDER BY id', [victimId]),
    events: await query('SELECT * FROM events WHERE geo_id = ? OR txn_id IN (?) ORDER BY id', [victimId, txnIds]),
    steps: await query('SELECT * FROM steps WHERE txn_id IN (?) ORDER BY id', [txnIds]),
    audit: await query('SELECT * FROM audit_log ORDER BY id', []),
  };
}

before(async () => {
  api = await startSecureApi({
    // The limiter is on, with limits this run does not reach, so the requests get to the handlers.
    authFailures: { maxFailures: 1_000_000, maxGlobalFailures: 1_000_000, windowMs: 60_000 },
    server: { maxBackfillHours: 72, requestTimeoutMs: 3_000 },
  });
  const attackerToken = await addTestGeo(api.db, 'attacker');
  victimToken = await addTestGeo(api.db, 'victim');
  const [attackerId] = [await geoId('attacker')];
  victimId = await geoId('victim');
  const open = async (geo: number, hoursAgo: number) => (await openTransaction(api.db, geo, hourStart(hoursAgo))).txn.id;
  fuzz = {
    attacker: { name: 'attacker', token: attackerToken, txnIds: [await open(attackerId, 1), await open(attackerId, 2)] },
    victim: { name: 'victim', txnIds: [await open(victimId, 1), await open(victimId, 3)] },
  };
  await recordEvents(api.db, { txnId: fuzz.victim.txnIds[0]!, geoId: victimId, source: 'agent' }, [{ key: 'v-1', at: new Date(), level: 'info', phase: 'extract', message: 'victim' }]);
  victimRowsBefore = await victimRows();
});

after(async () => {
  await api?.stop();
});

test(`${requests} hostile requests: every one answered below 500, the server up throughout`, async () => {
  const random = seededRandom(12);
  const all = Array.from({ length: requests }, (_, index) => fuzzRequest(random, fuzz, index));
  let next = 0;
  const worker = async () => {
    while (next < all.length) {
      const request = all[next++]!;
      answered.push({ request, reply: await sendRawRequest(api.port, request.bytes, 15_000, request.mayGoUnanswered) });
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const wrong = answered.filter(({ request, reply }) => reply.status >= 500 || reply.status === -1 || (reply.status === 0 && !request.mayGoUnanswered));
  assert.deepEqual(wrong.map(({ request, reply }) => `${request.kind}: ${reply.status === -1 ? 'no answer within 15 s' : reply.status} ${reply.body.slice(0, 200)}`), []);
  const health = await sendRawRequest(api.port, Buffer.from('GET /v1/health HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n'), 15_000);
  assert.equal(health.status, 200);
});

test('most requests reached the handlers: answered in JSON, not refused by the limiter', () => {
  const json = answered.filter(({ reply }) => /content-type: application\/json/i.test(reply.head));
  assert.ok(json.length > requests * 0.6, `only ${json.length} of ${requests} answers were the API's JSON`);
  assert.equal(answered.filter(({ reply }) => /too many failed authentications/.test(reply.body)).length, 0);
  const statuses = new Set(answered.map(({ reply }) => reply.status));
  // Every kind of answer came up, so the run reached every layer: routing, auth, schemas, state.
  for (const status of [200, 201, 400, 401, 403, 404, 405, 413, 415]) assert.ok(statuses.has(status), `no ${status} among ${[...statuses].sort().join(' ')}`);
});

test('no answer carries a stack trace, a path of ours, or a secret', () => {
  const secrets = [victimToken, hashToken(victimToken), hashToken(victimToken).slice(0, 16), fuzz.attacker.token, hashToken(fuzz.attacker.token), api.adminToken, hashToken(api.adminToken)];
  const leaks = [/\n\s+at \S/, /node:internal/, /\.[cm]?[jt]s:\d+/, /\/src\/\w/, new RegExp(process.cwd().replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))];
  const found: string[] = [];
  for (const { request, reply } of answered) {
    const text = `${reply.head}\n${reply.body}`;
    for (const secret of secrets) if (text.includes(secret)) found.push(`${request.kind}: a secret (${secret.slice(0, 8)}…)`);
    for (const leak of leaks) if (leak.test(text)) found.push(`${request.kind}: ${leak} in ${text.slice(0, 300)}`);
  }
  assert.deepEqual(found.slice(0, 20), []);
});

test("no row of the other GEO changed, and the API logged no error", async () => {
  assert.deepEqual(await victimRows(), victimRowsBefore);
  assert.deepEqual(log.filter((line) => / ERROR /.test(line)).slice(0, 10), []);
});
