// Running the same hour again: nothing to do (exit 10, nothing written) unless forced, which makes
// delivery 2 under its own name; --cycle runs an hour of the past.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runAgent, type AgentRunResult } from '../../src/commands/agent/run.js';
import { ExitCode } from '../../src/exit-codes.js';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { filesIn, inSource, isGanymedeError, sha256File, storedEvents, transactions, workDirOf } from './support.js';

const cycle = '2026-11-23T07';

/** Names, sizes and modification times: what "nothing new written" means for a directory. */
function snapshotDir(dir: string): string[] {
  return filesIn(dir).map((name) => {
    const info = statSync(join(dir, name));
    return `${name} ${info.size} ${info.mtimeMs}`;
  });
}

describe('agent run of an hour already delivered', { timeout: 300_000 }, () => {
  let fixture: AgentFixture;
  let first: AgentRunResult;

  before(async () => {
    fixture = await agentFixture('mea');
    await inSource(fixture, ['CREATE TABLE sites (id INT PRIMARY KEY, name VARCHAR(20))', "INSERT INTO sites VALUES (1, 'dubai'), (2, 'riyadh')"]);
    first = await runAgent({ loaded: fixture.config(), cycle, retryBaseDelayMs: 10 });
  });
  after(async () => {
    await fixture?.dispose();
  });

  test('--cycle runs that past hour: its name, its transaction', async () => {
    assert.equal(first.cycle, cycle);
    assert.equal(first.file.name, `mea_${cycle}_d1.tar.zst.gpg`);
    assert.deepEqual(
      (await transactions(fixture)).map((txn) => [txn.cycle, txn.state, txn.delivery]),
      [[cycle, 'delivered', 1]],
    );
  });

  test('a second run is nothing to do, and writes nothing: inbox, work dir, transaction and events unchanged', async () => {
    const before = { inbox: snapshotDir(fixture.inboxDir), work: snapshotDir(workDirOf(fixture)), txns: await transactions(fixture), events: await storedEvents(fixture, first.transactionId) };
    await assert.rejects(runAgent({ loaded: fixture.config(), cycle, retryBaseDelayMs: 10 }), isGanymedeError(ExitCode.nothingToDo, new RegExp(`${cycle} of GEO mea: `)));
    assert.deepEqual(snapshotDir(fixture.inboxDir), before.inbox);
    assert.deepEqual(snapshotDir(workDirOf(fixture)), before.work);
    assert.deepEqual(await transactions(fixture), before.txns);
    assert.deepEqual(await storedEvents(fixture, first.transactionId), before.events);
  });

  test('--force delivers again as delivery 2 under a _d2 name, keeping the first file', async () => {
    await inSource(fixture, ["INSERT INTO sites VALUES (3, 'doha')"]);
    const forced = await runAgent({ loaded: fixture.config(), cycle, force: true, retryBaseDelayMs: 10 });
    assert.equal(forced.file.name, `mea_${cycle}_d2.tar.zst.gpg`);
    assert.equal(forced.transactionId, first.transactionId, 'the same transaction, a new delivery');
    assert.equal(forced.rows, 3, 'what the source holds now');
    assert.deepEqual(filesIn(fixture.inboxDir), [first.file.name, forced.file.name]);
    const [txn] = await transactions(fixture);
    assert.deepEqual(
      { state: txn?.state, delivery: txn?.delivery, name: txn?.fileName, size: txn?.fileSize, sha256: txn?.fileSha256 },
      { state: 'delivered', delivery: 2, name: forced.file.name, size: forced.file.size, sha256: await sha256File(join(fixture.inboxDir, forced.file.name)) },
    );
    assert.equal(await sha256File(join(fixture.inboxDir, first.file.name)), first.file.sha256, 'delivery 1 untouched');
  });

  test('after the forced delivery, a plain run is again nothing to do', async () => {
    await assert.rejects(runAgent({ loaded: fixture.config(), cycle, retryBaseDelayMs: 10 }), isGanymedeError(ExitCode.nothingToDo));
    assert.equal(filesIn(fixture.inboxDir).length, 2);
  });

  test('--cycle that is not a UTC hour is a usage error before anything is opened', async () => {
    await assert.rejects(runAgent({ loaded: fixture.config(), cycle: '2026-11-23 07:00', retryBaseDelayMs: 10 }), isGanymedeError(ExitCode.usage, /not a UTC hour/));
    assert.equal((await transactions(fixture)).length, 1);
  });
});
