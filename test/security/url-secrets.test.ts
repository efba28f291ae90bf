// A secret written into a URL (an archive.url with ?key=…, a login before the host, a presigned S3 or
// Swift temp URL) must not be printed by the debug `config: settings` line nor by any other log line or
// error that quotes the URL: its password and secret-looking parameters show as ***.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadForCommand } from '../../src/commands/context.js';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { configureLogging, createLogger, redactUrl } from '../../src/log.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/ganymede.js';

const dir = tempDir('url-secrets');
after(() => dir.remove());

const secrets = ['SwiftKey0123', 'TempSig4567', 'ApiToken2345', 'HookPath6789'];
const config = {
  api: { url: 'https://tool@api.example:8443/?token=ApiToken2345' },
  archive: { url: 'swift://backups/ganymede?auth=https://keystone.example/v3&user=bob&key=SwiftKey0123&temp_url_sig=TempSig4567' },
  alerts: { webhook_url: 'https://hooks.example/services/T0/B1/HookPath6789' },
};

test('the debug settings line shows every URL without its password or secret parameters, and still says where it points', () => {
  const file = join(dir.path, 'ganymede.json');
  writeFileSync(file, JSON.stringify(config));
  const lines: string[] = [];
  configureLogging({ write: (line) => void lines.push(line) });
  loadForCommand({ config: file, logLevel: 'debug' });
  const settings = lines.find((line) => line.includes(' config: settings: '));
  assert.ok(settings, lines.join(''));
  for (const secret of secrets) assert.ok(!settings.includes(secret), `${secret} in: ${settings}`);
  assert.ok(settings.includes('swift://backups/ganymede?auth=https://keystone.example/v3&user=bob&key=***&temp_url_sig=***'), settings);
  assert.ok(settings.includes('https://tool@api.example:8443/?token=***'), settings);
  assert.ok(settings.includes('https://hooks.example/…'), settings);
});

test('through the CLI at debug level too, in either log format', async () => {
  const file = join(dir.path, 'cli.json');
  writeFileSync(file, JSON.stringify({ ...config, mysql: { url: 'mysql://root@127.0.0.1:1/none', connect_timeout_ms: 200 } }));
  for (const format of ['text', 'json']) {
    const run = await runCli(['--config', file, '--log-level', 'debug', '--log-format', format, 'txn', 'list']);
    assert.match(run.stderr, /config: settings|"message":"settings/, run.stderr);
    for (const secret of secrets) assert.ok(!run.stderr.includes(secret) && !run.stdout.includes(secret), `${format}: ${secret} in ${run.stderr}`);
  }
});

test('any log line quoting a URL (a library error, a probe) loses the URL\'s secrets', () => {
  const lines: string[] = [];
  configureLogging({ format: 'text', level: 'info', write: (line) => void lines.push(line) });
  createLogger('archive').warn('cannot reach https://s3.example/b/k?X-Amz-Credential=AKIDEXAMPLE%2F20260101&X-Amz-Signature=f00dfeed&X-Amz-Date=20260101T000000Z: refused', {
    store: 'sftp://backup:Hunter2pw@store.example/dir',
  });
  assert.equal(lines.length, 1);
  const [line] = lines as [string];
  for (const secret of ['AKIDEXAMPLE', 'f00dfeed', 'Hunter2pw']) assert.ok(!line.includes(secret), line);
  assert.ok(line.includes('https://s3.example/b/k?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Date=20260101T000000Z: refused'), line);
  assert.ok(line.includes('store=sftp://backup:***@store.example/dir'), line);
});

test('redactUrl keeps what is not secret: user, host, path, ordinary parameters', () => {
  assert.equal(redactUrl('mysql://ganymede@db.example:3306/ganymede'), 'mysql://ganymede@db.example:3306/ganymede');
  assert.equal(redactUrl('sftp://emea@centre.example:22/inbox'), 'sftp://emea@centre.example:22/inbox');
  assert.equal(redactUrl('s3://KEYID@bucket/prefix?endpoint=https://minio.example&region=eu&path_style=true'), 's3://KEYID@bucket/prefix?endpoint=https://minio.example&region=eu&path_style=true');
  assert.equal(redactUrl('swift://c/p?auth=https://k.example/v3&user=u&key_type=api_key&api_key=S3cr3t&password=pw1&sig=abc&client_secret=x'),
    'swift://c/p?auth=https://k.example/v3&user=u&key_type=api_key&api_key=***&password=***&sig=***&client_secret=***');
  assert.equal(redactUrl('https://u:p%40ss@h.example/x'), 'https://u:***@h.example/x');
});

test('a password in api.url is refused, as in every other URL setting, without printing it', async () => {
  const { loadConfig } = await import('../../src/config/load.js');
  assert.throws(
    () => loadConfig({ env: { GANYMEDE_API_URL: 'https://tool:ApiPass8901@api.example' }, configPath: null }),
    (error: GanymedeError) => {
      assert.equal(error.exitCode, ExitCode.config);
      assert.deepEqual(error.details, ['api.url: contains a password; remove it from the URL: agents and tools authenticate with their token (agent.token_file, api.admin_token_file)']);
      assert.ok(!error.message.includes('ApiPass8901'));
      return true;
    },
  );
});
