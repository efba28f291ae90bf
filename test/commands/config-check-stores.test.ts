// `config check` on a central host probes every store the hosts share — the centre inbox, the feed store and
// the archive — so a host that cannot reach one is found before its steps fail: an SFTP feed store that answers
// passes, a dead one or one with another host key fails the check naming the store, and a file:// archive
// is fine when its directory can be made. An SFTP server with no pinned host key is a WARNING until
// `config pin-host-keys` pins it.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { describeConfigCheck, runConfigCheck } from '../../src/commands/config/check.js';
import { tempDir, writePrivateFile } from '../support/ganymede.js';
import { findFreePort } from '../support/net.js';
import { runCli } from '../support/cli.js';
import { startSshd, type SshdServer } from '../support/sshd.js';

const work = tempDir('cfgstores');
let sshd: SshdServer;

before(async () => {
  sshd = await startSshd();
});
after(async () => {
  await sshd?.stop();
  work.remove();
});

// Only the stores are looked at here: a config with nothing else configured gets no other row.
const check = (overrides: Record<string, unknown>) => runConfigCheck({ loaded: loadConfig({ configPath: null, env: {}, overrides }) });
const row = (result: Awaited<ReturnType<typeof check>>, target: string) => result.rows.find((candidate) => candidate.target === target);

test('an SFTP feed store that answers passes; a dead one fails the check, named', async () => {
  const good = await check({
    'feed.store': `sftp://${sshd.username}@127.0.0.1:${sshd.port}${sshd.root}`,
    'feed.store_key_file': sshd.privateKeyPath,
    'feed.store_host_key': sshd.hostKeyFingerprint,
  });
  assert.equal(row(good, 'feed store')?.ok, true, row(good, 'feed store')?.error);
  assert.equal(good.ok, true);

  const deadPort = await findFreePort();
  const dead = await check({
    'feed.store': `sftp://${sshd.username}@127.0.0.1:${deadPort}/feed`,
    'feed.store_key_file': sshd.privateKeyPath,
    'feed.store_host_key': sshd.hostKeyFingerprint,
  });
  const feed = row(dead, 'feed store');
  assert.equal(feed?.ok, false);
  assert.equal(feed?.address, `127.0.0.1:${deadPort}/feed`);
  assert.match(feed!.error, /refused|unreachable|cannot/i);
  assert.equal(dead.ok, false);
});

test('an SFTP archive whose host key is not the pinned one fails the check', async () => {
  const result = await check({
    'archive.url': `sftp://${sshd.username}@127.0.0.1:${sshd.port}${sshd.root}`,
    'archive.key_file': sshd.privateKeyPath,
    'archive.host_key': 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  });
  const archive = row(result, 'archive store');
  assert.equal(archive?.ok, false);
  assert.match(archive!.error, /host key/i);
  assert.doesNotMatch(archive!.error, new RegExp(sshd.privateKeyPath));
});

test('a file:// store passes when its directory can be made on the first write', async () => {
  const made = await check({ 'archive.url': `file://${join(work.path, 'archive', 'not-yet')}` });
  assert.equal(row(made, 'archive store')?.ok, true, row(made, 'archive store')?.error);
  assert.match(row(made, 'archive store')!.note, new RegExp(`made under ${work.path}`));
});

test('secrets files of the stores are read, never shown', async () => {
  const secretFile = writePrivateFile(join(work.path, 'swift.secret'), 'sw1ft-s3cret-value');
  const deadPort = await findFreePort();
  const result = await check({
    'centre.inbox': `swift://inbox?auth=${encodeURIComponent(`http://127.0.0.1:${deadPort}/auth/v1.0`)}&user=test%3Atester`,
    'centre.inbox_secret_file': secretFile,
  });
  const inbox = row(result, 'centre inbox');
  assert.equal(inbox?.ok, false);
  assert.doesNotMatch(JSON.stringify(result), /sw1ft-s3cret-value/);
});

test('an SFTP server without a pinned host key is a WARNING naming the key it shows; pin-host-keys writes the pin on --yes', async () => {
  const configFile = join(work.path, 'pin.json');
  writePrivateFile(configFile, `${JSON.stringify({ glassbeam: { url: `sftp://${sshd.username}@127.0.0.1:${sshd.port}${sshd.root}`, key_file: sshd.privateKeyPath } }, null, 2)}\n`);
  const unpinned = await runConfigCheck({ loaded: loadConfig({ configPath: configFile, env: {} }) });
  const glassbeam = row(unpinned, 'glassbeam sftp');
  assert.equal(glassbeam?.ok, true, glassbeam?.error);
  assert.equal(glassbeam?.warning, `host key not pinned (glassbeam.host_key unset; the server shows ${sshd.hostKeyFingerprint}): run \`ganymede config pin-host-keys\``);
  assert.match(describeConfigCheck(unpinned), /glassbeam sftp .* WARNING/);
  assert.match(describeConfigCheck(unpinned), /all 1 targets answer, 1 with a warning/);

  const asked = await runCli(['--config', configFile, 'config', 'pin-host-keys']);
  assert.equal(asked.code, 0, asked.stderr);
  assert.match(asked.stdout, new RegExp(`^glassbeam.host_key: ${sshd.hostKeyFingerprint.replace(/[+/]/g, '\\$&')}  \\(glassbeam.url 127.0.0.1:${sshd.port}\\)$`, 'm'));
  assert.match(asked.stdout, /not written: compare each fingerprint/);
  assert.equal((JSON.parse(readFileSync(configFile, 'utf8')) as { glassbeam: Record<string, unknown> }).glassbeam.host_key, undefined, 'nothing written without a yes');

  const pinned = await runCli(['--config', configFile, 'config', 'pin-host-keys', '--yes']);
  assert.equal(pinned.code, 0, pinned.stderr);
  assert.match(pinned.stdout, new RegExp(`pinned in ${configFile}`));
  assert.equal((JSON.parse(readFileSync(configFile, 'utf8')) as { glassbeam: Record<string, unknown> }).glassbeam.host_key, sshd.hostKeyFingerprint);
  assert.equal(statSync(configFile).mode & 0o777, 0o600, 'the file keeps its mode');
  const after = await runConfigCheck({ loaded: loadConfig({ configPath: configFile, env: {} }) });
  assert.equal(row(after, 'glassbeam sftp')?.warning, undefined);
  assert.match(describeConfigCheck(after), /all 1 targets ok/);
});
