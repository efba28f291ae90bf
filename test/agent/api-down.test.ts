// The status API going away: status events wait on disk and are replayed, each stored exactly once, by
// the same reporter or the next run's; an API unreachable at the start fails the run (exit 4) after its
// retries, without writing anything to the inbox.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient } from '../../src/api/client.js';
import { EventReporter } from '../../src/agent/event-reporter.js';
import { runApiServe } from '../../src/commands/api/serve.js';
import { runAgent } from '../../src/commands/agent/run.js';
import { ExitCode } from '../../src/exit-codes.js';
import { createLogger } from '../../src/log.js';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { tempDir, testConfig } from '../support/ganymede.js';
import { mysqlUrlFor } from '../support/mysql.js';
import { createBigTable, filesIn, isGanymedeError, storedEvents, transactions, workDirOf } from './support.js';

interface ApiInstance {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Another `ganymede api` over the fixture's database, on a given port (0: any), stoppable and restartable. */
async function startApiOn(fixture: AgentFixture, port: number): Promise<ApiInstance> {
  const loaded = testConfig({ 'mysql.url': mysqlUrlFor(fixture.api.database), 'api.listen': `127.0.0.1:${port}`, 'logging.level': 'error' }, { 'api.admin_token': fixture.api.adminToken });
  let stop!: () => void;
  const stopSignal = new Promise((resolve) => (stop = () => resolve('test')));
  let listening!: (port: number) => void;
  const ready = new Promise<number>((resolve) => (listening = resolve));
  const served = runApiServe({ loaded, stopSignal, onListening: (address) => listening(address.port) });
  const bound = await Promise.race([ready, served.then(() => Promise.reject(new Error('the API stopped before listening')))]);
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    async stop() {
      stop();
      await served;
    },
  };
}

const quietLog = createLogger('test-events');

