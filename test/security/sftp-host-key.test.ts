// Pinning an SFTP server's host key by its known_hosts line (`ssh-ed25519 AAAA…`) as well as by its
// SHA256 fingerprint, against OpenSSH's real sshd; a refusal names both keys and what to do.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { ExitCode } from '../../src/exit-codes.js';
import { parseHostPublicKey, SftpTransport, type SftpTransportOptions } from '../../src/transport/sftp.js';
import { startSshd, type SshdServer } from '../support/sshd.js';
import { isGanymedeError } from './support.js';

const run = promisify(execFile);
let server: SshdServer;
let other: SshdServer;

before(async () => {
  server = await startSshd();
  other = await startSshd({ userKey: { privateKeyPath: server.privateKeyPath, privateKey: server.privateKey, publicKey: server.publicKey } });
});
after(async () => {
  await server?.stop();
  await other?.stop();
});

const optionsFor = (target: SshdServer, pin: Partial<SftpTransportOptions>): SftpTransportOptions => ({
  host: target.host,
  port: target.port,
  username: target.username,
  root: target.root,
  privateKey: target.privateKey,
  ...pin,
});

const escape = (text: string) => text.replace(/[+/.]/g, '\\$&');

describe('parseHostPublicKey', () => {
  test('takes a known_hosts line with or without host names and comment, and gives ssh-keygen\'s fingerprint', () => {
    for (const line of [server.hostPublicKey, `[127.0.0.1]:${server.port} ${server.hostPublicKey}`, `${server.hostPublicKey} root@inbox`]) {
      assert.deepEqual(parseHostPublicKey(line), { keyType: 'ssh-ed25519', fingerprint: server.hostKeyFingerprint });
    }
  });

  test('anything else is a config error saying where to get the line', () => {
    const [type, blob] = server.hostPublicKey.split(' ') as [string, string];
    for (const line of ['', server.hostKeyFingerprint, `ssh-rsa ${blob}`, `${type} ${blob.slice(0, 20)}`, `@revoked * ${server.hostPublicKey}`, `${type} not-base64!`]) {
      assert.throws(() => parseHostPublicKey(line), (error: unknown) => {
        isGanymedeError(ExitCode.config, /is not a known_hosts line/)(error);
        assert.match((error as { hint: string }).hint, /ssh-keyscan/);
        return true;
      }, line);
    }
  });
});

describe('SftpTransport pinned to a host key line', () => {
  test('connects to the server whose key it is', async () => {
    const transport = new SftpTransport(optionsFor(server, { hostPublicKey: server.hostPublicKey }));
    try {
      assert.equal(await transport.stat('nothing-here'), undefined);
    } finally {
      await transport.close();
    }
  });

  test('refuses another server, naming both fingerprints, the key it offers and what to do', async () => {
    for (const pin of [{ hostPublicKey: server.hostPublicKey }, { hostKeyFingerprint: server.hostKeyFingerprint }]) {
      const transport = new SftpTransport(optionsFor(other, pin));
      try {
        await assert.rejects(transport.stat('x'), (error: unknown) => {
          isGanymedeError(ExitCode.refused, new RegExp(`host key is ${escape(other.hostKeyFingerprint)}, not the pinned ${escape(server.hostKeyFingerprint)}; not connecting`))(error);
          const hint = (error as { hint: string }).hint;
          assert.ok(hint.includes(other.hostPublicKey), hint);
          assert.match(hint, /confirm .* on the server .* and pin it.*otherwise treat the connection as intercepted/);
          return true;
        });
      } finally {
        await transport.close();
      }
    }
  });
});

describe('SftpTransport pinned to a key of a type the server lacks', () => {
  test('is refused with a message naming the type and the pinned fingerprint', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gmd-rsa-pin-'));
    try {
      await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', join(dir, 'host_rsa')]);
      const line = await readFile(join(dir, 'host_rsa.pub'), 'utf8');
      const transport = new SftpTransport(optionsFor(server, { hostPublicKey: line }));
      try {
        const pinned = parseHostPublicKey(line).fingerprint;
        await assert.rejects(transport.stat('x'), isGanymedeError(ExitCode.refused, new RegExp(`the server has no ssh-rsa host key, the type of the pinned ${escape(pinned)}; not connecting`)));
      } finally {
        await transport.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
