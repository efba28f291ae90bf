// `ganymede check` as a dead-man switch per GEO (issue #15): every enabled GEO owes every hour once its
// deadline has passed; silence is WARNING, check.geo_critical_hours of it CRITICAL, whatever the cycles did
// meanwhile. Hours are fixed (2026-01-01) and "now" is passed in; the webhook and the CLI run at the real time.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { testCentre, testConfig, type TestCentre } from '../support/ganymede.js';
import { mysqlUrlFor } from '../support/mysql.js';
import { openStateDb, type Db } from '../../src/state/db.js';
import { addGeo, setGeoEnabled } from '../../src/state/geos.js';
import { closeTransaction, failTransactionByAgent, openTransaction } from '../../src/state/transactions.js';
import { recordMetrics } from '../../src/state/metrics.js';
import { finishArchiveRecord, startArchiveRecord } from '../../src/state/archive.js';
import { recordAudit } from '../../src/state/audit.js';
import { recordHeartbeat } from '../../src/state/hosts.js';
import { describeCheck, runCheck, type CheckResult, type Finding } from '../../src/commands/check.js';
import { tick } from '../../src/commands/jupiter/tick.js';
import { cycleOf, hourMs } from '../../src/cycle.js';

const hour = (h: number) => new Date(Date.UTC(2026, 0, 1, h));
const at = (h: number, m: number) => new Date(Date.UTC(2026, 0, 1, h, m));

const opened: Array<{ centre: TestCentre; db: Db }> = [];
after(async () => {
  for (const { centre, db } of opened) {
    await db.end();
    await centre.dispose();
  }
});

async function freshCentre(settings: Record<string, string | number | boolean> = {}): Promise<Db> {
  const centre = await testCentre('deadman', { 'logging.level': 'error', 'site.data_dir': '/tmp', 'centre.cycle_deadline_minutes': 45, ...settings });
  const db = await openStateDb(centre.loaded);
  opened.push({ centre, db });
  return db;
}

const centreOf = (db: Db) => opened.find((entry) => entry.db === db)!.centre;
const check = (db: Db, now: Date) => runCheck({ loaded: centreOf(db).loaded, now });
const deadMan = (result: CheckResult): Finding[] => result.findings.filter((finding) => ['geo-silent', 'hours-silent'].includes(finding.kind));
const owed = (result: CheckResult) => deadMan(result).map((finding) => [finding.geo ?? '*', finding.level, finding.hours!.map((item) => item.cycle)]);

async function geoAdded(db: Db, name: string, createdAt: Date): Promise<number> {
  const added = await addGeo(db, { name, publicKey: 'test key', keyFingerprint: 'F'.repeat(40) });
  await db.query('UPDATE geos SET created_at = ? WHERE id = ?', [createdAt, added!.geo.id]);
  return added!.geo.id;
}

async function deliver(db: Db, geoId: number, cycleStart: Date): Promise<number> {
  const txn = await openTransaction(db, geoId, cycleStart);
  assert.equal(txn.kind, 'opened');
  await closeTransaction(db, txn.txn.id, { name: `f${txn.txn.id}.gpg`, size: 1, sha256: '0'.repeat(64) });
  return txn.txn.id;
}

/** The other checks quiet at `now` (a tick a minute before, an archive ten minutes before), so the lines are the dead-man's alone. */
async function quietOtherChecks(db: Db, now: Date): Promise<void> {
  await recordMetrics(db, [{ name: 'tick.run', dimensions: {}, value: 1, at: new Date(now.getTime() - 60_000) }]);
  await startArchiveRecord(db, { kind: 'ganymede-db', sourceKey: 'ganymede:test', storeUrl: 'file:///x', objectKey: 'x' });
  await finishArchiveRecord(db, 'ganymede-db', 'ganymede:test', 1, '0'.repeat(64));
  await db.query("UPDATE archive_records SET archived_at = ? WHERE source_key = 'ganymede:test'", [new Date(now.getTime() - 600_000)]);
}

