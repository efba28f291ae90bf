// A GEO's token can put any text in its agent host, its events and its fail reason. None of it may reach
// an operator's terminal as a control sequence: not ESC[2J (clear the screen) followed by a fake "all
// done", not a BEL, not a carriage return that overwrites the line, not a bidi override that reverses it.
// Printed for people, such characters show as escapes; --json stays the same data, escaped as JSON.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { configureLogging, createLogger } from '../../src/log.js';
import { addGeo, cycleAt, send } from '../api/support.js';
import { runCli } from '../support/cli.js';
import { startTestApi, type TestApi } from '../support/ganymede.js';
import { mysqlPasswordForTests, mysqlUrlFor } from '../support/mysql.js';

const clearScreen = '\u001b[2J\u001b[H';
const hostile = {
  agentHost: `evil${clearScreen}\u0007host`,
  table: `acc\u001b[8mounts`,
  message: `${clearScreen}all done\rALL GOOD\u0007`,
  reason: `disk \u202efull\u202c; ${clearScreen}nothing failed\u0085\u009b31m`,
};

/** Anything a terminal would act on: C0 but the newline, DEL, C1, bidi controls, line separators. */
const rawControl = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

let api: TestApi;
let txnId: number;
let env: Record<string, string>;

before(async () => {
  api = await startTestApi();
  const geo = await addGeo(api.url, api.adminToken, 'emea');
  const opened = await send(api.url, 'POST', `/v1/geos/emea/transactions`, { token: geo.token, json: { cycle: cycleAt(1), agentHost: hostile.agentHost } });
  assert.equal(opened.status, 201, opened.text);
  txnId = opened.body.transaction.id;
  const events = await send(api.url, 'POST', `/v1/transactions/${txnId}/events`, {
    token: geo.token,
    json: { events: [{ at: new Date().toISOString(), level: 'info', phase: 'extracting', table: hostile.table, rows: 1, message: hostile.message }] },
  });
  assert.ok(events.status < 300, events.text);
  const failed = await send(api.url, 'POST', `/v1/transactions/${txnId}/fail`, { token: geo.token, json: { reason: hostile.reason } });
  assert.ok(failed.status < 300, failed.text);
  env = { GANYMEDE_MYSQL_URL: mysqlUrlFor(api.database), ...(mysqlPasswordForTests() ? { GANYMEDE_MYSQL_PASSWORD: mysqlPasswordForTests() } : {}) };
});
after(async () => {
  await api?.stop();
});

function assertNoRawControl(text: string, where: string): void {
  const found = rawControl.exec(text);
  assert.equal(found, null, `${where} holds a raw U+${found?.[0].charCodeAt(0).toString(16).padStart(4, '0')} near ${JSON.stringify(text.slice(Math.max(0, (found?.index ?? 0) - 20), (found?.index ?? 0) + 20))}`);
}

test('txn show prints the agent host, the event and the fail reason with their controls as visible escapes', async () => {
  const run = await runCli(['txn', 'show', String(txnId)], env);
  assert.equal(run.code, 0, run.stderr);
  assertNoRawControl(run.stdout, 'stdout');
  assertNoRawControl(run.stderr, 'stderr');
  assert.ok(run.stdout.includes('by evil\\x1b[2J\\x1b[H\\x07host'), run.stdout);
  assert.ok(run.stdout.includes('\\x1b[2J\\x1b[Hall done\\rALL GOOD\\x07'), run.stdout);
  assert.ok(run.stdout.includes('acc\\x1b[8mounts'), run.stdout);
  assert.ok(run.stdout.includes('disk \\u202efull\\u202c; \\x1b[2J\\x1b[Hnothing failed\\x85\\x9b31m'), run.stdout);
});

test('txn list and status show the fail reason escaped too', async () => {
  for (const args of [['txn', 'list'], ['status']]) {
    const run = await runCli(args, env);
    assert.equal(run.code, 0, run.stderr);
    assertNoRawControl(run.stdout, `${args.join(' ')} stdout`);
    assert.ok(run.stdout.includes('disk \\u202efull\\u202c; \\x1b[2J'), `${args.join(' ')}:\n${run.stdout}`);
  }
});

test('--json keeps the exact text, escaped as JSON: no raw control reaches the terminal', async () => {
  const run = await runCli(['txn', 'show', String(txnId), '--json'], env);
  assert.equal(run.code, 0, run.stderr);
  assertNoRawControl(run.stdout, 'stdout');
  const shown = JSON.parse(run.stdout) as { transaction: { agentHost: string; error: string }; events: Array<{ table?: string; message?: string }> };
  assert.equal(shown.transaction.agentHost, hostile.agentHost);
  assert.ok(shown.transaction.error.includes(hostile.reason), shown.transaction.error);
  assert.ok(shown.events.some((event) => event.message === hostile.message && event.table === hostile.table));
});

test('a log line carrying the text, as message and as field, escapes it in the text format and stays faithful JSON in the json format', () => {
  const lines: string[] = [];
  const log = createLogger('worker');
  configureLogging({ format: 'text', level: 'info', write: (line) => void lines.push(line) });
  log.warn(`agent failed: ${hostile.reason}`, { host: hostile.agentHost, table: hostile.table });
  configureLogging({ format: 'json', level: 'info', write: (line) => void lines.push(line) });
  log.warn(`agent failed: ${hostile.reason}`, { host: hostile.agentHost, table: hostile.table });
  configureLogging({ format: 'text', level: 'warn', write: (line) => process.stderr.write(line) });

  const [text, json] = lines as [string, string];
  assertNoRawControl(text, 'the text log line');
  assert.equal(text.split('\n').length, 2, 'one line');
  assert.match(text, /WARN  worker: agent failed: disk \\u202efull\\u202c; \\x1b\[2J\\x1b\[Hnothing failed\\x85\\x9b31m host=evil\\x1b\[2J\\x1b\[H\\x07host table=acc\\x1b\[8mounts\n$/);
  assertNoRawControl(json, 'the json log line');
  const parsed = JSON.parse(json) as { message: string; host: string; table: string };
  assert.deepEqual([parsed.message, parsed.host, parsed.table], [`agent failed: ${hostile.reason}`, hostile.agentHost, hostile.table]);
});
