// The two commands a new user runs: `npm test` and `npm run demo` begin with scripts/setup.mjs, which installs
// node_modules when it is missing or was installed from another package-lock.json (and the Debian packages, which
// this machine has). And what `npm pack` makes installs with `npm install -g` into a working `ganymede`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { tempDir } from '../support/ganymede.js';

const repo = new URL('../..', import.meta.url).pathname;

/** A checkout of the setup script and the lock only, so that what it decides about node_modules is about this copy. */
function checkoutCopy(): { path: string; setup(): string; remove(): void } {
  const dir = tempDir('setup');
  mkdirSync(join(dir.path, 'scripts'));
  for (const file of ['scripts/setup.mjs', 'scripts/install-system-deps.sh', 'scripts/install-swift.sh', 'package-lock.json']) copyFileSync(join(repo, file), join(dir.path, file));
  const setup = () => {
    const result = spawnSync(process.execPath, [join(dir.path, 'scripts/setup.mjs'), '--dry-run'], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    return result.stderr.trim();
  };
  return { path: dir.path, setup, remove: dir.remove };
}

test('setup installs node_modules when it is missing or from another package-lock.json, and nothing when it is current', () => {
  const copy = checkoutCopy();
  try {
    assert.equal(copy.setup(), 'setup: would run `npm ci`: node_modules is missing');
    mkdirSync(join(copy.path, 'node_modules'));
    writeFileSync(join(copy.path, 'node_modules/.package-lock.json'), '{}');
    assert.equal(copy.setup(), 'setup: nothing to install', 'installed by hand after the lock was written: current');
    const lock = join(copy.path, 'package-lock.json');
    writeFileSync(join(copy.path, 'node_modules/.ganymede-installed-lock'), `${createHash('sha256').update(readFileSync(lock)).digest('hex')}\n`);
    assert.equal(copy.setup(), 'setup: nothing to install', 'installed by setup from this very lock: current');
    writeFileSync(lock, readFileSync(lock).toString('utf8').replace('"lockfileVersion"', '"name2": "changed",\n  "lockfileVersion"'));
    assert.equal(copy.setup(), 'setup: would run `npm ci`: package-lock.json changed since node_modules was installed');
  } finally {
    copy.remove();
  }
});

test('npm pack gives a package that `npm install -g` turns into a working ganymede', async () => {
  const dir = tempDir('pack');
  try {
    // The suite built dist first (npm test); --ignore-scripts keeps pack from building it again under the other tests.
    await execa('npm', ['pack', '--ignore-scripts', '--pack-destination', dir.path], { cwd: repo });
    const [packed] = readdirSync(dir.path).filter((name) => name.endsWith('.tgz'));
    assert.ok(packed, 'npm pack wrote a .tgz');
    const prefix = join(dir.path, 'prefix');
    // Tarballs from npm's cache, which `npm ci` filled; not --offline, as resolving the dependencies' ranges needs
    // their metadata, which `npm ci` (installing from the lock) never fetched: a fresh machine has none cached.
    await execa('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir.path, packed)], { cwd: dir.path });
    const version = await execa(join(prefix, 'bin/ganymede'), ['--version'], { reject: false });
    assert.equal(version.exitCode, 0, version.stderr);
    assert.match(version.stdout, /^\d+\.\d+\.\d+$/);
    const help = await execa(join(prefix, 'bin/ganymede'), ['jupiter', 'tick', '--help'], { reject: false });
    assert.equal(help.exitCode, 0, help.stderr);
    assert.match(help.stdout, /Usage: ganymede jupiter tick/);
  } finally {
    dir.remove();
  }
});
