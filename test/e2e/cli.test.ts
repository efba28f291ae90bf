// The built CLI as a user meets it: help, exit codes, and the errors of bad input.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/ganymede.js';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli.js';
import { exitCodeTable, ExitCode } from '../../src/exit-codes.js';

const work = tempDir('cli');
after(() => work.remove());

const commandTree = [
  'agent run', 'jupiter tick', 'jupiter drain', 'worker decrypt', 'worker load', 'worker etl', 'worker clean', 'worker feed',
  'worker send', 'archive', 'api', 'db migrate', 'geo add', 'geo list', 'geo remove', 'keys generate', 'txn list', 'txn show',
  'txn retry', 'txn cancel', 'status', 'config check', 'check', 'purge', 'audit', 'archive prune', 'archive verify', 'archive restore', 'archive list', 'metrics list', 'metrics stats', 'cycle list', 'cycle show', 'cycle feed',
  'hosts list', 'hosts forget', 'lookup', 'viewer add', 'viewer list', 'viewer revoke',
];

test('ganymede --help lists the whole command tree and the exit code table', async () => {
  const run = await runCli(['--help']);
  assert.equal(run.code, 0);
  for (const command of commandTree) assert.match(run.stdout, new RegExp(`^  ${command}\\b`, 'm'), `help lists "${command}"`);
  for (const row of exitCodeTable) assert.match(run.stdout, new RegExp(`^ +${row.code}  ${row.meaning.slice(0, 20).replace(/[()]/g, '.')}`, 'm'));
});

test('every command has a --help that teaches: what it does, when it runs, an example', async () => {
  // The program the binary runs, asked in-process for what `--help` prints (forty processes cost minutes on a
  // busy machine); one of them through the binary, to show it is the same text.
  const helpOf = (command: string): string => {
    const program = buildProgram();
    let found: Command = program;
    for (const name of command.split(' ')) found = found.commands.find((child) => child.name() === name)!;
    assert.ok(found && found !== program, `${command} is a command`);
    let printed = '';
    found.configureOutput({ writeOut: (text) => (printed += text) });
    found.outputHelp();
    return printed;
  };
  for (const command of commandTree) {
    const help = helpOf(command);
    assert.match(help, /When: /, `${command} --help says when it runs`);
    assert.match(help, new RegExp(`\\$ ganymede ${command}`), `${command} --help has an example`);
  }
  const run = await runCli(['txn', 'retry', '--help']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trimEnd(), helpOf('txn retry').trimEnd());
});

test('usage errors exit 2 with a one-line reason and where to look', async () => {
  const unknownFlag = await runCli(['db', 'migrate', '--bogus']);
  assert.equal(unknownFlag.code, ExitCode.usage);
  assert.match(unknownFlag.stderr, /^ganymede: unknown option '--bogus'/m);
  assert.match(unknownFlag.stderr, /see `ganymede db migrate --help`/);

  const missing = await runCli(['geo', 'add', 'emea']);
  assert.equal(missing.code, ExitCode.usage);
  assert.match(missing.stderr, /required option '--public-key <file>' not specified/);

  const typo = await runCli(['stauts']);
  assert.equal(typo.code, ExitCode.usage);
  assert.match(typo.stderr, /Did you mean status\?/);

  const noSubcommand = await runCli(['geo']);
  assert.equal(noSubcommand.code, ExitCode.usage);

  const badId = await runCli(['txn', 'show', 'abc'], { GANYMEDE_MYSQL_URL: 'mysql://root@127.0.0.1:3306/unused' });
  assert.equal(badId.code, ExitCode.usage);
  assert.match(badId.stderr, /"abc" is not a transaction id/);
});

test('a config file with three mistakes: all three reported in one run, exit code 3', async () => {
  const file = join(work.path, 'three-mistakes.json');
  writeFileSync(file, JSON.stringify({ api: { listen: 'no-port' }, centre: { max_attempts: -1 }, mysql: { url: 'postgres://x' } }));
  const run = await runCli(['db', 'migrate', '--config', file]);
  assert.equal(run.code, ExitCode.config);
  assert.match(run.stderr, /the configuration has 3 problems/);
  assert.match(run.stderr, /^  - api.listen: /m);
  assert.match(run.stderr, /^  - centre.max_attempts: /m);
  assert.match(run.stderr, /^  - mysql.url: /m);
  assert.match(run.stderr, /hint: fix them and run `ganymede config check`/);
});

test('a command that needs the database names the missing setting', async () => {
  const run = await runCli(['geo', 'list']);
  assert.equal(run.code, ExitCode.config);
  assert.match(run.stderr, /mysql\.url: not set \(config file or GANYMEDE_MYSQL_URL\)/);
});

test('agent run --help names the compression it uses by default (zstd), not only gzip', async () => {
  const run = await runCli(['agent', 'run', '--help']);
  assert.equal(run.code, 0);
  assert.match(run.stdout.replace(/\s+/g, ' '), /through tar, zstd \(or gzip: agent\.compression\)/);
});

test('a command run with no config file at all says that no file was read, and which one it looked for', { skip: existsSync('/etc/ganymede/ganymede.json') && 'this machine has /etc/ganymede/ganymede.json' }, async () => {
  const run = await runCli(['status']);
  assert.equal(run.code, ExitCode.config, run.stderr);
  assert.match(run.stderr, /mysql\.url: not set/);
  assert.match(run.stderr, /hint: no config file was read \(\/etc\/ganymede\/ganymede\.json does not exist and neither --config nor GANYMEDE_CONFIG names one\)/);
});
