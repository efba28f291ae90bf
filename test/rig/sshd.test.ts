// The rig's sshd is OpenSSH's real server, and it behaves the way the SFTP transport will rely on.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import SftpClient from 'ssh2-sftp-client';
import { createUserKey, startSshd, type SshdServer, type UserKey } from '../support/sshd.js';

const run = promisify(execFile);

// @types/ssh2-sftp-client (v9) does not know the v12 method that maps to posix-rename@openssh.com.
type SftpWithPosixRename = SftpClient & { posixRename(from: string, to: string): Promise<string> };

async function withSftp<T>(
  server: SshdServer,
  use: (sftp: SftpWithPosixRename) => Promise<T>,
  privateKey: Buffer = server.privateKey,
): Promise<T> {
  const sftp = new SftpClient() as SftpWithPosixRename;
  try {
    await sftp.connect({ ...server.connectOptions(), privateKey, readyTimeout: 10_000 });
    return await use(sftp);
  } finally {
    await sftp.end().catch(() => {});
  }
}

async function sshdProcessesFor(configPath: string): Promise<string> {
  try {
    return (await run('pgrep', ['-af', configPath])).stdout.trim();
  } catch {
    return ''; // pgrep exits 1 when nothing matches
  }
}

describe('test rig: sshd', () => {
  const servers: SshdServer[] = [];
  let keysDir: string;
  let otherKey: UserKey;
  let server: SshdServer;

  before(async () => {
    keysDir = await mkdtemp(path.join(os.tmpdir(), 'ganymede-keys-'));
    otherKey = await createUserKey(keysDir, 'other_ed25519');
    server = await startSshd();
    servers.push(server);
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(keysDir, { recursive: true, force: true });
    for (const s of servers) {
      assert.equal(await sshdProcessesFor(s.configPath), '', `sshd for ${s.configPath} still running`);
      assert.equal(existsSync(s.configPath), false);
      assert.equal(existsSync(s.localPath(s.root)), false);
    }
  });

  it('is OpenSSH, with the host key it was given', async () => {
    assert.match(server.banner, /^SSH-2\.0-OpenSSH_/);
    assert.match(server.hostKeyFingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    let seen = '';
    const sftp = new SftpClient();
    try {
      await sftp.connect({
        ...server.connectOptions(),
        hostVerifier: (key: Buffer) => {
          seen = `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
          return true;
        },
      });
    } finally {
      await sftp.end().catch(() => {});
    }
    assert.equal(seen, server.hostKeyFingerprint);
  });

  it('takes a file under a .part name, renames it, lists and returns it byte-identical', async () => {
    const content = randomBytes(300_000);
    const part = `${server.root}/dump.tar.gpg.part`;
    const final = `${server.root}/dump.tar.gpg`;
    const back = await withSftp(server, async (sftp) => {
      await sftp.put(content, part, { writeStreamOptions: { mode: 0o600 } });
      await sftp.rename(part, final);
      assert.equal((await sftp.stat(final)).size, content.length);
      assert.deepEqual((await sftp.list(server.root)).map((entry) => entry.name), ['dump.tar.gpg']);
      assert.equal((await sftp.stat(final)).mode & 0o777, 0o600);
      return (await sftp.get(final)) as Buffer;
    });
    assert.ok(back.equals(content));
    const onDisk = await stat(server.localPath(final));
    assert.equal(onDisk.mode & 0o777, 0o600);
    assert.ok((await readFile(server.localPath('dump.tar.gpg'))).equals(content), 'relative paths are under root');
  });

  // ssh2's write stream fchmods every file it opens to its `mode` (default 0666) and a umask does not apply
  // to chmod: the server's -u 077 covers only what the client creates without a mode.
  it('keeps the mode put() asks for; the server umask covers only mkdir and the like', async () => {
    await withSftp(server, async (sftp) => {
      await sftp.put(Buffer.from('x'), `${server.root}/default-mode`);
      await sftp.mkdir(`${server.root}/dir`);
    });
    assert.equal((await stat(server.localPath('default-mode'))).mode & 0o777, 0o666);
    assert.equal((await stat(server.localPath('dir'))).mode & 0o777, 0o700);
  });

  it('refuses a plain rename over an existing file; posix-rename replaces it', async () => {
    await withSftp(server, async (sftp) => {
      await sftp.put(Buffer.from('old'), `${server.root}/target`);
      await sftp.put(Buffer.from('new'), `${server.root}/target.part`);
      await assert.rejects(sftp.rename(`${server.root}/target.part`, `${server.root}/target`));
      await sftp.posixRename(`${server.root}/target.part`, `${server.root}/target`);
      assert.equal(await sftp.exists(`${server.root}/target.part`), false);
    });
    assert.equal(await readFile(server.localPath('target'), 'utf8'), 'new');
  });

  it('refuses a key it was not given, with an authentication error', async () => {
    await assert.rejects(
      withSftp(server, async () => {}, otherKey.privateKey),
      /authentication/i,
    );
    // sshd logs the refusal after the client has gone, so its line may still be on the way.
    const refused = /Connection closed by authenticating user|Failed publickey/;
    for (let waitedMs = 0; !refused.test(server.logs()) && waitedMs < 30_000; waitedMs += 50) await sleep(50);
    assert.match(server.logs(), refused);
  });

  it('refuses writes outside the writable dir, and in it once made read-only', async () => {
    await withSftp(server, async (sftp) => {
      await assert.rejects(sftp.put(Buffer.from('x'), path.posix.join(path.posix.dirname(server.root), 'outside')), /denied/i);
      await server.setReadOnly(true);
      try {
        await assert.rejects(sftp.put(Buffer.from('x'), `${server.root}/refused`), /denied/i);
      } finally {
        await server.setReadOnly(false);
      }
      await sftp.put(Buffer.from('x'), `${server.root}/accepted`);
    });
  });

  it('runs two servers at once, each with its own dirs, port and keys', async () => {
    const glassbeam = await startSshd({ userKey: otherKey, authorizedKeys: [server.publicKey] });
    servers.push(glassbeam);
    assert.notEqual(glassbeam.port, server.port);
    assert.notEqual(glassbeam.hostKeyFingerprint, server.hostKeyFingerprint);
    assert.equal(glassbeam.privateKeyPath, otherKey.privateKeyPath);
    await withSftp(glassbeam, (sftp) => sftp.put(Buffer.from('feed'), `${glassbeam.root}/feed.csv`));
    await withSftp(glassbeam, (sftp) => sftp.put(Buffer.from('more'), `${glassbeam.root}/more.csv`), server.privateKey);
    assert.deepEqual((await readdir(glassbeam.localPath(glassbeam.root))).sort(), ['feed.csv', 'more.csv']);
    assert.equal(existsSync(server.localPath('feed.csv')), false);
    await glassbeam.authorizeKey((await createUserKey(keysDir, 'late_ed25519')).publicKey);
    const late = await readFile(path.join(keysDir, 'late_ed25519'));
    assert.equal(await withSftp(glassbeam, (sftp) => sftp.exists(`${glassbeam.root}/feed.csv`), late), '-');
  });
});
