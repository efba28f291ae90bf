// The local-directory transport: the conformance suite, and what only a local directory can show.
import { execa } from 'execa';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openTransport } from '../../src/transport/location.js';
import { chunksOf, describeTransportConformance } from './conformance.js';

describeTransportConformance('file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ganymede-file-transport-'));
  const root = path.join(dir, 'inbox');
  return {
    transport: await openTransport(`file://${root}`),
    localPath: (name) => path.join(root, name),
    stop: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('file transport', () => {
  it('creates its directory 0700 on the first put, and lists an absent one as empty', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ganymede-file-transport-'));
    try {
      const root = path.join(dir, 'not', 'yet');
      const transport = await openTransport(`file://${root}/`);
      assert.equal(transport.describe(), `file://${root}`);
      assert.deepEqual(await transport.list(), []);
      assert.equal(await transport.stat('x'), undefined);
      await transport.put('x', chunksOf(Buffer.from('x')));
      assert.equal((await stat(root)).mode & 0o777, 0o700);
      assert.deepEqual(await readdir(root), ['x']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a directory it may not write, naming the path', async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ganymede-file-transport-'));
    const { chmod } = await import('node:fs/promises');
    // Root writes past any mode: as root, the directory is made immutable instead (EPERM, even for root).
    const asRoot = process.getuid?.() === 0;
    try {
      if (asRoot) {
        const immutable = await execa('chattr', ['+i', dir], { reject: false });
        if (immutable.exitCode !== 0) return t.skip(`root writes anywhere, and chattr +i is not possible here: ${String(immutable.stderr)}`);
      } else {
        await chmod(dir, 0o500);
      }
      const transport = await openTransport(`file://${dir}`);
      await assert.rejects(transport.put('x', chunksOf(Buffer.from('x'))), (error: Error & { exitCode?: number }) => {
        assert.equal(error.exitCode, 5);
        assert.ok(error.message.includes(path.join(dir, 'x.part')), error.message);
        return true;
      });
    } finally {
      if (asRoot) await execa('chattr', ['-i', dir], { reject: false });
      else await chmod(dir, 0o700);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
