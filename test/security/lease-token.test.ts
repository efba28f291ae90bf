// The lease a tick claims for a worker is what lets that worker finish or fail its step: anyone holding
// it can. Every user on the host can read /proc/<pid>/cmdline, so the tick hands the lease over in the
// worker's environment (/proc/<pid>/environ: its own user only), and the command line names the work only.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { processLauncher, tick, type Launcher } from '../../src/commands/jupiter/tick.js';
import { openStateDb } from '../../src/state/db.js';
import { listAttempts, listStepsOfTxn } from '../../src/state/steps.js';
import { tempDir, testCentre } from '../support/ganymede.js';
import { mysqlPasswordForTests, mysqlUrlFor } from '../support/mysql.js';
import { deliveredTransactions } from '../support/steps.js';

const dir = tempDir('lease-token');
const centre = await testCentre('lease');
const configFile = join(dir.path, 'ganymede.json');
writeFileSync(configFile, JSON.stringify({ mysql: { url: mysqlUrlFor(centre.database) }, site: { data_dir: dir.path }, logging: { level: 'warn' } }));
// The worker inherits the tick's environment; the test rig's password (if any) reaches it that way.
const password = mysqlPasswordForTests();
if (password) process.env.GANYMEDE_MYSQL_PASSWORD = password;
const loaded = loadConfig({ configPath: configFile, env: password ? { GANYMEDE_MYSQL_PASSWORD: password } : {} });
const db = await openStateDb(loaded);
after(async () => {
  await db.end();
  await centre.dispose();
  dir.remove();
});

test("a worker launched by the tick has no lease token in its command line, gets it in its environment, and works under the tick's lease", async () => {
  const [txnId] = await deliveredTransactions(db, 1, 1);
  const seen: Array<{ token: string; cmdline: string; environ: string; environMode: number }> = [];
  const real = processLauncher(loaded);
  // spawn() returns once the worker has exec'd: its /proc entries are the worker's own from then on.
  const launch: Launcher = (claim, logPath) => {
    const started = real(claim, logPath);
    const proc = `/proc/${started.pid}`;
    seen.push({ token: claim.leaseToken, cmdline: readFileSync(`${proc}/cmdline`, 'utf8'), environ: readFileSync(`${proc}/environ`, 'utf8'), environMode: statSync(`${proc}/environ`).mode & 0o777 });
    return started;
  };
  const result = await tick({ loaded, db, launch });
  await Promise.all(result.exits);

  assert.equal(seen.length, 1);
  const [{ token, cmdline, environ, environMode }] = seen as [(typeof seen)[0]];
  assert.match(token, /^[0-9a-f]{32}$/);
  assert.match(cmdline.replace(/\0/g, ' '), new RegExp(` worker decrypt --txn ${txnId} ?$`));
  assert.ok(!cmdline.includes(token), `the lease token in argv: ${cmdline.replace(/\0/g, ' ')}`);
  assert.ok(!cmdline.includes('--lease'), cmdline);
  assert.ok(environ.split('\0').includes(`GANYMEDE_LEASE_TOKEN=${token}`), 'the lease is in the environment');
  assert.equal(environMode & 0o077, 0, `environ is readable by its owner only (mode ${environMode.toString(8)})`);

  // Had the worker not received the lease, it would have found its step running and left it alone.
  const [decrypt] = await listStepsOfTxn(db, txnId!);
  assert.equal(decrypt!.attempts, 1, 'no second claim by hand');
  const [attempt] = await listAttempts(db, [decrypt!.id]);
  assert.equal(attempt!.outcome, 'failed', `the worker settled its own attempt: ${attempt!.error}`);
  const log = readFileSync(result.launched[0]!.logPath, 'utf8');
  assert.doesNotMatch(log, /is running on|no longer this worker's/, log);
  assert.ok(!log.includes(token), 'the worker never prints its lease');
});
