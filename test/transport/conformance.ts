// The one suite every transport passes (restic's backend test suite): file and sftp today, swift and s3
// when they arrive. A store's own test file starts it against a real store and adds what only it can do.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { stat as statLocal, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import type { PutSource, Transport } from '../../src/transport/transport.js';

export interface ConformanceSubject {
  transport: Transport;
  /** Where a stored name lives on this machine, when it does: enables the on-disk checks (modes, .part files). */
  localPath?: (name: string) => string;
  stop(): Promise<void>;
}

const chunkBytes = 64 * 1024;
const largeBytes = 3 * 1024 * 1024 + 12_345;

/** A source that yields `content` in chunks, as a file stream or an encryptor would. */
export function chunksOf(content: Buffer, chunkSize = chunkBytes): PutSource {
  return () =>
    (async function* () {
      for (let offset = 0; offset < content.length; offset += chunkSize) yield content.subarray(offset, offset + chunkSize);
    })();
}

export async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function waitFor(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

function assertGanymedeError(error: unknown, exitCode: number, pattern?: RegExp): true {
  assert.ok(error instanceof GanymedeError, `expected a GanymedeError, got ${String(error)}`);
  assert.equal(error.exitCode, exitCode, error.message);
  assert.doesNotMatch(error.message, /\n/, 'one line');
  if (pattern) assert.match(error.message, pattern);
  return true;
}

export function describeTransportConformance(label: string, start: () => Promise<ConformanceSubject>): void {
  describe(`transport conformance: ${label}`, () => {
    let subject: ConformanceSubject;
    let transport: Transport;

    before(async () => {
      subject = await start();
      transport = subject.transport;
    });
    after(async () => {
      await transport.close();
      await subject.stop();
    });

    for (const [what, size, asReadable] of [
      ['0 bytes', 0, false],
      ['1 byte', 1, true],
      [`${largeBytes} bytes`, largeBytes, true],
      ['a few MB from an async generator', largeBytes, false],
    ] as const) {
      it(`puts, stats, lists and gets back ${what} byte-identical`, async () => {
        const name = `roundtrip-${size}-${asReadable}/file.bin`;
        const content = randomBytes(size);
        const source: PutSource = asReadable ? () => Readable.from(chunksOf(content)()) : chunksOf(content);
        assert.deepEqual(await transport.put(name, source, { expectedSize: size }), { size });
        const info = await transport.stat(name);
        assert.equal(info?.size, size);
        assert.ok(info.modifiedAt instanceof Date && Math.abs(info.modifiedAt.getTime() - Date.now()) < 10 * 60_000);
        const listed = await transport.list(`roundtrip-${size}-${asReadable}/`);
        assert.deepEqual(listed.map((entry) => [entry.name, entry.size]), [[name, size]]);
        const back = await readAll(await transport.get(name));
        assert.equal(back.length, size);
        assert.ok(back.equals(content), 'byte-identical');
      });
    }

    it('stores files 0600 in dirs 0700 on disk', async (t) => {
      if (!subject.localPath) return t.skip('the store is not on this machine');
      await transport.put('modes/nested/file', chunksOf(Buffer.from('secret')));
      assert.equal((await statLocal(subject.localPath('modes/nested/file'))).mode & 0o777, 0o600);
      assert.equal((await statLocal(subject.localPath('modes/nested'))).mode & 0o777, 0o700);
      assert.equal((await statLocal(subject.localPath('modes'))).mode & 0o777, 0o700);
    });

    it('replaces a file atomically: until the new one is complete, readers see the old one and no .part', async () => {
      const name = 'overwrite/dump.gpg';
      const old = randomBytes(100_000);
      await transport.put(name, chunksOf(old));
      const fresh = randomBytes(300_000);
      let reachedGate = false;
      let openGate!: () => void;
      const gate = new Promise<void>((resolve) => (openGate = resolve));
      const paused: PutSource = () =>
        (async function* () {
          yield fresh.subarray(0, 150_000);
          reachedGate = true;
          await gate;
          yield fresh.subarray(150_000);
        })();
      const putting = transport.put(name, paused);
      try {
        await waitFor(() => reachedGate);
        if (subject.localPath) await waitFor(() => existsSync(subject.localPath!(`${name}.part`)));
        assert.equal((await transport.stat(name))?.size, old.length);
        assert.ok((await readAll(await transport.get(name))).equals(old), 'the old content, whole');
        assert.deepEqual((await transport.list('overwrite/')).map((entry) => entry.name), [name]);
      } finally {
        openGate();
      }
      assert.deepEqual(await putting, { size: fresh.length });
      assert.ok((await readAll(await transport.get(name))).equals(fresh));
      assert.deepEqual((await transport.list('overwrite/')).map((entry) => [entry.name, entry.size]), [[name, fresh.length]]);
      if (subject.localPath) assert.equal(existsSync(subject.localPath(`${name}.part`)), false);
    });

    it('leaves nothing under the final name when the source fails half way, and keeps an older version', async () => {
      const broken = new Error('the encryptor broke');
      const failing: PutSource = () =>
        (async function* () {
          yield randomBytes(200_000);
          throw broken;
        })();
      await assert.rejects(transport.put('broken/new.gpg', failing), (error) => error === broken);
      assert.equal(await transport.stat('broken/new.gpg'), undefined);
      assert.deepEqual(await transport.list('broken/'), []);
      if (subject.localPath) assert.equal(existsSync(subject.localPath('broken/new.gpg.part')), false, 'the .part is removed');

      const kept = randomBytes(1_000);
      await transport.put('broken/kept.gpg', chunksOf(kept));
      await assert.rejects(transport.put('broken/kept.gpg', failing), (error) => error === broken);
      assert.ok((await readAll(await transport.get('broken/kept.gpg'))).equals(kept), 'the older version stays whole');
      await transport.put('broken/new.gpg', chunksOf(Buffer.from('second try')));
      assert.deepEqual((await transport.list('broken/')).map((entry) => entry.name), ['broken/kept.gpg', 'broken/new.gpg']);
    });

    it('refuses to store a file whose size is not the one expected', async () => {
      await assert.rejects(transport.put('sized/file', chunksOf(Buffer.alloc(10)), { expectedSize: 11 }), (error) =>
        assertGanymedeError(error, ExitCode.failed, /10 bytes, not the 11 expected/),
      );
      assert.equal(await transport.stat('sized/file'), undefined);
      assert.deepEqual(await transport.list('sized/'), []);
    });

    it('refuses names that could leave its directory, before any I/O', async () => {
      const bad = ['../escape', 'a/../../escape', '/etc/passwd', 'nul\0byte', '', 'a//b', './a', 'line\nbreak', 'upload.part'];
      for (const name of bad) {
        for (const call of [
          () => transport.put(name, chunksOf(Buffer.from('x'))),
          () => transport.stat(name),
          () => transport.get(name),
          () => transport.remove(name),
        ]) {
          await assert.rejects(call(), (error) => assertGanymedeError(error, ExitCode.refused, /refused transport file name/));
        }
      }
      await assert.rejects(transport.list('../'), (error) => assertGanymedeError(error, ExitCode.refused));
      await assert.rejects(transport.list('/abs'), (error) => assertGanymedeError(error, ExitCode.refused));
    });

    it('lists by prefix, sorted, across directories, and never a .part file', async () => {
      for (const name of ['prefix/b', 'prefix/a', 'prefix/sub/c', 'prefixed', 'other']) await transport.put(name, chunksOf(Buffer.from(name)));
      if (subject.localPath) {
        // What a put cut off by a lost connection leaves behind.
        await writeFile(subject.localPath('prefix/stale.part'), 'half');
      }
      assert.deepEqual((await transport.list('prefix/')).map((entry) => entry.name), ['prefix/a', 'prefix/b', 'prefix/sub/c']);
      assert.deepEqual((await transport.list('prefix')).map((entry) => entry.name), ['prefix/a', 'prefix/b', 'prefix/sub/c', 'prefixed']);
      assert.deepEqual((await transport.list('prefix/s')).map((entry) => entry.name), ['prefix/sub/c']);
      assert.deepEqual(await transport.list('nothing-here/'), []);
      const all = (await transport.list()).map((entry) => entry.name);
      assert.ok(all.includes('other') && all.includes('prefix/sub/c'));
      assert.ok(!all.some((name) => name.endsWith('.part')), `no .part in ${all.join(', ')}`);
    });

    it('stats a missing file as undefined, fails to get it, and removes idempotently', async () => {
      assert.equal(await transport.stat('missing/file'), undefined);
      await assert.rejects(transport.get('missing/file'), (error) => assertGanymedeError(error, ExitCode.failed, /no missing\/file/));
      await transport.remove('missing/file');
      await transport.put('missing/file', chunksOf(Buffer.from('here')));
      await transport.remove('missing/file');
      assert.equal(await transport.stat('missing/file'), undefined);
      if (subject.localPath) assert.equal(existsSync(subject.localPath('missing/file')), false);
    });

    it('works again after close()', async () => {
      await transport.put('reopen/file', chunksOf(Buffer.from('before')));
      await transport.close();
      assert.equal((await readAll(await transport.get('reopen/file'))).toString(), 'before');
    });

    it('names itself without secrets', () => {
      const address = transport.describe();
      assert.match(address, /^[a-z0-9]+:\/\//);
      assert.doesNotMatch(address, /PRIVATE KEY|password/i);
    });

    it('puts files side by side without mixing them up', async () => {
      const contents = Array.from({ length: 4 }, () => randomBytes(200_000));
      await Promise.all(contents.map((content, index) => transport.put(`parallel/${index}`, chunksOf(content, 16_384))));
      for (const [index, content] of contents.entries()) {
        assert.ok((await readAll(await transport.get(`parallel/${index}`))).equals(content), `parallel/${index}`);
      }
      if (subject.localPath) assert.deepEqual(readdirSync(path.dirname(subject.localPath('parallel/0'))).sort(), ['0', '1', '2', '3']);
    });
  });
}
