#!/usr/bin/env node
// Where `npm test` and `npm run demo` begin on any machine: what this checkout needs and the machine lacks is
// installed first — the Debian packages (scripts/install-system-deps.sh, as root) and node_modules (`npm ci`, when
// it is missing or was installed from another package-lock.json). Not root with packages missing: one line naming
// them and the command that installs them, exit 1. Plain Node with no dependency: it runs before node_modules exists.
// Usage: node scripts/setup.mjs [--dry-run]  — --dry-run says what it would do and does nothing.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dryRun = process.argv.includes('--dry-run');
const say = (line) => process.stderr.write(`setup: ${line}\n`);

/** The Debian packages missing, as the install scripts judge it (they hold the one list of what is needed). */
function missingPackages() {
  const listed = spawnSync('bash', [join(root, 'scripts/install-system-deps.sh'), '--list-missing'], { encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`scripts/install-system-deps.sh --list-missing failed: ${(listed.stderr || '').trim()}`);
  return listed.stdout.split(/\s+/).filter(Boolean);
}

const lockPath = join(root, 'package-lock.json');
const installedLock = join(root, 'node_modules/.package-lock.json');
/** Written after our `npm ci`: the package-lock.json it installed. */
const marker = join(root, 'node_modules/.ganymede-installed-lock');
const lockHash = () => createHash('sha256').update(readFileSync(lockPath)).digest('hex');

/** Why node_modules must be installed again, or undefined when it is what package-lock.json says. */
function staleNodeModules() {
  if (!existsSync(installedLock)) return 'node_modules is missing';
  if (existsSync(marker)) return readFileSync(marker, 'utf8').trim() === lockHash() ? undefined : 'package-lock.json changed since node_modules was installed';
  // Installed by hand (`npm ci`): npm writes its hidden lockfile after the lock it installed from.
  return statSync(installedLock).mtimeMs >= statSync(lockPath).mtimeMs ? undefined : 'package-lock.json is newer than node_modules';
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    say(`\`${[command, ...args].join(' ')}\` failed (exit ${result.status ?? result.signal}); fix what it said above and run this again`);
    process.exit(1);
  }
}

const missing = missingPackages();
if (missing.length > 0) {
  if (dryRun) say(`would install the Debian packages ${missing.join(' ')} (scripts/install-system-deps.sh)`);
  else if (process.getuid?.() !== 0) {
    say(`missing Debian packages ${missing.join(' ')}: install them with \`sudo bash scripts/install-system-deps.sh\`, then run this again`);
    process.exit(1);
  } else run('bash', [join(root, 'scripts/install-system-deps.sh')]);
}

const stale = staleNodeModules();
if (stale) {
  if (dryRun) say(`would run \`npm ci\`: ${stale}`);
  else {
    say(`running \`npm ci\`: ${stale}`);
    run('npm', ['ci', '--no-audit', '--no-fund']);
    writeFileSync(marker, `${lockHash()}\n`);
  }
}
if (dryRun && missing.length === 0 && !stale) say('nothing to install');