test('after partial feeds went out without GEO b for two hours, check is CRITICAL naming b and both hours', async () => {
  const db = await freshCentre({ 'feed.partial_after_deadline': true });
  const a = await geoAdded(db, 'a', at(7, 30));
  const b = await geoAdded(db, 'b', at(7, 30));
  for (const h of [8, 9, 10]) await deliver(db, a, hour(h));
  await deliver(db, b, hour(8));
  // b's agent opened 10 and gave up; 9 it never opened. The hours were fed and sent without it.
  const b10 = await openTransaction(db, b, hour(10));
  await failTransactionByAgent(db, b10.txn.id, 'source database unreachable');
  await db.query("UPDATE transactions SET state = 'done', warehoused_at = UTC_TIMESTAMP(3), finished_at = UTC_TIMESTAMP(3) WHERE state = 'delivered'");
  await db.query("UPDATE cycles SET state = 'sent', missing_geos = IF(cycle_start = ?, NULL, 'b'), sent_at = UTC_TIMESTAMP(3)", [hour(8)]);
  const now = at(10, 50);
  await quietOtherChecks(db, now);

  const result = await check(db, now);
  assert.equal(result.status, 'critical');
  assert.deepEqual(owed(result), [['b', 'critical', ['2026-01-01T09', '2026-01-01T10']]]);
  assert.deepEqual(describeCheck(result).split('\n'), [
    'GANYMEDE CRITICAL - GEO b: 2 hours not delivered by their deadline (45 min): 2026-01-01T09 nothing opened, 2026-01-01T10 opened but never delivered (agent_failed); last delivered 2026-01-01T08',
    'CRITICAL: GEO b: 2 hours not delivered by their deadline (45 min): 2026-01-01T09 nothing opened, 2026-01-01T10 opened but never delivered (agent_failed); last delivered 2026-01-01T08',
  ]);
  const [finding] = deadMan(result);
  assert.deepEqual(
    { kind: finding!.kind, key: finding!.key, geo: finding!.geo, hours: finding!.hours, lastDelivered: finding!.lastDelivered },
    { kind: 'geo-silent', key: 'geo-silent:b', geo: 'b', hours: [{ cycle: '2026-01-01T09', opened: null }, { cycle: '2026-01-01T10', opened: 'agent_failed' }], lastDelivered: '2026-01-01T08' },
  );

  // With the threshold at three hours, the same two are a WARNING.
  const patient = testConfig({ 'mysql.url': mysqlUrlFor(centreOf(db).database), 'site.data_dir': '/tmp', 'centre.cycle_deadline_minutes': 45, 'check.geo_critical_hours': 3 });
  const warned = await runCheck({ loaded: patient, now });
  assert.deepEqual(owed(warned), [['b', 'warning', ['2026-01-01T09', '2026-01-01T10']]]);
  assert.equal(warned.status, 'warning');
});

test('hours in which no GEO opened anything are named, WARNING for one and CRITICAL for two; the current hour only after its deadline', async () => {
  const db = await freshCentre();
  const a = await geoAdded(db, 'a', at(7, 30));
  const b = await geoAdded(db, 'b', at(7, 30));
  await deliver(db, a, hour(8));
  await deliver(db, b, hour(8));

  assert.deepEqual(owed(await check(db, at(9, 40))), [], 'hour 9 is not owed before 09:45');
  const one = await check(db, at(9, 50));
  assert.deepEqual(owed(one), [['a', 'warning', ['2026-01-01T09']], ['b', 'warning', ['2026-01-01T09']], ['*', 'warning', ['2026-01-01T09']]]);
  assert.match(
    one.findings.find((finding) => finding.kind === 'hours-silent')!.what,
    /^1 hour with no transaction from any GEO: 2026-01-01T09; last opened 2026-01-01T08: are the agents' cron jobs running/,
  );
  const two = await check(db, at(10, 50));
  assert.equal(two.status, 'critical');
  const silent = two.findings.find((finding) => finding.kind === 'hours-silent')!;
  assert.equal(silent.level, 'critical');
  assert.match(silent.what, /^2 hours with no transaction from any GEO: 2026-01-01T09 to 2026-01-01T10; last opened 2026-01-01T08/);
  assert.equal(silent.lastOpened, '2026-01-01T08');
  assert.ok(describeCheck(two).split('\n').includes(`CRITICAL: ${silent.what}`), 'one line of its own after the summary');

  // Past the look-back window the hours are not listed one by one for ever: the window bounds them.
  const muchLater = await check(db, new Date(hour(8).getTime() + 30 * hourMs + 50 * 60_000));
  const bounded = muchLater.findings.find((finding) => finding.kind === 'hours-silent')!;
  assert.equal(bounded.hours!.length, 24);
  assert.match(bounded.what, /nothing opened in the last 24 h/);
});

