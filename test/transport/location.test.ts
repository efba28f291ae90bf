// Location URLs: the one registry that turns a config value into a transport, and its messages.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { FileTransport } from '../../src/transport/file.js';
import { hidePassword, openTransport, parseLocation } from '../../src/transport/location.js';
import { SftpTransport } from '../../src/transport/sftp.js';

function configErrorMatching(pattern: RegExp, forbidden?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof GanymedeError, String(error));
    assert.equal(error.exitCode, ExitCode.config, error.message);
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /\n/);
    if (forbidden) assert.doesNotMatch(`${error.message} ${error.hint}`, forbidden);
    return true;
  };
}

describe('location URLs', () => {
  it('parses file:// and sftp:// locations', () => {
    assert.deepEqual(parseLocation('file:///var/lib/ganymede/inbox/'), { scheme: 'file', root: '/var/lib/ganymede/inbox' });
    assert.deepEqual(parseLocation('file://localhost/srv/in'), { scheme: 'file', root: '/srv/in' });
    assert.deepEqual(parseLocation('sftp://geo@central.example:2222/srv/inbox/'), {
      scheme: 'sftp', host: 'central.example', port: 2222, username: 'geo', root: '/srv/inbox',
    });
    assert.deepEqual(parseLocation('sftp://glass%40beam@[::1]/'), { scheme: 'sftp', host: '::1', port: 22, username: 'glass@beam', root: '/' });
    assert.deepEqual(parseLocation('sftp://feed@glassbeam.example/~/upload'), {
      scheme: 'sftp', host: 'glassbeam.example', port: 22, username: 'feed', root: 'upload',
    });
    assert.equal((parseLocation('sftp://feed@h/~') as { root: string }).root, '.');
  });

  it('says what a swift:// or s3:// location lacks before touching the store', async () => {
    await assert.rejects(openTransport('swift://container/prefix'), configErrorMatching(/names no auth URL/));
    await assert.rejects(openTransport('s3://bucket/prefix'), configErrorMatching(/no secret access key is configured/));
  });

  it('refuses other schemes, non-URLs and odd forms with a config error', () => {
    const cases: Array<[string, RegExp]> = [
      ['ftp://h/x', /unknown scheme ftp/],
      ['/var/inbox', /is not a location URL/],
      ['not a url', /is not a location URL/],
      ['file://otherhost/x', /names host otherhost/],
      ['file:///x?y=1', /query or fragment/],
      ['file:///srv/%2e%2e/etc', /contains "\.\."/],
      ['sftp://host/inbox', /names no user/],
      ['sftp://u@h/a/../b', /contains "\.\."/],
    ];
    for (const [url, pattern] of cases) assert.throws(() => parseLocation(url), configErrorMatching(pattern));
  });

  it('never repeats a password written into the URL', async () => {
    await assert.rejects(openTransport('sftp://geo:hunter22@h/inbox'), configErrorMatching(/holds a password; SFTP logins use a private key/, /hunter22/));
    assert.throws(() => parseLocation('sftp://geo:hunter22@h:bad/x'), configErrorMatching(/not a location URL/, /hunter22/));
    assert.equal(hidePassword('sftp://geo:hunter22@h/x'), 'sftp://geo:***@h/x');
  });

  it('opens the transport for each scheme; sftp needs a readable key and a well-formed pin', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ganymede-location-'));
    try {
      assert.ok((await openTransport(`file://${dir}`)) instanceof FileTransport);
      await assert.rejects(openTransport('sftp://u@h/in'), configErrorMatching(/no private key is configured for sftp:\/\/u@h\/in/));
      await assert.rejects(openTransport('sftp://u@h/in', { privateKey: path.join(dir, 'missing_key') }), configErrorMatching(/cannot read the private key .*missing_key/));
      const pasted = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----';
      await assert.rejects(openTransport('sftp://u@h/in', { privateKey: pasted }), configErrorMatching(/given as text/, /b3BlbnNzaC1rZXk/));
      const keyPath = path.join(dir, 'key');
      await writeFile(keyPath, 'a key', { mode: 0o600 });
      await assert.rejects(
        openTransport('sftp://u@h/in', { privateKey: keyPath, hostKeyFingerprint: 'MD5:aa:bb' }),
        configErrorMatching(/host key fingerprint .* is not a SHA256/),
      );
      const pinned = await openTransport('sftp://u@h/in', { privateKey: keyPath, hostKeyFingerprint: `SHA256:${'A'.repeat(43)}=` });
      assert.ok(pinned instanceof SftpTransport);
      assert.equal(pinned.describe(), 'sftp://u@h/in');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a key sshd cannot parse as a config error naming the key file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ganymede-location-'));
    try {
      const keyPath = path.join(dir, 'garbage_key');
      await writeFile(keyPath, 'not a key at all', { mode: 0o600 });
      // Port 9 on 127.0.0.1: the key is parsed before any connection is made.
      const transport = await openTransport('sftp://u@127.0.0.1:9/in', { privateKey: keyPath });
      await assert.rejects(transport.list(), configErrorMatching(new RegExp(`private key ${keyPath} for sftp://u@127.0.0.1:9/in cannot be used`)));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
