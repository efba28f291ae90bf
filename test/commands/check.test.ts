// `ganymede check` as a monitoring system sees it: the summary line and the level for each situation.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { testCentre } from '../support/ganymede.js';
import { deliveredTransactions } from '../support/steps.js';
import { openStateDb } from '../../src/state/db.js';
import { runCheck } from '../../src/commands/check.js';
import { tick } from '../../src/commands/jupiter/tick.js';
import { startArchiveRecord, finishArchiveRecord } from '../../src/state/archive.js';

const centre = await testCentre('check', { 'logging.level': 'error', 'site.data_dir': '/tmp', 'centre.cycle_deadline_minutes': 30 });
const db = await openStateDb(centre.loaded);
after(async () => {
  await db.end();
  await centre.dispose();
});

test('a fresh centre is CRITICAL until the tick has run, then WARNING until something is archived', async () => {
  const first = await runCheck({ loaded: centre.loaded });
  assert.equal(first.status, 'critical');
  assert.match(first.summary, /^GANYMEDE CRITICAL - .*jupiter tick has never run/);
  await tick({ loaded: centre.loaded, db, launch: () => ({ pid: undefined }) });
  const second = await runCheck({ loaded: centre.loaded });
  assert.equal(second.status, 'warning');
  assert.deepEqual(second.findings.map((finding) => finding.what), ['nothing has been archived yet']);
  await startArchiveRecord(db, { kind: 'ganymede-db', sourceKey: 'ganymede:test', storeUrl: 'file:///x', objectKey: 'x' });
  await finishArchiveRecord(db, 'ganymede-db', 'ganymede:test', 1, '0'.repeat(64));
  const third = await runCheck({ loaded: centre.loaded });
  assert.equal(third.status, 'ok');
  assert.match(third.summary, /^GANYMEDE OK - /);
});

test('a late hour is a WARNING naming the missing GEOs; a failed transaction and an unsent cycle are CRITICAL; a stale tick too', async () => {
  // One reading of the clock: two, either side of the top of an hour, gave a time that is no hour's start.
  const now = Date.now();
  const hourAgo = now - (now % 3_600_000) - 3_600_000;
  const [txnId] = await deliveredTransactions(db, 1, 1, hourAgo);
  const lateNow = new Date(hourAgo + 40 * 60_000);
  const late = await runCheck({ loaded: centre.loaded, now: lateNow });
  assert.equal(late.status, 'warning');
  assert.ok(late.findings.some((finding) => finding.level === 'warning' && /is late: waiting for geo0/.test(finding.what)));

  await db.query("UPDATE transactions SET state = 'failed', error = 'load failed 5 times' WHERE id = ?", [txnId]);
  const failed = await runCheck({ loaded: centre.loaded, now: lateNow });
  assert.equal(failed.status, 'critical');
  assert.ok(failed.findings.some((finding) => /1 failed transactions in the last 24 h: \d+ geo0 failed/.test(finding.what)));

  // Past the send deadline of that hour, and at least 10 minutes after the real tick heartbeat.
  const muchLater = new Date(Math.max(hourAgo + 100 * 60_000, Date.now() + 10 * 60_000));
  const unsent = await runCheck({ loaded: centre.loaded, now: muchLater });
  assert.ok(unsent.findings.some((finding) => /cycles not sent by their deadline/.test(finding.what)));
  assert.ok(unsent.findings.some((finding) => /jupiter tick last ran \d+ min ago/.test(finding.what)), 'the tick heartbeat is stale by then');
});

test('the CLI prints the summary line first and exits with the monitoring code (2 CRITICAL here)', async () => {
  const { runCli } = await import('../support/cli.js');
  const { mysqlUrlFor } = await import('../support/mysql.js');
  const run = await runCli(['check'], { GANYMEDE_MYSQL_URL: mysqlUrlFor(centre.database), GANYMEDE_SITE_DATA_DIR: '/tmp' });
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stdout.split('\n')[0]!, /^GANYMEDE CRITICAL - /);
  const unknown = await runCli(['check'], { GANYMEDE_MYSQL_URL: 'mysql://root@127.0.0.1:1/none', GANYMEDE_MYSQL_CONNECT_TIMEOUT_MS: '2000' });
  assert.equal(unknown.code, 3, 'UNKNOWN when the check cannot run');
  assert.match(unknown.stdout, /^GANYMEDE UNKNOWN - the check could not run: cannot reach the Ganymede database/);
});
