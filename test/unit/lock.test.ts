import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { acquireHostLock } from '../../src/lock.js';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';

test('a held host lock refuses a second holder with "already running"; released, it can be taken again', async () => {
  const scope = `test-${process.pid}-${Date.now()}`;
  const first = await acquireHostLock('agent', scope, 'the agent');
  await assert.rejects(acquireHostLock('agent', scope, 'the agent'), (error: unknown) => {
    assert.ok(error instanceof GanymedeError);
    assert.equal(error.exitCode, ExitCode.alreadyRunning);
    assert.match(error.message, /the agent is already running on this host/);
    return true;
  });
  const otherScope = await acquireHostLock('agent', `${scope}-other`, 'the agent');
  await otherScope.release();
  await first.release();
  const again = await acquireHostLock('agent', scope, 'the agent');
  await again.release();
});

test('a lock held by a process that was killed with SIGKILL is free at once (no stale lock)', async () => {
  const scope = `test-kill-${process.pid}-${Date.now()}`;
  const holder = execFile(process.execPath, [
    '--import', 'tsx', '--input-type=module', '-e',
    `const { acquireHostLock } = await import(${JSON.stringify(new URL('../../src/lock.ts', import.meta.url).href)});
     await acquireHostLock('agent', ${JSON.stringify(scope)}, 'the agent'); console.log('held'); setInterval(() => {}, 1000);`,
  ]);
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.on('data', (text: Buffer) => String(text).includes('held') && resolve());
    holder.once('exit', () => reject(new Error('the holder exited early')));
  });
  await assert.rejects(acquireHostLock('agent', scope, 'the agent'), /already running/);
  holder.kill('SIGKILL');
  await new Promise((resolve) => holder.once('exit', resolve));
  const taken = await acquireHostLock('agent', scope, 'the agent');
  await taken.release();
});
