// The rules of the agent's patience with the status API, without a server: how long it waits (never past
// the top of the next clock hour, when the next run may start and must find the host lock free), how each
// wait is drawn, and what it waits out (only an API that is down; an answer, never).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiUnavailable } from '../../src/api/client.js';
import { fullJitterDelayMs, PatienceExhausted, patienceUntil, withApiPatience } from '../../src/agent/api-patience.js';
import { refusedError } from '../../src/errors.js';

const at = (iso: string) => Date.parse(iso);
const down = () => new ApiUnavailable('cannot reach the status API at centre:8080: ECONNREFUSED', 'centre:8080', 'ECONNREFUSED', 'is it running?');

test('the patience runs from the start of the run, cut at the top of the next hour', () => {
  assert.deepEqual(patienceUntil(at('2026-11-24T10:05:00Z'), 20), { deadlineMs: at('2026-11-24T10:25:00Z'), limit: 'agent.api_patience_minutes 20' });
  assert.deepEqual(patienceUntil(at('2026-11-24T10:50:00Z'), 20), { deadlineMs: at('2026-11-24T11:00:00Z'), limit: 'the top of the hour, when the next run may start' });
  assert.equal(patienceUntil(at('2026-11-24T10:05:00Z'), 0.5).deadlineMs, at('2026-11-24T10:05:30Z'));
  assert.equal(patienceUntil(at('2026-11-24T10:05:00Z'), 0).deadlineMs, at('2026-11-24T10:05:00Z'));
});

test('each wait is drawn from 0 to the doubling bound, which stops at the cap', () => {
  assert.equal(fullJitterDelayMs(1, 1_000, 30_000, () => 0.999_999), 1_000);
  assert.equal(fullJitterDelayMs(3, 1_000, 30_000, () => 0.5), 2_000);
  assert.equal(fullJitterDelayMs(40, 1_000, 30_000, () => 0.999_999), 30_000);
  assert.equal(fullJitterDelayMs(5, 1_000, 30_000, () => 0), 0);
});

test('an API that is down is asked again until the deadline, one log line per wait, then PatienceExhausted', async () => {
  const lines: string[] = [];
  let calls = 0;
  // Each call takes 100 ms of this clock, whatever the machine's load: the third finds the deadline passed.
  const startMs = Date.UTC(2026, 10, 24, 10, 5);
  const now = () => startMs + calls * 100;
  await assert.rejects(
    withApiPatience('opening 2026-11-24T10', async () => {
      calls++;
      throw down();
    }, { deadlineMs: startMs + 300, now, limit: 'agent.api_patience_minutes 0.005', baseDelayMs: 20, maxDelayMs: 50, onRetry: (line) => lines.push(line) }),
    (error: unknown) => error instanceof PatienceExhausted && error.attempts === 3 && error.since.getTime() === startMs + 100 && error.limit === 'agent.api_patience_minutes 0.005',
  );
  assert.equal(calls, 3);
  assert.equal(lines.length, 2, 'one line per wait');
  for (const line of lines) assert.match(line, /^opening 2026-11-24T10: the status API at centre:8080 is unreachable \(ECONNREFUSED\); retrying in \d+\.\d s, giving up at 10:05:00 UTC$/);
});

test('an answer is never waited out: a refusal is thrown at the first call', async () => {
  let calls = 0;
  await assert.rejects(
    withApiPatience('closing', async () => {
      calls++;
      throw refusedError('the status API answered 409');
    }, { deadlineMs: Date.now() + 60_000, limit: 'x', onRetry: () => assert.fail('no retry') }),
    /answered 409/,
  );
  assert.equal(calls, 1);
});

test('the first failure lets the caller free what it holds, once; success after the API is back', async () => {
  let released = 0;
  let calls = 0;
  const result = await withApiPatience('opening', async () => (++calls < 3 ? Promise.reject(down()) : 'open'), {
    deadlineMs: Date.now() + 60_000,
    limit: 'x',
    baseDelayMs: 5,
    onRetry: () => undefined,
    onFirstFailure: () => void released++,
  });
  assert.deepEqual({ result, calls, released }, { result: 'open', calls: 3, released: 1 });
});
