// Signing in to the web console of a real `ganymede api` over a real Ganymede database, as a browser does
// it over HTTP: the admin token and a viewer token (made by the built CLI, `ganymede viewer add`) sign in; a
// GEO's token and a wrong one are refused with one message and count against the failed-authentication limit;
// the session cookie has its flags; sign-out and `ganymede viewer revoke` end sessions at once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { openStateDb, type Db } from '../../src/state/db.js';
import { runCli } from '../support/cli.js';
import { startTestApi, type TestApi } from '../support/ganymede.js';
import { mysqlPasswordForTests, mysqlUrlFor } from '../support/mysql.js';
import { ConsoleBrowser, formOf, hiddenFields } from '../support/console.js';
import { addGeo, captureLog, send, type TestGeo } from '../api/support.js';

let api: TestApi;
let db: Db;
let geo: TestGeo;
let cliEnv: Record<string, string>;
const log = captureLog();

before(async () => {
  api = await startTestApi({ 'api.auth_failure_limit': 6 });
  db = await openStateDb(api.loaded);
  geo = await addGeo(api.url, api.adminToken, 'north');
  const password = mysqlPasswordForTests();
  cliEnv = { GANYMEDE_MYSQL_URL: mysqlUrlFor(api.database), ...(password ? { GANYMEDE_MYSQL_PASSWORD: password } : {}) };
});
after(async () => {
  await db?.end();
  await api?.stop();
});

/** `ganymede viewer add NAME` through the built CLI: the token it prints once on stdout. */
async function addViewer(name: string): Promise<string> {
  const added = await runCli(['viewer', 'add', name], cliEnv);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stderr, new RegExp(`added viewer ${name}`));
  const token = added.stdout.trim();
  assert.match(token, new RegExp(`^gmv_${name}_[A-Za-z0-9_-]{43}$`));
  return token;
}

const sessionCookieLine = (reply: { headers: Record<string, unknown> }) =>
  ((reply.headers['set-cookie'] as string[] | undefined) ?? []).find((line) => line.startsWith('ganymede_console='));

