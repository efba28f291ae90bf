// The SFTP transport against OpenSSH's real sshd: the conformance suite, then what only SFTP can get wrong.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import SftpClient from 'ssh2-sftp-client';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { openTransport, type TransportOptions } from '../../src/transport/location.js';
import { withRetry } from '../../src/transport/retry.js';
import type { PutSource } from '../../src/transport/transport.js';
import { createUserKey, startSshd, type SshdServer, type UserKey } from '../support/sshd.js';
import { chunksOf, describeTransportConformance, readAll } from './conformance.js';

const urlOf = (server: SshdServer) => `sftp://${server.username}@${server.host}:${server.port}${server.root}`;
const pinnedTo = (server: SshdServer): TransportOptions => ({ privateKey: server.privateKeyPath, hostKeyFingerprint: server.hostKeyFingerprint });

describeTransportConformance('sftp', async () => {
  const server = await startSshd();
  return {
    transport: await openTransport(urlOf(server), pinnedTo(server)),
    localPath: (name) => server.localPath(name),
    stop: () => server.stop(),
  };
});

/** Kills the server's SSH sessions but not its listener: a connection dropped mid-transfer. */
function killSessions(server: SshdServer): number {
  // The rig's sshd writes its listener's pid to the PidFile next to its config.
  const listener = Number(readFileSync(path.join(path.dirname(server.configPath), 'sshd.pid'), 'utf8'));
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone already
    }
  }
  const sessions = [...parents.keys()].filter((pid) => {
    for (let parent = parents.get(pid); parent; parent = parents.get(parent)) if (parent === listener) return true;
    return false;
  });
  for (const pid of sessions) process.kill(pid, 'SIGKILL');
  return sessions.length;
}

function isGanymedeError(exitCode: number, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof GanymedeError, String(error));
    assert.equal(error.exitCode, exitCode, error.message);
    assert.match(error.message, pattern);
    assert.doesNotMatch(`${error.message} ${error.hint}`, /\n|PRIVATE KEY/);
    return true;
  };
}