test('a disabled GEO is not owed, nor an hour that began before a GEO was added or enabled again', async () => {
  const db = await freshCentre();
  const a = await geoAdded(db, 'a', at(7, 30));
  await geoAdded(db, 'c', at(7, 30));
  await geoAdded(db, 'd', at(9, 20));
  await geoAdded(db, 'e', at(7, 30));
  await deliver(db, a, hour(8));
  await setGeoEnabled(db, 'c', false);
  // e was disabled for a while and enabled again at 10:05, as `geo disable` / `geo enable` record it.
  await recordAudit(db, { actor: 'os:test', action: 'geo.disable', target: 'geo:e' }, at(8, 10));
  await recordAudit(db, { actor: 'os:test', action: 'geo.enable', target: 'geo:e' }, at(10, 5));
  await recordAudit(db, { actor: 'os:test', action: 'geo.enable', target: 'geo:e' }, at(10, 30));

  const result = await check(db, at(10, 50));
  assert.deepEqual(owed(result), [
    ['a', 'critical', ['2026-01-01T09', '2026-01-01T10']],
    ['d', 'warning', ['2026-01-01T10']],
    ['*', 'critical', ['2026-01-01T09', '2026-01-01T10']],
  ]);
  assert.deepEqual(
    (await check(db, at(11, 50))).findings.filter((finding) => finding.geo === 'e').map((finding) => finding.hours!.map((item) => item.cycle)),
    [['2026-01-01T11']],
    'e owes the hours from the first after it was enabled again',
  );
});

test('a GEO is up again once it delivers the latest hour owed: the hours it missed before are history, not alarms', async () => {
  const db = await freshCentre();
  const a = await geoAdded(db, 'a', at(7, 30));
  const b = await geoAdded(db, 'b', at(7, 30));
  for (const h of [8, 9, 10, 11]) await deliver(db, a, hour(h));
  await deliver(db, b, hour(8));
  const down = await check(db, at(11, 50));
  assert.deepEqual(owed(down), [['b', 'critical', ['2026-01-01T09', '2026-01-01T10', '2026-01-01T11']]]);
  // One line per problem: the late hours name only who delivered and waits for the warehouse; b has its own line.
  assert.deepEqual(
    down.findings.filter((finding) => finding.kind === 'late-cycle').map((finding) => finding.what),
    ['08', '09', '10', '11'].map((h) => `cycle 2026-01-01T${h} is late: waiting for ${h === '08' ? 'a,b' : 'a'} to reach the warehouse`),
  );

  await deliver(db, b, hour(11));
  assert.deepEqual(owed(await check(db, at(11, 55))), [], 'b delivered 11: up, though 9 and 10 never came');
  assert.deepEqual(owed(await check(db, at(12, 50))), [['a', 'warning', ['2026-01-01T12']], ['b', 'warning', ['2026-01-01T12']], ['*', 'warning', ['2026-01-01T12']]]);

  // An hour delivered ahead (the current one) counts too: its agent is alive.
  await deliver(db, a, hour(12));
  await deliver(db, b, hour(13));
  assert.deepEqual(owed(await check(db, at(13, 10))), []);

  // Until it delivers or is disabled: a disabled GEO owes nothing.
  assert.deepEqual(owed(await check(db, at(15, 50))).map(([geo]) => geo), ['a', 'b', '*']);
  await setGeoEnabled(db, 'b', false);
  assert.deepEqual(owed(await check(db, at(15, 50))).map(([geo]) => geo), ['a', '*']);
});

