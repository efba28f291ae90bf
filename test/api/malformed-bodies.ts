// Generates malformed and oversized request bodies for every POST/PATCH endpoint of the status API,
// deterministically (seeded PRNG): the same cases, in the same order, on every run.
import { seededRandom } from './support.js';

export interface BodyCase {
  label: string;
  method: string;
  path: string;
  token: 'admin' | 'geo';
  payload: Buffer | undefined;
  contentType?: string | null;
  chunked?: boolean;
  status: 400 | 413 | 415;
  /** The field the reply must name (in `field` and in the message). */
  field?: string;
  /** What the message must say when there is no field. */
  pattern?: RegExp;
}

export interface Endpoint {
  method: string;
  path: string;
  token: 'admin' | 'geo';
  valid: Record<string, unknown>;
  /** A field whose value is pattern-checked, so invalid UTF-8 in it is refused even by a lenient decoder. */
  checkedField?: string;
  /** Leaf fields, by path, with values each is known to refuse. */
  fields: Record<string, unknown[]>;
}

/** Text spliced into the JSON as is: numbers JSON.stringify cannot write, NaN, invalid UTF-8 bytes. */
class Raw {
  constructor(readonly bytes: Buffer) {}
}
const raw = (text: string | number[]) => new Raw(typeof text === 'string' ? Buffer.from(text, 'latin1') : Buffer.from(text));

export function encode(value: unknown): Buffer {
  const spliced: Raw[] = [];
  const text = JSON.stringify(value, (_key, item: unknown) => (item instanceof Raw ? `@@raw${spliced.push(item) - 1}@@` : item));
  return Buffer.concat(text.split(/"@@raw(\d+)@@"/).map((part, index) => (index % 2 === 1 ? spliced[Number(part)]!.bytes : Buffer.from(part, 'utf8'))));
}

function setIn(body: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(body);
  const keys = path.split('.');
  let at: any = copy;
  for (const key of keys.slice(0, -1)) at = at[key];
  if (value === undefined) delete at[keys.at(-1)!];
  else at[keys.at(-1)!] = value;
  return copy;
}

function garbage(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * (depth > 0 ? 2 : 6));
  const width = 1 + Math.floor(random() * 4);
  if (pick === 0) return Array.from({ length: width }, () => garbage(random, depth - 1));
  if (pick === 1) return Object.fromEntries(Array.from({ length: width }, (_, i) => [`k${i}\u0000${'\u{1F600}'.repeat(i)}`, garbage(random, depth - 1)]));
  if (pick === 2) return random() * 1e308 * (random() < 0.5 ? -1 : 1);
  if (pick === 3) return String.fromCharCode(...Array.from({ length: width * 3 }, () => Math.floor(random() * 0xd7ff)));
  return pick === 4 ? null : random() < 0.5;
}

