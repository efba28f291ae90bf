// The alert webhook against a local HTTP receiver: once per new failure, once per recovery, retried
// by later ticks when the receiver is down, and never a second time for the same state.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { testCentre } from '../support/ganymede.js';
import { deliveredTransactions } from '../support/steps.js';
import { openStateDb } from '../../src/state/db.js';
import { tick } from '../../src/commands/jupiter/tick.js';

const received: Array<{ event: string; key: string; detail: string }> = [];
let answer = 200;
const receiver: Server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk: Buffer) => (body += chunk));
  request.on('end', () => {
    if (answer === 200) received.push(JSON.parse(body));
    response.writeHead(answer).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
const centre = await testCentre('webhook', { 'logging.level': 'error', 'alerts.webhook_url': url, 'site.data_dir': '/tmp' });
const db = await openStateDb(centre.loaded);
after(async () => {
  await db.end();
  await centre.dispose();
  receiver.close();
});

const run = () => tick({ loaded: centre.loaded, db, launch: () => ({ pid: undefined }) });

test('a failure is announced once, retried while the receiver fails, and its recovery once', async () => {
  const [txnId] = await deliveredTransactions(db, 1, 1);
  await db.query("UPDATE steps SET state = 'done' WHERE txn_id = ?", [txnId]);
  await run();
  assert.equal(received.length, 0, 'nothing failing, nothing sent');

  await db.query("UPDATE transactions SET state = 'failed', step = 'load', error = 'load failed 5 times; last: disk full' WHERE id = ?", [txnId]);
  answer = 503;
  await run();
  assert.equal(received.length, 0, 'the receiver refused it');
  answer = 200;
  await run();
  await run();
  assert.equal(received.length, 1, 'delivered once, by the next tick, and not again');
  assert.equal(received[0]!.event, 'failure');
  assert.equal(received[0]!.key, `txn:${txnId}`);
  assert.match(received[0]!.detail, /at load: load failed 5 times; last: disk full/);

  await db.query("UPDATE transactions SET state = 'done', error = NULL WHERE id = ?", [txnId]);
  await run();
  await run();
  assert.deepEqual(received.map((item) => item.event), ['failure', 'recovery']);
});