describe('sftp transport', () => {
  let server: SshdServer;
  let keysDir: string;
  let strangerKey: UserKey;

  before(async () => {
    server = await startSshd();
    keysDir = await mkdtemp(path.join(os.tmpdir(), 'ganymede-sftp-keys-'));
    strangerKey = await createUserKey(keysDir, 'stranger_ed25519');
  });
  after(async () => {
    await server.stop();
    await rm(keysDir, { recursive: true, force: true });
  });

  it('turns a key the server does not know into a config error naming user@host, not retried', async () => {
    const retries: string[] = [];
    const transport = withRetry(await openTransport(urlOf(server), { privateKey: strangerKey.privateKeyPath }), {
      baseDelayMs: 1,
      onRetry: (line) => retries.push(line),
    });
    try {
      await assert.rejects(
        transport.put('x', chunksOf(Buffer.from('x'))),
        isGanymedeError(ExitCode.config, new RegExp(`${server.username}@127\\.0\\.0\\.1:${server.port} refused the private key ${strangerKey.privateKeyPath}`)),
      );
      // The same key given as bytes is named without its contents.
      const fromBuffer = await openTransport(urlOf(server), { privateKey: strangerKey.privateKey });
      await assert.rejects(fromBuffer.list(), isGanymedeError(ExitCode.config, /refused the private key$/));
      assert.deepEqual(retries, []);
    } finally {
      await transport.close();
    }
  });

  it('refuses a host key other than the pinned one, and does not retry', async () => {
    const otherServer = await startSshd({ userKey: { privateKeyPath: server.privateKeyPath, privateKey: server.privateKey, publicKey: server.publicKey } });
    const retries: string[] = [];
    const transport = withRetry(await openTransport(urlOf(otherServer), pinnedTo(server)), { baseDelayMs: 1, onRetry: (line) => retries.push(line) });
    try {
      await assert.rejects(
        transport.stat('x'),
        isGanymedeError(ExitCode.refused, new RegExp(`host key is ${otherServer.hostKeyFingerprint.replace(/[+/]/g, '\\$&')}, not the pinned`)),
      );
      assert.deepEqual(retries, []);
      const unpinned = await openTransport(urlOf(otherServer), { privateKey: server.privateKeyPath });
      assert.equal(await unpinned.stat('x'), undefined, 'without a pin any host key is accepted');
      await unpinned.close();
    } finally {
      await transport.close();
      await otherServer.stop();
    }
  });

  it('refuses a read-only directory with a refused error naming the path', async () => {
    const transport = await openTransport(urlOf(server), pinnedTo(server));
    await server.setReadOnly(true);
    try {
      await assert.rejects(
        transport.put('refused.gpg', chunksOf(Buffer.from('x'))),
        isGanymedeError(ExitCode.refused, new RegExp(`permission denied on ${server.root}/refused\\.gpg\\.part`)),
      );
    } finally {
      await server.setReadOnly(false);
      await transport.close();
    }
    assert.deepEqual(await readdir(server.localPath(server.root)), []);
  });

  it('calls a server that does not answer unreachable, and retries it', async () => {
    const down = await startSshd();
    const url = urlOf(down);
    await down.stop();
    const retries: string[] = [];
    const transport = withRetry(await openTransport(url, { privateKey: server.privateKeyPath }), {
      maxAttempts: 3,
      baseDelayMs: 1,
      onRetry: (line) => retries.push(line),
    });
    await assert.rejects(transport.list(), isGanymedeError(ExitCode.unreachable, /is unreachable: .*ECONNREFUSED.*\(gave up after 3 attempts\)$/));
    assert.equal(retries.length, 2);
    assert.match(retries[0]!, /^sftp:\/\/.*: list failed \(attempt 1 of 3\), retrying in \d+ms: /);
  });

  it('survives a connection killed mid-upload: the retry completes exactly one whole file', async () => {
    const content = randomBytes(4 * 1024 * 1024);
    let attempts = 0;
    let killed = 0;
    const source: PutSource = () => {
      attempts += 1;
      const attempt = attempts;
      return (async function* () {
        for (let offset = 0; offset < content.length; offset += 64 * 1024) {
          if (attempt === 1 && offset === 1024 * 1024) {
            killed = killSessions(server);
            // Let the client see the connection go before it asks for more.
            await sleep(100);
          }
          yield content.subarray(offset, offset + 64 * 1024);
        }
      })();
    };
    const retries: string[] = [];
    const transport = withRetry(await openTransport(urlOf(server), pinnedTo(server)), {
      baseDelayMs: 5,
      onRetry: (line) => retries.push(line),
    });
    try {
      assert.deepEqual(await transport.put('killed/dump.tar.gpg', source, { expectedSize: content.length }), { size: content.length });
    } finally {
      await transport.close();
    }
    assert.ok(killed > 0, 'sessions were killed');
    assert.equal(attempts, 2);
    assert.equal(retries.length, 1);
    assert.match(retries[0]!, /put killed\/dump\.tar\.gpg failed \(attempt 1 of \d+\), retrying in \d+ms: .*connection was lost/);
    assert.deepEqual(await readdir(server.localPath('killed')), ['dump.tar.gpg']);
    assert.ok((await readFile(server.localPath('killed/dump.tar.gpg'))).equals(content));
  });

  it('replaces by delete and rename on a server without posix-rename@openssh.com', async (t) => {
    t.mock.method(SftpClient.prototype, 'posixRename', () => Promise.reject(new Error('Server does not support this extended request')));
    const transport = await openTransport(urlOf(server), pinnedTo(server));
    try {
      await transport.put('no-posix/file', chunksOf(Buffer.from('old')));
      await transport.put('no-posix/file', chunksOf(Buffer.from('new')));
      assert.equal((await readAll(await transport.get('no-posix/file'))).toString(), 'new');
      assert.deepEqual(await readdir(server.localPath('no-posix')), ['file']);
    } finally {
      await transport.close();
    }
  });

  it('describes itself as the URL, without the key', async () => {
    const transport = await openTransport(`sftp://${server.username}@${server.host}:22/srv/inbox/`, { privateKey: server.privateKey });
    assert.equal(transport.describe(), `sftp://${server.username}@127.0.0.1/srv/inbox`);
    const home = await openTransport(`sftp://${server.username}@${server.host}/~/feed`, { privateKey: server.privateKey });
    assert.equal(home.describe(), `sftp://${server.username}@127.0.0.1/~/feed`);
  });
});
