import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { redact } from '../../src/log.js';
import { tempDir } from '../support/ganymede.js';

function configProblems(run: () => unknown): GanymedeError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof GanymedeError, `expected a GanymedeError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the configuration to be refused');
}

test('a config with three mistakes reports all three at once, each with its key, as a configuration error', () => {
  const dir = tempDir('config');
  try {
    const file = join(dir.path, 'ganymede.json');
    writeFileSync(file, JSON.stringify({ api: { listen: 'localhost' }, mysql: { pool_size: 'four' }, centre: { max_workerz: 3 } }));
    const error = configProblems(() => loadConfig({ configPath: file, env: {} }));
    assert.equal(error.exitCode, ExitCode.config);
    assert.match(error.message, /3 problems/);
    assert.equal(error.details.length, 3);
    assert.ok(error.details.some((line) => line.startsWith('api.listen:') && /host:port/.test(line)));
    assert.ok(error.details.some((line) => line.startsWith('mysql.pool_size:')));
    assert.ok(error.details.some((line) => line === 'centre.max_workerz: unknown key'));
  } finally {
    dir.remove();
  }
});

test('the file, then GANYMEDE_* environment, then flags: each later source wins', () => {
  const dir = tempDir('config');
  try {
    const file = join(dir.path, 'ganymede.json');
    writeFileSync(file, JSON.stringify({ api: { listen: '127.0.0.1:1111', url: 'http://file:1' }, centre: { max_workers: 2 } }));
    const loaded = loadConfig({
      configPath: file,
      env: { GANYMEDE_API_LISTEN: '127.0.0.1:2222', GANYMEDE_CENTRE_MAX_WORKERS: '7', GANYMEDE_AGENT_SOURCE_EXCLUDE: 'audit_log, sessions' },
      overrides: { 'api.listen': '127.0.0.1:3333' },
    });
    assert.equal(loaded.config.api.listen, '127.0.0.1:3333');
    assert.equal(loaded.config.api.url, 'http://file:1');
    assert.equal(loaded.config.centre.max_workers, 7);
    assert.deepEqual(loaded.config.agent.source.exclude, ['audit_log', 'sessions']);
    assert.equal(loaded.path, file);
  } finally {
    dir.remove();
  }
});

test('an unknown GANYMEDE_ variable, a missing explicit file and invalid JSON are reported, not ignored', () => {
  const typo = configProblems(() => loadConfig({ configPath: null, env: { GANYMEDE_MYSQL_URLL: 'mysql://x@h/db' } }));
  assert.match(typo.details.join('\n'), /GANYMEDE_MYSQL_URLL: not a Ganymede setting/);

  const missing = configProblems(() => loadConfig({ configPath: '/nonexistent/ganymede.json', env: {} }));
  assert.match(missing.details.join('\n'), /\/nonexistent\/ganymede.json: does not exist/);

  const dir = tempDir('config');
  try {
    const file = join(dir.path, 'bad.json');
    writeFileSync(file, '{ "mysql": { "url": ');
    const bad = configProblems(() => loadConfig({ configPath: file, env: {} }));
    assert.match(bad.details.join('\n'), /not valid JSON/);
    const viaEnv = configProblems(() => loadConfig({ env: { GANYMEDE_CONFIG: file } }));
    assert.match(viaEnv.details.join('\n'), /bad.json: not valid JSON/);
  } finally {
    dir.remove();
  }
});

test('secrets: never literal in the file, read from 0600 files or the environment, and redacted from output', () => {
  const dir = tempDir('secrets');
  try {
    const file = join(dir.path, 'ganymede.json');
    writeFileSync(file, JSON.stringify({ mysql: { url: 'mysql://ganymede@127.0.0.1:3306/ganymede', password: 'hunter2hunter2' } }));
    const literal = configProblems(() => loadConfig({ configPath: file, env: {} }));
    assert.match(literal.details.join('\n'), /mysql.password: secrets are not written in the config file; use mysql.password_file/);
    assert.ok(!literal.details.join('\n').includes('hunter2hunter2'), 'the secret itself must not be echoed');

    const secretFile = join(dir.path, 'mysql.password');
    writeFileSync(secretFile, 's3cret-from-file\n', { mode: 0o644 });
    chmodSync(secretFile, 0o644);
    writeFileSync(file, JSON.stringify({ mysql: { url: 'mysql://ganymede@127.0.0.1:3306/ganymede', password_file: secretFile } }));
    const loose = configProblems(() => loadConfig({ configPath: file, env: {} }));
    assert.match(loose.details.join('\n'), /mysql.password_file: .* readable by group or others \(mode 644\); run chmod 600/);

    chmodSync(secretFile, 0o600);
    const loaded = loadConfig({ configPath: file, env: {} });
    assert.equal(loaded.secret('mysql.password'), 's3cret-from-file');
    assert.equal(loaded.secretSource('mysql.password'), `file ${secretFile}`);
    assert.equal(redact('login failed for s3cret-from-file'), 'login failed for ***');

    const fromEnv = loadConfig({ configPath: file, env: { GANYMEDE_MYSQL_PASSWORD: 'env-secret-value' } });
    assert.equal(fromEnv.secret('mysql.password'), 'env-secret-value');

    writeFileSync(file, JSON.stringify({ mysql: { url: 'mysql://ganymede:pw1234@127.0.0.1:3306/ganymede' } }));
    const inUrl = configProblems(() => loadConfig({ configPath: file, env: {} }));
    assert.match(inUrl.details.join('\n'), /mysql.url: contains a password/);
  } finally {
    dir.remove();
  }
});

test('defaults apply when nothing is configured', () => {
  const loaded = loadConfig({ configPath: null, env: {} });
  assert.equal(loaded.config.api.listen, '127.0.0.1:8080');
  assert.equal(loaded.config.site.data_dir, '/var/lib/ganymede');
  assert.equal(loaded.config.centre.max_attempts, 5);
  assert.ok(loaded.config.site.name && loaded.config.site.name.length > 0);
  assert.equal(loaded.path, undefined);
});
