// `jupiter tick` runs every minute on every central host: it must start without loading what only workers
// need. The MongoDB driver is the heaviest of those; a config module that imported it once made every tick load it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execa } from 'execa';
import { ganymedeBin } from '../support/cli.js';

// A resolve hook that names each package the process loads.
const hook = `data:text/javascript,${encodeURIComponent(
  "import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(" +
    '`export async function resolve(s, c, n) { const r = await n(s, c); const m = /node_modules\\\\/((?:@[^/]+\\\\/)?[^/]+)\\\\//.exec(r.url); if (m) process._rawDebug("package " + m[1]); return r; }`));',
)}`;

test('jupiter tick loads no MongoDB driver, nor the agent\'s or the warehouse\'s libraries', async () => {
  // A dead MySQL: the tick reads its whole config, opens the database and stops there, as far as a real one goes first.
  const run = await execa(process.execPath, ['--import', hook, ganymedeBin, 'jupiter', 'tick'], {
    reject: false,
    env: { GANYMEDE_MYSQL_URL: 'mysql://root@127.0.0.1:1/ganymede', NO_COLOR: '1' },
    extendEnv: false,
  });
  assert.match(run.stderr, /cannot reach the Ganymede database/, run.stderr);
  const packages = new Set([...run.stderr.matchAll(/^package (\S+)$/gm)].map((match) => match[1]));
  assert.ok(packages.has('mysql2'), `the hook saw the packages the tick loads: ${[...packages].join(' ')}`);
  for (const heavy of ['mongodb', 'openpgp', '@aws-sdk/client-s3', 'ssh2-sftp-client']) assert.ok(!packages.has(heavy), `the tick loaded ${heavy}`);
});
