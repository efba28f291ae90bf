// Wrong arguments and settings a person can make: each is one clear line naming what was wrong and what
// to do, with the exit code of README's table, never a stack trace, and nothing overwritten.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { runCli } from '../support/cli.js';
import { tempDir, testCentre } from '../support/ganymede.js';
import { mysqlPasswordForTests, mysqlUrlFor } from '../support/mysql.js';

const dir = tempDir('usage-refusals');
after(() => dir.remove());

function assertOneClearError(run: { code: number; stderr: string }, code: number, pattern: RegExp): void {
  assert.equal(run.code, code, run.stderr);
  assert.match(run.stderr, pattern);
  assert.doesNotMatch(run.stderr, /internal error|this is a bug|\n\s+at /, 'no stack trace');
  assert.equal(run.stderr.split('\n').filter((line) => line.startsWith('ganymede: ')).length, 1, 'one error line');
}

test('keys generate --out naming a file (or a path through one) is a usage error that names it and overwrites nothing', async () => {
  const file = join(dir.path, 'not-a-dir');
  writeFileSync(file, 'precious');
  const onFile = await runCli(['keys', 'generate', '--name', 'emea', '--out', file]);
  assertOneClearError(onFile, ExitCode.usage, new RegExp(`--out ${file}: is a file, not a directory; nothing was written\\n  hint: --out is the directory that receives emea.key.asc and emea.pub.asc`));
  const through = await runCli(['keys', 'generate', '--name', 'emea', '--out', join(file, 'keys')]);
  assertOneClearError(through, ExitCode.usage, /a part of this path is a file, not a directory/);
  assert.equal(readFileSync(file, 'utf8'), 'precious');
});

test('api --listen that is not host:port, or has no port this machine can have, is a usage error (exit 2)', async () => {
  for (const listen of ['nonsense', '127.0.0.1:99999', 'host:port', ':8080']) {
    const run = await runCli(['api', '--listen', listen]);
    assertOneClearError(run, ExitCode.usage, new RegExp(`--listen ${listen}: expected host:port`));
  }
});

test('api --listen on an address this machine does not have is a usage error; the same in api.listen stays a configuration error', async () => {
  const centre = await testCentre('listen');
  try {
    const env = { GANYMEDE_MYSQL_URL: mysqlUrlFor(centre.database), GANYMEDE_LOGGING_LEVEL: 'error', ...(mysqlPasswordForTests() ? { GANYMEDE_MYSQL_PASSWORD: mysqlPasswordForTests() } : {}) };
    // 192.0.2.0/24 is TEST-NET-1: never an address of this machine.
    const flag = await runCli(['api', '--listen', '192.0.2.1:8080'], env);
    assertOneClearError(flag, ExitCode.usage, /--listen 192\.0\.2\.1:8080: cannot listen there \(EADDRNOTAVAIL\)/);
    const setting = await runCli(['api'], { ...env, GANYMEDE_API_LISTEN: '192.0.2.1:8080' });
    assertOneClearError(setting, ExitCode.config, /cannot listen on 192\.0\.2\.1:8080: EADDRNOTAVAIL\n  hint: check api\.listen/);
  } finally {
    await centre.dispose();
  }
});

test('alerts.webhook_url with a login is refused, saying how to pass a secret, without printing the password', () => {
  for (const url of ['https://alerts:Sup3rSecret@hooks.example/ganymede', 'https://alerts@hooks.example/ganymede']) {
    assert.throws(
      () => loadConfig({ env: { GANYMEDE_ALERTS_WEBHOOK_URL: url }, configPath: null }),
      (error: GanymedeError) => {
        assert.equal(error.exitCode, ExitCode.config);
        assert.equal(error.details.length, 1);
        assert.match(error.details[0]!, /^alerts\.webhook_url: contains a login \(user:password@\), which URLs must not; .*takes it in its path.*GANYMEDE_ALERTS_WEBHOOK_URL keeps such a URL out of the config file$/);
        assert.ok(!error.details[0]!.includes('Sup3rSecret'));
        return true;
      },
    );
  }
  assert.equal(loadConfig({ env: { GANYMEDE_ALERTS_WEBHOOK_URL: 'https://hooks.example/services/T0/B1/secretpath' }, configPath: null }).config.alerts.webhook_url, 'https://hooks.example/services/T0/B1/secretpath');
});

test('a transaction, GEO, cycle or host that does not exist exits "not found" (7), not as a usage error', async () => {
  const made = await testCentre('notfound');
  try {
    const password = mysqlPasswordForTests();
    const env = { GANYMEDE_MYSQL_URL: mysqlUrlFor(made.database), ...(password ? { GANYMEDE_MYSQL_PASSWORD: password } : {}) };
    const cases: Array<[string[], RegExp]> = [
      [['txn', 'retry', '9999'], /^ganymede: no transaction 9999$/m],
      [['txn', 'cancel', '9999'], /^ganymede: no transaction 9999$/m],
      [['txn', 'show', '9999'], /^ganymede: no transaction 9999$/m],
      [['geo', 'disable', 'nosuch'], /^ganymede: no GEO named nosuch$/m],
      [['cycle', 'show', '2026-01-01T00'], /^ganymede: no cycle 2026-01-01T00$/m],
      [['hosts', 'forget', 'nosuch'], /^ganymede: no host named nosuch$/m],
    ];
    for (const [args, pattern] of cases) assertOneClearError(await runCli(args, env), ExitCode.notFound, pattern);
  } finally {
    await made.dispose();
  }
});
