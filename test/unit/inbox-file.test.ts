// The inbox is read only through regular files opened without following links: a GEO's symbolic link
// (to /dev/zero, to a secret), FIFO or directory is refused unread and the refusal says only what the
// entry is; a GEO directory swapped for a link is refused as a whole; a missing file is just missing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { after, test } from 'node:test';
import { InboxRefusal, openInboxFile } from '../../src/worker/inbox-file.js';
import { tempDir } from '../support/ganymede.js';

const work = tempDir('inbox-file');
after(() => work.remove());
const inbox = join(work.path, 'inbox');
const geoDir = join(inbox, 'emea');
mkdirSync(geoDir, { recursive: true });
const secret = join(work.path, 'centre.key.asc');
writeFileSync(secret, 'the centre private key, 49 bytes long, say no more');

const refused = (pattern: RegExp, movable = true) => (error: unknown) => {
  assert.ok(error instanceof InboxRefusal, String(error));
  assert.match(error.message, pattern);
  assert.equal(error.movable, movable);
  assert.doesNotMatch(error.message, new RegExp(`\\b${statSync(secret).size}\\b`), 'nothing of the target: not its size');
  return true;
};

test('a regular file is opened and read from its start, as often as asked', async () => {
  writeFileSync(join(geoDir, 'good.gpg'), 'delivered bytes');
  const file = await openInboxFile(inbox, 'emea', 'good.gpg');
  assert.ok(file);
  try {
    assert.equal(file.size, 15);
    assert.equal((await buffer(file.read())).toString(), 'delivered bytes');
    assert.equal((await buffer(file.read())).toString(), 'delivered bytes', 'a second read starts again');
    // A read stopped half way (a refusal, SIGTERM) leaves the file open for the next one.
    const stopped = file.read();
    stopped.on('error', () => undefined).destroy(new Error('stopped'));
    await new Promise((resolve) => stopped.once('close', resolve));
    assert.equal((await buffer(file.read())).toString(), 'delivered bytes', 'read again after a destroyed read');
  } finally {
    await file.close();
  }
});

test('a symbolic link to /dev/zero or to a secret file is refused without being followed', async () => {
  symlinkSync('/dev/zero', join(geoDir, 'zero.gpg'));
  symlinkSync(secret, join(geoDir, 'secret.gpg'));
  await assert.rejects(openInboxFile(inbox, 'emea', 'zero.gpg'), refused(/^zero\.gpg is a symbolic link; the inbox takes regular files only and never follows a link$/));
  await assert.rejects(openInboxFile(inbox, 'emea', 'secret.gpg'), refused(/^secret\.gpg is a symbolic link/));
});

test('a FIFO is refused at once (its open does not wait for a writer), a directory too', async () => {
  execFileSync('mkfifo', [join(geoDir, 'pipe.gpg')]);
  mkdirSync(join(geoDir, 'dir.gpg'));
  await assert.rejects(openInboxFile(inbox, 'emea', 'pipe.gpg'), refused(/^pipe\.gpg is a FIFO \(named pipe\); the inbox takes regular files only$/));
  await assert.rejects(openInboxFile(inbox, 'emea', 'dir.gpg'), refused(/^dir\.gpg is a directory/));
});

test('a GEO directory that is a link is refused as a whole, nothing in it to be moved', async () => {
  const elsewhere = join(work.path, 'elsewhere');
  mkdirSync(elsewhere);
  writeFileSync(join(elsewhere, 'x.gpg'), 'not in the inbox');
  symlinkSync(elsewhere, join(inbox, 'apac'));
  await assert.rejects(openInboxFile(inbox, 'apac', 'x.gpg'), refused(/^the inbox directory of GEO apac is a symbolic link or not a directory; nothing in it is read or moved$/, false));
});

test('names that are not plain file names are refused; a missing file or GEO directory is undefined', async () => {
  await assert.rejects(openInboxFile(inbox, 'emea', '../centre.key.asc'), refused(/is not a plain file name/, false));
  assert.equal(await openInboxFile(inbox, 'emea', 'missing.gpg'), undefined);
  assert.equal(await openInboxFile(inbox, 'latam', 'missing.gpg'), undefined);
});
