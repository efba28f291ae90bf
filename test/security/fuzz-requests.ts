// Hostile requests for the API fuzzer (api-fuzz.test.ts), generated from a seed: request targets that
// are not plain paths, odd methods, broken and duplicate headers, bodies that are cut, deep, huge or of
// the wrong types, and tokens that are missing, malformed, guessed or another GEO's. Each is raw bytes,
// so nothing on the way normalises it, and is sent on its own connection by sendRawRequest.
import { connect } from 'node:net';

export interface FuzzTarget {
  /** The attacking GEO: its name, token and transactions. */
  attacker: { name: string; token: string; txnIds: number[] };
  /** The GEO under attack: its name and transactions (its token is never sent). */
  victim: { name: string; txnIds: number[] };
}

export interface FuzzRequest {
  kind: string;
  bytes: Buffer;
  /** The request is cut short on purpose: the server may close without an answer. */
  mayGoUnanswered?: boolean;
}

export interface FuzzReply {
  status: number;
  head: string;
  body: string;
}

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const int = (random: () => number, below: number) => Math.floor(random() * below);
/** `good` two times in three, else one of the others: most requests should get past the first check. */
const mostly = <T>(random: () => number, good: T, ...others: T[]): T => (random() < 0.67 || others.length === 0 ? good : pick(random, others));

function randomText(random: () => number, length: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'): string {
  return Array.from({ length }, () => alphabet[int(random, alphabet.length)]).join('');
}

const hostileTargets = ['//', '///', '//@', '//a:99999', '//[', '/\\', '/\\\\evil', '*', 'http://evil.example/v1/health', '//evil.example/v1/geos', '/v1/../v1/geos', '/v1/./status', '/%', '/%%', '/%zz', '/v1/geos/%ff%fe', '/v1/geos/%00', '/v1/transactions/%2e%2e', '/v1/transactions?limit=%', '/v1/transactions?geo[]=a', '/?#', '/v1/geos/ä', '/v1/geos/\u{1F600}', '/v1/health\u0000', '/v1/he alth', '/' + 'a/'.repeat(300)];

/** The API's routes with their methods, over ids and names of both GEOs, unknown ones and malformed ones. */
function routes(random: () => number, fuzz: FuzzTarget): [string, string][] {
  const ids = [...fuzz.attacker.txnIds, ...fuzz.attacker.txnIds, ...fuzz.victim.txnIds, 0, -1, 999_999, '1e3', '0x10', 'abc', '9'.repeat(30), '1.5', '%31'];
  const geos = [fuzz.attacker.name, fuzz.attacker.name, fuzz.attacker.name, fuzz.victim.name, 'nobody', 'ATTACKER', '..', '%2e%2e', 'a'.repeat(40), `${fuzz.victim.name}%00`, encodeURIComponent('ü')];
  const id = pick(random, ids);
  const geo = pick(random, geos);
  const cycle = pick(random, ['2026-01-01T00', 'x', '2000-01-01T00', '9999-12-31T23', new Date().toISOString().slice(0, 13)]);
  return [
    ['GET', '/v1/health'], ['GET', '/metrics'], ['GET', '/v1/status'], ['GET', '/v1/geos'], ['GET', '/v1/cycles'], ['GET', `/v1/cycles/${cycle}`], ['GET', '/v1/centre-keys'],
    ['GET', `/v1/geos/${geo}`], ['PATCH', `/v1/geos/${geo}`], ['POST', '/v1/geos'], ['POST', `/v1/geos/${geo}/rotate-token`], ['POST', `/v1/geos/${geo}/rotate-key`],
    ['POST', `/v1/geos/${geo}/transactions`], ['POST', `/v1/geos/${geo}/transactions`], ['POST', `/v1/geos/${geo}/transactions`],
    ['GET', `/v1/transactions/${id}`], ['POST', `/v1/transactions/${id}/events`], ['POST', `/v1/transactions/${id}/events`], ['POST', `/v1/transactions/${id}/close`], ['POST', `/v1/transactions/${id}/fail`],
    ['GET', `/v1/transactions?geo=${geo}&limit=${pick(random, ['1', '0', '-5', '99999', 'x', '1e2', ''])}&state=${pick(random, ['open', 'OPEN', '', 'x'])}`],
    ['GET', `/v1/transactions?from=${cycle}&to=${cycle}&unknown=1`],
  ];
}