test('the webhook announces each silent GEO, the silent hours and a dead host once, however many ticks, and each recovery once', async () => {
  const received: Array<{ event: string; key: string; detail: string }> = [];
  const receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk));
    request.on('end', () => {
      received.push(JSON.parse(body));
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  after(() => receiver.close());
  const db = await freshCentre({ 'alerts.webhook_url': `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` });
  const loaded = centreOf(db).loaded;
  const run = () => tick({ loaded, db, launch: () => ({ pid: undefined }) });

  // Real time, as the tick has it: a and b added six hours ago, nothing delivered yet, and a host gone quiet.
  const current = cycleOf(new Date()).getTime();
  const a = await geoAdded(db, 'a', new Date(current - 6 * hourMs));
  const b = await geoAdded(db, 'b', new Date(current - 6 * hourMs));
  await recordHeartbeat(db, { host: 'centre-old', version: '0.0.9', by: 'tick' });
  await db.query("UPDATE hosts SET last_seen_at = UTC_TIMESTAMP(3) - INTERVAL 10 MINUTE WHERE name = 'centre-old'");
  const events = () => received.splice(0).map((item) => `${item.event} ${item.key}`).sort();

  await run();
  await run();
  await run();
  const failures = received.slice();
  assert.deepEqual(events(), ['failure geo-silent:a', 'failure geo-silent:b', 'failure host-dead:centre-old', 'failure hours-silent']);
  assert.match(failures.find((item) => item.key === 'geo-silent:b')!.detail, /^CRITICAL: GEO b: \d hours not delivered by their deadline \(45 min\): \S+ to \S+ nothing opened; nothing delivered in the last 24 h$/);
  assert.match(failures.find((item) => item.key === 'hours-silent')!.detail, /^CRITICAL: \d hours with no transaction from any GEO: /);

  // a delivers every hour up to the current one: a and the silent hours recover, b still owes its hours.
  for (let h = 5; h >= 0; h--) await deliver(db, a, new Date(current - h * hourMs));
  await run();
  await run();
  assert.deepEqual(events(), ['recovery geo-silent:a', 'recovery hours-silent']);

  await deliver(db, b, cycleOf(new Date()));
  await run();
  await run();
  assert.deepEqual(events(), ['recovery geo-silent:b']);
});

test('the CLI prints one line per silent GEO after the summary, and --json the same problems with their GEO and hours', async () => {
  const db = await freshCentre();
  const { runCli } = await import('../support/cli.js');
  await geoAdded(db, 'b', new Date(cycleOf(new Date()).getTime() - 6 * hourMs));
  const env = { GANYMEDE_MYSQL_URL: mysqlUrlFor(centreOf(db).database), GANYMEDE_SITE_DATA_DIR: '/tmp' };

  const text = await runCli(['check'], env);
  assert.equal(text.code, 2, text.stderr);
  const lines = text.stdout.trim().split('\n');
  assert.match(lines[0]!, /^GANYMEDE CRITICAL - GEO b: \d hours not delivered by their deadline/);
  assert.ok(lines.some((line) => /^CRITICAL: GEO b: \d hours not delivered by their deadline \(45 min\): \S+ to \S+ nothing opened; nothing delivered in the last 24 h$/.test(line)), text.stdout);
  assert.ok(lines.some((line) => /^CRITICAL: \d hours with no transaction from any GEO: \S+ to \S+; nothing opened in the last 24 h/.test(line)), text.stdout);

  const json = await runCli(['check', '--json'], env);
  assert.equal(json.code, 2, json.stderr);
  const parsed = JSON.parse(json.stdout) as CheckResult;
  const silent = parsed.findings.find((finding) => finding.kind === 'geo-silent')!;
  assert.equal(silent.geo, 'b');
  assert.equal(silent.level, 'critical');
  assert.ok(silent.hours!.length >= 5 && silent.hours!.every((item) => /^\d{4}-\d\d-\d\dT\d\d$/.test(item.cycle) && item.opened === null), JSON.stringify(silent));
  assert.equal(silent.lastDelivered, null);
});