describe('who may sign in', () => {
  test('the admin token signs in: a session cookie with HttpOnly, SameSite=Strict, Path=/console, no Secure over plain HTTP, for 12 hours', async () => {
    const browser = new ConsoleBrowser(api.url);
    const reply = await browser.signIn(api.adminToken, '/console/health');
    assert.equal(reply.status, 303, reply.text);
    assert.equal(reply.headers.location, '/console/health', 'back to the page that asked for the sign-in');
    const cookie = sessionCookieLine(reply);
    assert.ok(cookie, 'a session cookie is set');
    assert.match(cookie, /^ganymede_console=[A-Za-z0-9_-]{43}; /);
    for (const flag of ['HttpOnly', 'SameSite=Strict', 'Path=/console', 'Max-Age=43200']) assert.ok(cookie.split('; ').includes(flag), `${flag} in ${cookie}`);
    assert.ok(!cookie.includes('Secure'), 'no Secure flag without TLS (the browser would not send it back)');
    const grid = await browser.get('/console');
    assert.equal(grid.status, 200);
    assert.match(grid.text, /<span>admin<\/span>/);
    // What the sign-in page's script asks, for a link that came from another site without the cookie.
    assert.deepEqual((await browser.get('/console/session.json')).body, { signedIn: true, role: 'admin', name: 'admin' });
    assert.match(grid.text, /<a href="\/console\/audit">Audit<\/a>/, 'the admin sees the audit trail in the navigation');
    // Only a hash of the session id is stored.
    const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT id_hash, role FROM console_sessions');
    const sessionId = browser.cookies.get('ganymede_console')!;
    assert.ok(rows.every((row) => row.id_hash !== sessionId && !String(row.id_hash).includes(sessionId)));
  });

  test('a viewer token made by `ganymede viewer add` signs in read-only: no audit trail', async () => {
    const token = await addViewer('watcher');
    const browser = new ConsoleBrowser(api.url);
    assert.equal((await browser.signIn(token)).status, 303);
    const grid = await browser.get('/console');
    assert.equal(grid.status, 200);
    assert.match(grid.text, /viewer watcher \(read-only\)/);
    assert.doesNotMatch(grid.text, /href="\/console\/audit"/);
    const audit = await browser.get('/console/audit');
    assert.equal(audit.status, 403);
    assert.match(audit.text, /viewer watcher can look but not act/);
    const listed = await runCli(['viewer', 'list', '--json'], cliEnv);
    const viewers = JSON.parse(listed.stdout) as Array<{ name: string; activeSessions: number; lastSignedInAt: string | null }>;
    assert.deepEqual(viewers.map((viewer) => [viewer.name, viewer.activeSessions]), [['watcher', 1]]);
    assert.ok(viewers[0]!.lastSignedInAt);
  });

  test("a GEO's token and a wrong token cannot sign in: the same one message, no session", async () => {
    for (const token of [geo.token, `${api.adminToken}x`, 'gmv_watcher_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '']) {
      const browser = new ConsoleBrowser(api.url);
      const reply = await browser.signIn(token);
      assert.equal(reply.status, 401, reply.text);
      // The command reads as code on the page, not as the backticks the terminal's wording marks it with.
      assert.match(reply.text, /<p class="note bad" role="alert">this token cannot sign in: use the admin token or a viewer token \(<code>ganymede viewer add NAME<\/code>\); a GEO&#39;s token cannot sign in/);
      assert.doesNotMatch(/role="alert">[^<]*(?:<code>[^<]*<\/code>[^<]*)*<\/p>/.exec(reply.text)![0], /`/, 'no backtick shows');
      assert.equal(sessionCookieLine(reply), undefined, 'no session cookie');
      assert.equal((await browser.get('/console')).status, 303, 'still sent to sign in');
    }
  });

  test('a sign-in form posted without its own one-time value (from another page or site) is refused', async () => {
    const browser = new ConsoleBrowser(api.url);
    const reply = await browser.post('/console/sign-in', { signin: 'made-up', token: api.adminToken });
    assert.equal(reply.status, 403);
    assert.match(reply.text, /the sign-in form expired or was not this page&#39;s own/);
    assert.equal(sessionCookieLine(reply), undefined);
  });

  test('a page asked for without a session redirects to the sign-in; grid.json answers 401', async () => {
    const page = await new ConsoleBrowser(api.url).get('/console/txn/1');
    assert.equal(page.status, 303);
    assert.equal(page.headers.location, '/console/sign-in?next=%2Fconsole%2Ftxn%2F1');
    const poll = await new ConsoleBrowser(api.url).get('/console/grid.json?from=2026-01-01T00&to=2026-01-01T01&since=2026-01-01T00:00:00Z');
    assert.equal(poll.status, 401);
    assert.match(poll.body.error, /not signed in/);
    assert.deepEqual((await new ConsoleBrowser(api.url).get('/console/session.json')).body, { signedIn: false });
  });
});

describe('sessions end', () => {
  test('sign-out ends the session on the server: the old cookie no longer opens a page', async () => {
    const browser = new ConsoleBrowser(api.url);
    await browser.signIn(api.adminToken);
    const sessionId = browser.cookies.get('ganymede_console')!;
    const out = await browser.submit('/console', '/console/sign-out');
    assert.equal(out.status, 303);
    assert.equal(out.headers.location, '/console/sign-in?out=1');
    assert.match(sessionCookieLine(out) ?? '', /^ganymede_console=; .*Max-Age=0/);
    const replayed = new ConsoleBrowser(api.url);
    replayed.cookies.set('ganymede_console', sessionId);
    assert.equal((await replayed.get('/console')).status, 303, 'a copy of the cookie kept from before is worth nothing');
  });

  test("`ganymede viewer revoke` ends the viewer's open sessions at once, and its token signs in no more", async () => {
    const token = await addViewer('leaver');
    const browser = new ConsoleBrowser(api.url);
    await browser.signIn(token);
    assert.equal((await browser.get('/console')).status, 200);
    const dryRun = await runCli(['viewer', 'revoke', 'leaver', '--dry-run'], cliEnv);
    assert.equal(dryRun.stdout.trim(), "dry run: would revoke viewer leaver's token and end its 1 console session; nothing was changed");
    assert.equal((await browser.get('/console')).status, 200, 'the dry run changed nothing');
    const revoked = await runCli(['viewer', 'revoke', 'leaver'], cliEnv);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.stdout.trim(), 'revoked viewer leaver: its token no longer signs in; ended 1 console session');
    assert.equal((await browser.get('/console')).status, 303, 'the open session is over');
    assert.equal((await browser.get('/console/grid.json?from=2026-01-01T00&to=2026-01-01T01&since=2026-01-01T00:00:00Z')).status, 401);
    assert.equal((await new ConsoleBrowser(api.url).signIn(token)).status, 401, 'the token is gone');
    const [audit] = await db.query<mysql.RowDataPacket[]>("SELECT actor, action, target FROM audit_log WHERE target = 'viewer:leaver' OR actor = 'viewer:leaver' ORDER BY id");
    assert.deepEqual(audit.map((row) => row.action), ['viewer.add', 'console.sign-in', 'viewer.revoke']);
  });

  test('a session past api.console_session_hours is refused by the server, whatever the browser keeps', async () => {
    const browser = new ConsoleBrowser(api.url);
    await browser.signIn(api.adminToken);
    await db.query('UPDATE console_sessions SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND');
    assert.equal((await browser.get('/console')).status, 303);
  });
});

describe('forms', () => {
  test('a POST without the form token, or with a wrong one, is 403 and does nothing', async () => {
    const browser = new ConsoleBrowser(api.url);
    await browser.signIn(api.adminToken);
    const grid = await browser.get('/console');
    const { csrf } = hiddenFields(formOf(grid.text, '/console/sign-out')!);
    assert.match(csrf!, /^[A-Za-z0-9_-]{86}$/);
    const flipped = `${csrf!.slice(0, 10)}${csrf![10] === 'A' ? 'B' : 'A'}${csrf!.slice(11)}`;
    for (const form of [{}, { csrf: '' }, { csrf: flipped }, { csrf: 'x'.repeat(86) }] as Array<Record<string, string>>) {
      const reply = await browser.post('/console/sign-out', form);
      assert.equal(reply.status, 403, JSON.stringify(form));
      assert.match(reply.text, /the form token is missing or wrong/);
    }
    assert.equal((await browser.get('/console')).status, 200, 'still signed in: no forged sign-out went through');
    // Every page shows a new mask of the same token: each of them works.
    const again = hiddenFields(formOf((await browser.get('/console/health')).text, '/console/sign-out')!).csrf!;
    assert.notEqual(again, csrf);
    assert.equal((await browser.post('/console/sign-out', { csrf: again })).status, 303);
  });

  test("a form token of one session does not work in another", async () => {
    const first = new ConsoleBrowser(api.url);
    const second = new ConsoleBrowser(api.url);
    await first.signIn(api.adminToken);
    await second.signIn(api.adminToken);
    const { csrf } = hiddenFields(formOf((await first.get('/console')).text, '/console/sign-out')!);
    assert.equal((await second.post('/console/sign-out', { csrf: csrf! })).status, 403);
  });

  test('a form posted from another site is refused before anything else (Sec-Fetch-Site)', async () => {
    const browser = new ConsoleBrowser(api.url);
    await browser.signIn(api.adminToken);
    const { csrf } = hiddenFields(formOf((await browser.get('/console')).text, '/console/sign-out')!);
    const reply = await browser.post('/console/sign-out', { csrf: csrf! }, { 'sec-fetch-site': 'cross-site' });
    assert.equal(reply.status, 403);
    assert.match(reply.text, /posted from another site/);
  });
});

describe('limits', () => {
  test('a form over 16 KiB is refused with 413 before it is read, one sent as JSON with 415; the page says why', async () => {
    const big = await send(api.url, 'POST', '/console/sign-in', { raw: `token=${'x'.repeat(20_000)}`, contentType: 'application/x-www-form-urlencoded' });
    assert.equal(big.status, 413, big.text);
    assert.match(big.text, /the form is 20006 bytes; the limit is 16384/);
    const json = await send(api.url, 'POST', '/console/sign-in', { json: { token: api.adminToken } });
    assert.equal(json.status, 415, json.text);
    assert.match(json.text, /a console form is sent as application\/x-www-form-urlencoded/);
  });

  test('failed sign-ins count with the API limit: past it 429 with Retry-After, and a valid token is still taken', async () => {
    // api.auth_failure_limit is 6 for this file; earlier tests failed a few times from this address already.
    let reply;
    for (let attempt = 0; attempt < 10; attempt++) {
      reply = await new ConsoleBrowser(api.url).signIn(`wrong-${attempt}`);
      if (reply.status === 429) break;
      assert.equal(reply.status, 401);
    }
    assert.equal(reply!.status, 429, 'limited within the allowance');
    assert.match(reply!.text, /too many failed authentications from 127\.0\.0\.1; try again in \d+ s/);
    assert.match(String(reply!.headers['retry-after']), /^\d+$/);
    // The same limiter guards the API's bearer tokens.
    const bearer = await fetch(`${api.url}/v1/geos`, { headers: { authorization: 'Bearer wrong' } });
    assert.equal(bearer.status, 429);
    assert.equal((await new ConsoleBrowser(api.url).signIn(api.adminToken)).status, 303);
    assert.ok(log.some((line) => /failed authentications within/.test(line)), 'the log says an address was limited');
  });
});