/** A port nothing listens on (fetch refuses some, like 1, before connecting: not what this tests). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('status events while the API is down', { timeout: 120_000 }, () => {
  let fixture: AgentFixture;
  let api: ApiInstance;
  const dir = tempDir('agent-events');
  let txnId: number;

  before(async () => {
    fixture = await agentFixture('afr');
    api = await startApiOn(fixture, 0);
    const client = new ApiClient({ baseUrl: fixture.api.url, token: fixture.token, as: 'GEO afr' });
    txnId = (await client.openTransaction('afr', '2026-11-21T10')).transaction.id;
  });
  after(async () => {
    await api?.stop();
    await fixture?.dispose();
    dir.remove();
  });

  test('buffered through a stop and a restart on the same port, then sent by the next reporter: every event stored once', async () => {
    const bufferFile = join(dir.path, 'events.jsonl');
    const client = new ApiClient({ baseUrl: api.url, token: fixture.token, as: 'GEO afr', timeoutMs: 2_000 });
    const reporterFor = () => new EventReporter({ bufferFile, send: (id, batch) => client.postEvents(id, batch), log: quietLog, flushEveryMs: 3_600_000 });
    const report = (reporter: EventReporter, from: number, count: number) => {
      for (let n = from; n < from + count; n++) reporter.report(txnId, { level: 'info', phase: 'extracting', rows: n, message: `event ${n}` });
    };

    const first = reporterFor();
    report(first, 0, 5);
    assert.equal(await first.flush(true), true, 'sent while the API is up');
    assert.equal(first.unsent, 0);

    await api.stop();
    report(first, 5, 7);
    assert.equal(await first.flush(true), false, 'the API is down');
    assert.equal(first.unsent, 7);
    assert.equal(await first.close(), false, 'the run ends with events unsent');
    assert.equal(readFileSync(bufferFile, 'utf8').trim().split('\n').length, 7, 'kept on disk');

    api = await startApiOn(fixture, api.port);
    const next = reporterFor();
    assert.equal(next.unsent, 7, 'the next run finds them');
    report(next, 12, 3);
    assert.equal(await next.close(), true);
    assert.equal(readFileSync(bufferFile, 'utf8'), '', 'nothing left to send');

    const stored = await storedEvents(fixture, txnId);
    assert.deepEqual(stored.map((event) => event.message), Array.from({ length: 15 }, (_, n) => `event ${n}`));
    assert.equal(new Set(stored.map((event) => event.key)).size, 15, 'each key once');
  });

  test('a batch sent again after a crash before the buffer was trimmed is not stored twice', async () => {
    const bufferFile = join(dir.path, 'replay.jsonl');
    const client = new ApiClient({ baseUrl: api.url, token: fixture.token, as: 'GEO afr' });
    const reporter = new EventReporter({ bufferFile, send: (id, batch) => client.postEvents(id, batch), log: quietLog, flushEveryMs: 3_600_000 });
    for (let n = 0; n < 4; n++) reporter.report(txnId, { level: 'debug', phase: 'replayed', message: `replay ${n}` });
    copyFileSync(bufferFile, `${bufferFile}.as-it-was`);
    assert.equal(await reporter.close(), true);
    // The process "died" after the API stored the batch but before the buffer was rewritten.
    copyFileSync(`${bufferFile}.as-it-was`, bufferFile);
    const again = new EventReporter({ bufferFile, send: (id, batch) => client.postEvents(id, batch), log: quietLog, flushEveryMs: 3_600_000 });
    assert.equal(again.unsent, 4);
    assert.equal(await again.close(), true);
    const replayed = (await storedEvents(fixture, txnId)).filter((event) => event.phase === 'replayed');
    assert.deepEqual(replayed.map((event) => event.message), ['replay 0', 'replay 1', 'replay 2', 'replay 3']);
  });
});

describe('agent run without the status API', { timeout: 120_000 }, () => {
  let fixture: AgentFixture;

  before(async () => {
    fixture = await agentFixture('ind');
    await createBigTable(fixture, 19, 'api-down');
  });
  after(async () => {
    await fixture?.dispose();
  });

  test('unreachable at the start: exit 4 after its retries, nothing in the inbox, nothing opened', async () => {
    const closedPort = await freePort();
    const loaded = fixture.config({ 'api.url': `http://127.0.0.1:${closedPort}` });
    await assert.rejects(
      runAgent({ loaded, cycle: '2026-11-21T11', retryBaseDelayMs: 10 }),
      isGanymedeError(ExitCode.unreachable, new RegExp(`cannot reach the status API at 127\\.0\\.0\\.1:${closedPort}: ECONNREFUSED \\(gave up after 4 attempts\\)`)),
    );
    assert.deepEqual(filesIn(fixture.inboxDir), []);
    assert.deepEqual(filesIn(workDirOf(fixture)).filter((name) => name !== 'events.jsonl'), []);
    assert.deepEqual(await transactions(fixture), []);
  });

  test('gone after the open: the run fails without closing; the next run delivers and every event of both runs is stored once', async () => {
    const cycle = '2026-11-21T12';
    let api = await startApiOn(fixture, 0);
    const loaded = fixture.config({ 'api.url': api.url });
    const run = runAgent({ loaded, cycle, retryBaseDelayMs: 10 });
    run.catch(() => undefined);
    // The transaction is opened before the snapshot is read; the run then needs seconds for 500k rows.
    while ((await transactions(fixture)).length === 0) await sleep(20);
    await api.stop();
    await assert.rejects(run, isGanymedeError(ExitCode.unreachable, /cannot reach the status API at .*: ECONNREFUSED \(gave up after 8 attempts\)/));
    const [left] = await transactions(fixture);
    assert.equal(left?.state, 'open', 'not delivered: the centre does not take the file');
    assert.equal(left?.fileName, null);

    api = await startApiOn(fixture, api.port);
    try {
      const result = await runAgent({ loaded, cycle, retryBaseDelayMs: 10 });
      assert.equal(result.transactionId, left?.id);
      const [txn] = await transactions(fixture);
      assert.equal(txn?.state, 'delivered');
      assert.deepEqual(filesIn(fixture.inboxDir), [result.file.name]);
    } finally {
      await api.stop();
    }
    const events = await storedEvents(fixture, left!.id);
    const count = (phase: string) => events.filter((event) => event.phase === phase).length;
    assert.deepEqual(
      { opened: count('opened'), extracted: count('extracted'), delivered: count('delivered'), failed: count('failed'), closed: count('closed') },
      { opened: 2, extracted: 2, delivered: 2, failed: 1, closed: 1 },
      events.map((event) => event.phase).join(' '),
    );
    assert.equal(new Set(events.map((event) => event.key)).size, events.length, 'no event stored twice');
    assert.equal(readFileSync(join(workDirOf(fixture), 'events.jsonl'), 'utf8'), '', 'the buffer is empty');
  });
});