/** Mostly a route with its own method; else any method on any target, the hostile ones included. */
function methodAndTarget(random: () => number, fuzz: FuzzTarget): [string, string] {
  if (random() < 0.75) return pick(random, routes(random, fuzz));
  const method = pick(random, ['GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'get', 'FOO', 'G@T']);
  const roll = random();
  if (roll < 0.5) return [method, pick(random, hostileTargets)];
  if (roll < 0.6) return [method, `/v1/${randomText(random, 1 + int(random, 3000), 'abc/%.:@!$&()*+,;=~-_')}`];
  return [method, pick(random, routes(random, fuzz))[1]];
}

function token(random: () => number, fuzz: FuzzTarget): string | undefined {
  const own = fuzz.attacker.token;
  if (random() < 0.6) return own;
  return pick(random, [
    own, own, own, own, own, undefined, '', 'gmd_', `${own}x`, own.slice(0, -1), own.toUpperCase(),
    `gmd_${fuzz.victim.name}_${randomText(random, 43, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')}`,
    'A'.repeat(9000), `${own} ${own}`, 'null', "' OR '1'='1",
  ]);
}

function authorization(random: () => number, value: string | undefined): [string, string][] {
  if (value === undefined) return [];
  if (random() < 0.7) return [['Authorization', `Bearer ${value}`]];
  return pick(random, [
    [['Authorization', `bearer\t${value}  `]],
    [['Authorization', `Basic ${Buffer.from(`admin:${value}`).toString('base64')}`]],
    [['Authorization', value]],
    [['Authorization', 'Bearer'], ['Authorization', `Bearer ${value}`]],
  ] as [string, string][][]);
}

function validBody(random: () => number, path: string, fuzz: FuzzTarget): unknown {
  const at = mostly(random, new Date().toISOString(), '9999-12-31T23:59:59-12:00', '1999-01-01T00:00:00Z', '2026-01-01T00:00:00.123456789+14:00', 'now');
  if (path.endsWith('/events')) {
    const count = mostly(random, 1 + int(random, 20), 50, 500, 501);
    return { events: Array.from({ length: count }, (_, n) => ({ key: `f${int(random, 1e6)}-${n}`, at, phase: mostly(random, 'extract', 'Extract', ''), level: mostly(random, 'info', 'fatal'), message: mostly(random, 'ok', 'm'.repeat(5000), '\u001b[2J\u0007', '\ud800'), rows: mostly(random, n, -1, 1e300, 2 ** 60) })) };
  }
  if (path.endsWith('/close')) return { file: { name: mostly(random, 'x.gpg', '../etc/passwd', 'a'.repeat(300)), size: mostly(random, 1, -1, 1e20), sha256: mostly(random, 'ab'.repeat(32), 'zz') } };
  if (path.endsWith('/fail')) return { reason: mostly(random, 'down', '', 'r'.repeat(3000), '\u001b]0;pwned\u0007') };
  if (path.endsWith('/transactions')) {
    const hoursAgo = mostly(random, int(random, 72), 80, 24 * 365 * 20, -3);
    return { cycle: new Date(Date.now() - hoursAgo * 3_600_000).toISOString().slice(0, 13), force: mostly<unknown>(random, random() < 0.5, 'yes'), agentHost: mostly(random, 'host', 'h\u001b[2J', 'h'.repeat(300), fuzz.victim.name) };
  }
  if (path.endsWith('/rotate-key')) return { publicKey: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----' };
  return pick(random, [{ enabled: false }, { name: 'newgeo', publicKey: 'x' }, {}]);
}

function body(random: () => number, path: string, fuzz: FuzzTarget): Buffer {
  const json = JSON.stringify(validBody(random, path, fuzz));
  const roll = random();
  if (roll < 0.45) return Buffer.from(json);
  if (roll < 0.55) return Buffer.from(json.slice(0, int(random, json.length)));
  if (roll < 0.6) return Buffer.from(`{"deep":${'['.repeat(20_000 + int(random, 30_000))}`);
  if (roll < 0.65) return Buffer.from(`{"n":${'9'.repeat(400)}e999999,"m":-0.0e-99999}`);
  if (roll < 0.7) return Buffer.from(pick(random, ['[]', 'null', '"text"', '42', 'true', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}']));
  if (roll < 0.75) return Buffer.from([0xff, 0xfe, 0xc0, 0xaf, ...Buffer.from(json)]);
  if (roll < 0.8) return Buffer.from(`${json}${json}`);
  if (roll < 0.85) return Buffer.alloc(1_100_000 + int(random, 1000), 0x61); // past max_body_bytes
  return Buffer.from(JSON.stringify({ ...(JSON.parse(json) as object), extra: { nested: [1, { deeper: 'x' }] } }));
}

/** One request, by seeded choice of method, target, headers, token and body. */
export function fuzzRequest(random: () => number, fuzz: FuzzTarget, index: number): FuzzRequest {
  const [method, path] = methodAndTarget(random, fuzz);
  const headers: [string, string][] = [['Host', 'api.test'], ['Connection', 'close'], ...authorization(random, token(random, fuzz))];
  let payload = method === 'GET' || method === 'HEAD' ? (random() < 0.1 ? Buffer.from('{}') : undefined) : random() < 0.9 ? body(random, path, fuzz) : undefined;
  let kind = `${method} ${path.slice(0, 80)}`;
  let mayGoUnanswered = false;
  const contentType = mostly(random, 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/json\u0000', '');
  const headerRoll = random();
  if (payload) {
    if (contentType) headers.push(['Content-Type', contentType]);
    if (headerRoll < 0.05) {
      headers.push(['Content-Length', String(payload.length + 100 + int(random, 1000))]);
      kind += ' (Content-Length longer than the body)';
      mayGoUnanswered = true;
    } else if (headerRoll < 0.08) {
      headers.push(['Content-Length', pick(random, ['-1', 'abc', '1e3', '0x10', ' 12', '99999999999999999999'])]);
      kind += ' (bad Content-Length)';
    } else if (headerRoll < 0.11) {
      headers.push(['Content-Length', String(payload.length)], ['Content-Length', String(payload.length + 1)]);
      kind += ' (two Content-Lengths)';
    } else if (headerRoll < 0.14) {
      headers.push(['Transfer-Encoding', 'chunked'], ['Content-Length', String(payload.length)]);
      kind += ' (chunked and Content-Length)';
    } else if (headerRoll < 0.2) {
      headers.push(['Transfer-Encoding', 'chunked']);
      payload = Buffer.concat([Buffer.from(`${payload.length.toString(16)}\r\n`), payload, Buffer.from('\r\n0\r\n\r\n')]);
      kind += ' (chunked)';
    } else headers.push(['Content-Length', String(payload.length)]);
  }
  if (random() < 0.05) headers.push(['X-Padding', 'x'.repeat(4_000 + int(random, 20_000))]);
  if (random() < 0.03) headers.push(['X-Forwarded-For', '10.9.8.7'], ['X-Real-IP', '127.0.0.1']);
  if (random() < 0.02) headers.splice(0, 1); // no Host
  const head = `${method} ${path} HTTP/1.1\r\n${headers.map(([name, value]) => `${name}: ${value}`).join('\r\n')}\r\n\r\n`;
  return { kind: `#${index} ${kind}`, bytes: Buffer.concat([Buffer.from(head, 'utf8'), payload ?? Buffer.alloc(0)]), mayGoUnanswered };
}

/**
 * Sends bytes on a fresh connection and reads until the server closes it (or timeoutMs passes: status -1).
 * The connection stays open for writing: node's server drops a request whose client half-closed before
 * the answer. `halfClose` ends it at once, for requests cut short on purpose.
 */
export function sendRawRequest(port: number, bytes: Buffer, timeoutMs: number, halfClose = false): Promise<FuzzReply> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (status?: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = split === -1 ? text : text.slice(0, split);
      resolve({ status: status ?? Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), head, body: split === -1 ? '' : text.slice(split + 4) });
    };
    const timer = setTimeout(() => finish(-1), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A server that answers and closes before the whole body is written: what it said is the answer.
    socket.on('error', () => finish());
    socket.on('close', () => finish());
    if (halfClose) socket.end(bytes);
    else socket.write(bytes);
  });
}
