// The retry wrapper, against a transport fake that fails on cue: no store can be made to fail this precisely.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { configError, failedError, GanymedeError, refusedError, unreachableError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { backoffDelayMs, isTransient, withRetry, type RetryOptions } from '../../src/transport/retry.js';
import type { PutSource, Transport } from '../../src/transport/transport.js';
import { chunksOf, readAll } from './conformance.js';

/** Fails each call with the next error of `failures`, then succeeds; records every call. */
class FlakyTransportFake implements Transport {
  calls: string[] = [];
  stored = new Map<string, Buffer>();

  constructor(private readonly failures: unknown[]) {}

  private async step(call: string): Promise<void> {
    this.calls.push(call);
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
  }

  async put(name: string, source: PutSource) {
    await this.step(`put ${name}`);
    const content = await readAll(source());
    this.stored.set(name, content);
    return { size: content.length };
  }
  async stat(name: string) {
    await this.step(`stat ${name}`);
    const content = this.stored.get(name);
    return content && { size: content.length, modifiedAt: new Date(0) };
  }
  async list(prefix = '') {
    await this.step(`list ${prefix}`);
    return [...this.stored].map(([name, content]) => ({ name, size: content.length, modifiedAt: new Date(0) }));
  }
  async get(name: string) {
    await this.step(`get ${name}`);
    return Readable.from([this.stored.get(name) ?? Buffer.alloc(0)]);
  }
  async remove(name: string) {
    await this.step(`remove ${name}`);
    this.stored.delete(name);
  }
  async close() {
    this.calls.push('close');
  }
  describe() {
    return 'fake://flaky';
  }
}

const lost = () => unreachableError('fake://flaky: could not store x: the connection was lost (Unexpected end event)');

/** Records the waits instead of sleeping; random() is fixed so delays are exact. */
function recording(options: RetryOptions = {}) {
  const waits: number[] = [];
  const lines: string[] = [];
  const retryOptions: RetryOptions = {
    baseDelayMs: 100,
    maxDelayMs: 1_000,
    maxAttempts: 5,
    random: () => 0.5,
    wait: async (delayMs) => void waits.push(delayMs),
    onRetry: (line) => lines.push(line),
    ...options,
  };
  return { waits, lines, retryOptions };
}

describe('retry wrapper', () => {
  it('retries lost connections with exponential backoff, one log line each, then succeeds', async () => {
    const fake = new FlakyTransportFake([lost(), lost(), lost()]);
    const { waits, lines, retryOptions } = recording();
    const transport = withRetry(fake, retryOptions);
    assert.deepEqual(await transport.put('x', chunksOf(Buffer.from('whole file'))), { size: 10 });
    assert.deepEqual(fake.calls, ['put x', 'put x', 'put x', 'put x']);
    // 100·2^(n-1), halved and topped up by half of it times random()=0.5.
    assert.deepEqual(waits, [75, 150, 300]);
    assert.equal(lines.length, 3);
    assert.equal(
      lines[0],
      'fake://flaky: put x failed (attempt 1 of 5), retrying in 75ms: fake://flaky: could not store x: the connection was lost (Unexpected end event)',
    );
    assert.match(lines[2]!, /attempt 3 of 5\), retrying in 300ms/);
  });

  it('re-opens the source on every attempt, so a retry starts from the first byte', async () => {
    /** Reads the whole source, then loses the connection twice. */
    class BreaksAfterReadingFake extends FlakyTransportFake {
      attempts = 0;
      override async put(_name: string, source: PutSource) {
        const content = await readAll(source());
        if (++this.attempts < 3) throw lost();
        return { size: content.length };
      }
    }
    const fake = new BreaksAfterReadingFake([]);
    let opened = 0;
    const content = Buffer.alloc(1_000, 7);
    const source: PutSource = () => {
      opened += 1;
      return chunksOf(content)();
    };
    assert.deepEqual(await withRetry(fake, recording().retryOptions).put('x', source), { size: 1_000 });
    assert.equal(opened, 3);
  });

  for (const [kind, error] of [
    ['a config error (wrong key)', configError('SFTP login as u@h:22 refused the private key /k')],
    ['a refused error (permission denied)', refusedError('fake://flaky: permission denied on /inbox/x.part')],
    ['a failed error (size mismatch)', failedError('fake://flaky: x.part holds 1 bytes after sending 2')],
    ['an error of the source, or a bug', new Error('the encryptor broke')],
  ] as const) {
    it(`never retries ${kind}`, async () => {
      const fake = new FlakyTransportFake([error]);
      const { waits, lines, retryOptions } = recording();
      await assert.rejects(withRetry(fake, retryOptions).stat('x'), (thrown) => thrown === error);
      assert.deepEqual(fake.calls, ['stat x']);
      assert.deepEqual(waits, []);
      assert.deepEqual(lines, []);
    });
  }

  it('gives up after maxAttempts with the last error, still unreachable, saying how many tries', async () => {
    const fake = new FlakyTransportFake(Array.from({ length: 10 }, lost));
    const { waits, retryOptions } = recording({ maxAttempts: 4 });
    await assert.rejects(withRetry(fake, retryOptions).list('in/'), (error) => {
      assert.ok(error instanceof GanymedeError);
      assert.equal(error.exitCode, ExitCode.unreachable);
      assert.match(error.message, /connection was lost \(Unexpected end event\) \(gave up after 4 attempts\)$/);
      assert.ok(isTransient(error.cause));
      return true;
    });
    assert.equal(fake.calls.length, 4);
    assert.equal(waits.length, 3);
  });

  it('with maxAttempts 1 tries once and passes the error on unchanged', async () => {
    const error = lost();
    const fake = new FlakyTransportFake([error]);
    await assert.rejects(withRetry(fake, recording({ maxAttempts: 1 }).retryOptions).remove('x'), (thrown) => thrown === error);
  });

  it('retries every operation but close, and passes describe through', async () => {
    const fake = new FlakyTransportFake([lost(), undefined, lost(), undefined, lost(), undefined, lost(), undefined, lost()]);
    const transport = withRetry(fake, recording().retryOptions);
    await transport.put('a', chunksOf(Buffer.from('a')));
    assert.equal((await transport.stat('a'))?.size, 1);
    assert.equal((await transport.list()).length, 1);
    assert.equal((await readAll(await transport.get('a'))).toString(), 'a');
    await transport.remove('a');
    await transport.close();
    assert.equal(transport.describe(), 'fake://flaky');
    assert.deepEqual(fake.calls, ['put a', 'put a', 'stat a', 'stat a', 'list ', 'list ', 'get a', 'get a', 'remove a', 'remove a', 'close']);
  });

  it('really waits, briefly, when no wait is injected', async () => {
    const fake = new FlakyTransportFake([lost(), lost()]);
    const started = performance.now();
    await withRetry(fake, { baseDelayMs: 4, maxDelayMs: 8 }).stat('x');
    const elapsedMs = performance.now() - started;
    // A lower bound only: a busy machine may take any time longer, and tests never assert on speed.
    assert.ok(elapsedMs >= 4, `${elapsedMs} ms`);
    assert.equal(fake.calls.length, 3, 'two retries, then the answer');
  });
});

describe('backoffDelayMs', () => {
  it('doubles from the base, caps at the maximum, and jitters only the upper half', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelayMs(attempt, 1_000, 10_000, () => 0)), [500, 1_000, 2_000, 4_000, 5_000, 5_000]);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelayMs(attempt, 1_000, 10_000, () => 0.999_999)), [1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelayMs(3, 1_000, 60_000);
      assert.ok(delay >= 2_000 && delay <= 4_000, String(delay));
    }
  });
});