const huge = (random: () => number, length: number, prefix = '') =>
  prefix + Array.from({ length: length - prefix.length }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join('');

/** A required field left out. */
const missing = undefined;
/** Values every field refuses whatever its type: a field is never an object, an array or null. */
const noneOfThese = [null, {}, [], [[[]]], { nested: { deeper: [1, 2, 3] } }];
const notAString = [...noneOfThese, 0, -1, true];
const notABoolean = [...noneOfThese, 0, 1, 'true', 'false', 'yes'];
const notACount = [...noneOfThese, -1, 1.5, '12', true, raw('9007199254740993'), raw('1e300'), raw('-0.5'), 2 ** 60];

export function endpoints(options: { geo: string; txnId: number; publicKey: string; privateKey: string; maxBodyBytes: number; maxEvents: number }): Endpoint[] {
  const random = seededRandom(2026);
  const { geo, txnId, publicKey } = options;
  const hugeText = (prefix = '') => huge(random, Math.floor(options.maxBodyBytes * 0.8), prefix);
  const event = { key: 'k-1', at: '2026-01-01T00:10:00Z', level: 'info', phase: 'extract', table: 'devices', rows: 10, bytes: 2048, message: 'done' };
  const armoredHeader = '-----BEGIN PGP PUBLIC KEY BLOCK-----';
  const badKeys = [
    missing,
    ...notAString,
    '',
    'not a key',
    `${armoredHeader}\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n`,
    `${armoredHeader}\n\n${publicKey.split('\n').slice(3, 6).join('\n')}\n-----END PGP PUBLIC KEY BLOCK-----\n`,
    publicKey.replace(/[A-Za-z]{8}/, 'ZZZZZZZZ'),
    options.privateKey,
    huge(random, 70 * 1024, `${armoredHeader}\n`),
  ];
  return [
    {
      method: 'POST',
      path: '/v1/geos',
      token: 'admin',
      valid: { name: 'newgeo', publicKey },
      checkedField: 'name',
      fields: { name: [missing, ...notAString, '', 'UPPER', '-lead', 'a/b', '../x', 'a'.repeat(33), 'geo\u0000', hugeText()], publicKey: badKeys },
    },
    { method: 'PATCH', path: `/v1/geos/${geo}`, token: 'admin', valid: { enabled: true }, checkedField: 'enabled', fields: { enabled: [missing, ...notABoolean] } },
    { method: 'POST', path: `/v1/geos/${geo}/rotate-key`, token: 'admin', valid: { publicKey }, checkedField: 'publicKey', fields: { publicKey: badKeys } },
    {
      method: 'POST',
      path: `/v1/geos/${geo}/transactions`,
      token: 'geo',
      valid: { cycle: '2026-03-01T05', force: false, agentHost: 'agent-1.example' },
      checkedField: 'cycle',
      fields: {
        cycle: [missing, ...notAString, '', '2026-03-01', '2026-03-01T5', '2026-03-01T24', '2026-02-30T00', '2026-13-01T00', '2026-03-01T05:00:00Z', ' 2026-03-01T05', hugeText()],
        force: notABoolean,
        agentHost: [...notAString, 'h'.repeat(192), hugeText(), '\ud800', 'host\udc00'],
      },
    },
    {
      method: 'POST',
      path: `/v1/transactions/${txnId}/events`,
      token: 'geo',
      valid: { events: [event, { ...event, key: 'k-2' }] },
      checkedField: 'events.0.phase',
      fields: {
        'events.1.key': [...notAString, '', 'has space', 'slash/no', 'k'.repeat(65), 'nul\u0000'],
        'events.0.at': [missing, ...notAString, '', 'yesterday', '2026-01-01', '2026-01-01 00:00:00', '2026-01-01T25:00:00Z', '2026-01-01T00:00:00', raw('NaN'), '9999-12-31T23:59:59-12:00', '1999-12-31T23:59:59Z'],
        'events.1.level': [...notAString, 'fatal', 'INFO', ''],
        'events.0.phase': [missing, ...notAString, '', 'Extract', '1st', 'p'.repeat(33), '../etc'],
        'events.1.table': [...notAString, 't'.repeat(65)],
        'events.0.rows': notACount,
        'events.1.bytes': [...notACount, raw('Infinity'), raw('-Infinity')],
        // A long message is cut, not refused (test/api/client-data.test.ts); a lone surrogate is refused.
        'events.0.message': [...notAString, '\ud800', 'ok\udfff'],
      },
    },
    {
      method: 'POST',
      path: `/v1/transactions/${txnId}/close`,
      token: 'geo',
      valid: { file: { name: 'north-2026030105.tar.zst.gpg', size: 1234, sha256: 'ab'.repeat(32) } },
      checkedField: 'file.name',
      fields: {
        'file.name': [missing, ...notAString, '', '../x', '/etc/passwd', 'a/b', 'a\\b', 'name\u0000.gpg', '.hidden', '..', ' lead', 'n'.repeat(192), hugeText()],
        'file.size': [missing, ...notACount, raw('NaN'), -1024],
        'file.sha256': [missing, ...notAString, '', 'AB'.repeat(32), 'ab'.repeat(31) + 'a', 'ab'.repeat(32) + 'a', 'zz'.repeat(32), ` ${'ab'.repeat(32)}`, hugeText()],
      },
    },
    { method: 'POST', path: `/v1/transactions/${txnId}/fail`, token: 'geo', valid: { reason: 'the source database is down' }, fields: { reason: [missing, ...notAString, '', 'r'.repeat(2001), hugeText()] } },
  ];
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Every case for one endpoint: the body as a whole, then each field. */
export function casesFor(endpoint: Endpoint, limits: { maxBodyBytes: number; maxEvents: number }, seed: number): BodyCase[] {
  const random = seededRandom(seed);
  const cases: BodyCase[] = [];
  const base = { method: endpoint.method, path: endpoint.path, token: endpoint.token };
  const add = (label: string, payload: Buffer | string | undefined, expect: Pick<BodyCase, 'status' | 'field' | 'pattern'> & Partial<BodyCase>) =>
    cases.push({ ...base, label, payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload, ...expect });
  const notJson = { status: 400, pattern: /not valid JSON/ } as const;
  const valid = encode(endpoint.valid);
  const leafFields = Object.keys(endpoint.fields);

  // the body as a whole
  add('empty body', '', { status: 400, pattern: /empty/ });
  for (const blank of [' ', '\r\n\t  \n', ' '.repeat(5000)]) add(`whitespace body (${blank.length})`, blank, { status: 400, pattern: /empty/ });
  for (let i = 0; i < 4; i++) {
    const cut = 1 + Math.floor(random() * (valid.length - 2));
    add(`truncated at byte ${cut}`, valid.subarray(0, cut), notJson);
  }
  for (const literal of ['NaN', 'Infinity', '-Infinity', 'undefined', "'single'"]) {
    const field = leafFields[Math.floor(random() * leafFields.length)]!;
    add(`${field}: ${literal}`, encode(setIn(endpoint.valid, field, raw(literal))), notJson);
  }
  add('trailing garbage', Buffer.concat([valid, Buffer.from('}garbage')]), notJson);
  add('two objects', Buffer.concat([valid, valid]), notJson);
  add('comment', `/* hi */${valid.toString('utf8')}`, notJson);
  const checked = endpoint.checkedField;
  if (checked) {
    const payload = encode(setIn(endpoint.valid, checked, raw([0x22, 0x78, 0xc0, 0xaf, 0xff, 0x22])));
    add(`invalid UTF-8 in ${checked}`, payload, { status: 400, pattern: new RegExp(`UTF-8|${checked}`) });
  }
  add('invalid UTF-8 outside any string', Buffer.concat([Buffer.from([0xff, 0xfe]), valid]), { status: 400, pattern: /not valid (JSON|UTF-8)/ });
  for (const notObject of [[endpoint.valid], [], null, 42, 'text', true]) {
    add(`a ${JSON.stringify(notObject).slice(0, 20)} instead of an object`, encode(notObject), { status: 400, pattern: /expected a JSON object/ });
  }
  const typo = leafFields[0]!.split('.').at(-1)!.toUpperCase();
  add(`unknown field ${typo}`, encode({ ...endpoint.valid, [typo]: 1 }), { status: 400, field: typo });
  add('unknown field holding nested garbage', encode({ ...endpoint.valid, zz: garbage(random, 6) }), { status: 400, field: 'zz' });
  const withExtra = (json: string) => `${valid.toString('utf8').slice(0, -1)},${json}}`;
  add('deeply nested arrays', withExtra(`"deep":${'['.repeat(20_000)}${']'.repeat(20_000)}`), { status: 400, field: 'deep' });
  add('unterminated deep nesting', `{"deep":${'['.repeat(40_000)}`, notJson);
  add('duplicate key, the last one wrong', withExtra(`${JSON.stringify(leafFields[0]!.split('.')[0])}:[]`), { status: 400, field: leafFields[0]!.split('.')[0]! });
  for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', null]) {
    add(`Content-Type ${contentType ?? '(none)'}`, valid, { status: 415, contentType, pattern: /Content-Type: application\/json/ });
  }
  const over = encode({ ...endpoint.valid, padding: huge(random, limits.maxBodyBytes + 1) });
  add('over max_body_bytes, with Content-Length', over, { status: 413, pattern: new RegExp(`limit is ${limits.maxBodyBytes}`) });
  add('over max_body_bytes, chunked', over, { status: 413, chunked: true, pattern: new RegExp(`limit of ${limits.maxBodyBytes}`) });

  // each field: missing (when required), wrong types, bad values, random garbage
  for (const [field, badValues] of Object.entries(endpoint.fields)) {
    for (const value of badValues) {
      const shown = value === missing ? '(missing)' : value instanceof Raw ? value.bytes.toString('latin1') : JSON.stringify(value);
      const label = `${field} = ${shown.length > 30 ? `${shown.slice(0, 30)}… (${shown.length})` : shown}`;
      add(label, encode(setIn(endpoint.valid, field, value)), value instanceof Raw && !isJson(shown) ? notJson : { status: 400, field });
    }
    add(`${field} = random garbage`, encode(setIn(endpoint.valid, field, garbage(random, 1 + Math.floor(random() * 4)))), { status: 400, field });
  }
  return cases;
}

/** Bodies whose free-text fields hold bytes that are not UTF-8: they must be refused, not stored as U+FFFD. */
export function invalidUtf8Cases(endpoint: Endpoint, fields: string[]): BodyCase[] {
  return fields.map((field) => ({
    label: `${field} holds invalid UTF-8`,
    method: endpoint.method,
    path: endpoint.path,
    token: endpoint.token,
    payload: encode(setIn(endpoint.valid, field, raw([0x22, 0x61, 0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80, 0x22]))),
    status: 400,
    pattern: /UTF-8/,
  }));
}

export const eventsOverLimit = (endpoint: Endpoint, maxEvents: number): BodyCase[] =>
  [maxEvents + 1, maxEvents * 10].map((count) => ({
    label: `${count} events (limit ${maxEvents})`,
    method: endpoint.method,
    path: endpoint.path,
    token: endpoint.token,
    payload: encode({ events: Array.from({ length: count }, (_, i) => ({ key: `over-${i}`, at: '2026-01-01T00:00:00Z', phase: 'extract' })) }),
    status: 400,
    field: 'events',
  }));
