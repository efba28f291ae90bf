// The status API going away: status events wait on disk and are replayed, each stored exactly once, by
// the same reporter or the next run's. How `agent run` itself rides out an outage: api-patience.test.ts.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiClient } from '../../src/api/client.js';
import { EventReporter } from '../../src/agent/event-reporter.js';
import { createLogger } from '../../src/log.js';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { tempDir } from '../support/ganymede.js';
import { startApiOn, type ApiInstance } from './api-instance.js';
import { storedEvents } from './support.js';

const quietLog = createLogger('test-events');

describe('status events while the API is down', { timeout: 300_000 }, () => {
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
    const client = new ApiClient({ baseUrl: api.url, token: fixture.token, as: 'GEO afr', timeoutMs: 30_000 });
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
