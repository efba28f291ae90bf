// Quarantine on another filesystem than the inbox (rename gives EXDEV): what the GEO put there is moved
// as it is and never read through a link: a link is made again as a link, a regular file is copied, a
// FIFO is replaced by a note saying what it was. /dev/shm is a tmpfs apart from /tmp on these machines.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import type { Transaction } from '../../src/state/transactions.js';
import { moveToQuarantine } from '../../src/worker/quarantine.js';
import { tempDir } from '../support/ganymede.js';

const work = tempDir('quarantine-move');
const quarantineDir = mkdtempSync('/dev/shm/gmd-quarantine-');
after(() => {
  work.remove();
  rmSync(quarantineDir, { recursive: true, force: true });
});
const inbox = join(work.path, 'inbox');
mkdirSync(join(inbox, 'emea'), { recursive: true });
const { config } = loadConfig({ configPath: null, env: {}, overrides: { 'site.data_dir': work.path, 'centre.inbox_dir': inbox, 'centre.quarantine_dir': quarantineDir } });
let id = 0;
const txnOf = (name: string) => ({ id: ++id, delivery: 1, geo: 'emea', file: { name, size: 0, sha256: '' } }) as unknown as Transaction;

test('the inbox and the quarantine dir are on different filesystems here', () => {
  assert.notEqual(statSync(inbox).dev, statSync(quarantineDir).dev);
});

test('a link to /dev/zero is moved as a link, never read', async () => {
  symlinkSync('/dev/zero', join(inbox, 'emea', 'zero.gpg'));
  const to = await moveToQuarantine(config, txnOf('zero.gpg'));
  assert.equal(to, join(quarantineDir, 'emea', 'zero.gpg'));
  assert.equal(readlinkSync(to), '/dev/zero');
  assert.equal(existsSync(join(inbox, 'emea', 'zero.gpg')), false);
});

test('a regular file is copied whole and removed from the inbox', async () => {
  writeFileSync(join(inbox, 'emea', 'file.gpg'), 'x'.repeat(3 * 1024 * 1024));
  const to = await moveToQuarantine(config, txnOf('file.gpg'));
  assert.equal(readFileSync(to, 'utf8').length, 3 * 1024 * 1024);
  assert.equal(existsSync(join(inbox, 'emea', 'file.gpg')), false);
});

test('a FIFO is replaced by a note, without waiting for a writer', async () => {
  execFileSync('mkfifo', [join(inbox, 'emea', 'pipe.gpg')]);
  const to = await moveToQuarantine(config, txnOf('pipe.gpg'));
  assert.ok(lstatSync(to).isFile());
  assert.match(readFileSync(to, 'utf8'), /^a FIFO \(named pipe\) in the inbox, removed unread\n$/);
  assert.equal(existsSync(join(inbox, 'emea', 'pipe.gpg')), false);
});

test('a move that crashed after recording its place takes that place again; the place is told before the file moves', async () => {
  writeFileSync(join(inbox, 'emea', 'again.gpg'), 'the delivery');
  // Another refusal of that name took the plain place meanwhile; the recorded place is still free.
  mkdirSync(join(quarantineDir, 'emea'), { recursive: true });
  writeFileSync(join(quarantineDir, 'emea', 'again.gpg'), 'an earlier refusal');
  const told: Array<[string, boolean]> = [];
  const to = await moveToQuarantine(config, txnOf('again.gpg'), {
    preferredName: 'again.gpg.txn-7-d1',
    beforeMove: async (name) => void told.push([name, existsSync(join(inbox, 'emea', 'again.gpg'))]),
  });
  assert.equal(to, join(quarantineDir, 'emea', 'again.gpg.txn-7-d1'));
  assert.deepEqual(told, [['again.gpg.txn-7-d1', true]], 'told first, while the file was still in the inbox');
  assert.equal(readFileSync(to, 'utf8'), 'the delivery');
  assert.equal(readFileSync(join(quarantineDir, 'emea', 'again.gpg'), 'utf8'), 'an earlier refusal', 'the earlier one is untouched');
  // Called again (the step retried after the move): it finds the file where it went.
  assert.equal(await moveToQuarantine(config, txnOf('again.gpg'), { preferredName: 'again.gpg.txn-7-d1' }), to);
});
