// Stopping `ganymede api` (SIGTERM, here a stop signal the test controls): a request in flight completes,
// new connections are refused at once, idle keep-alive connections do not hold the stop up.
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { runApiServe } from '../../src/commands/api/serve.js';
import { testCentre, type TestCentre } from '../support/ganymede.js';
import { addGeo, captureLog, clientFor, cycleAt, type Reply, type TestGeo } from './support.js';

const adminToken = `admin_${randomBytes(24).toString('base64url')}`;
let centre: TestCentre;
const log = captureLog();

before(async () => {
  centre = await testCentre('drain', { 'api.listen': '127.0.0.1:0' }, { 'api.admin_token': adminToken });
});

after(async () => {
  await centre?.dispose();
});

interface Served {
  url: string;
  port: number;
  stop(): void;
  done: Promise<{ stoppedBy: string }>;
}

async function serve(): Promise<Served> {
  let stop!: () => void;
  const stopSignal = new Promise((resolve) => (stop = () => resolve('SIGTERM')));
  let listening!: (address: { host: string; port: number }) => void;
  const ready = new Promise<{ host: string; port: number }>((resolve) => (listening = resolve));
  // Idle keep-alive connections would stay open for 10 minutes: a stop that waited for them would not end in time.
  const done = runApiServe({ loaded: centre.loaded, stopSignal, onListening: listening, keepAliveTimeoutMs: 600_000 });
  const { host, port } = await Promise.race([ready, done.then(() => Promise.reject(new Error('the API stopped before listening')))]);
  return { url: `http://${host}:${port}`, port, stop, done };
}

/**
 * The server's end, or a failure if it is still running a minute after the stop: far beyond any busy machine's
 * delay, far short of the 10-minute keep-alive a stop that waited for idle connections would sit out.
 */
async function stoppedWithin(served: Served, stoppedAt: number): Promise<{ stoppedBy: string }> {
  const ended = await Promise.race([served.done, sleep(60_000).then(() => undefined)]);
  assert.ok(ended, `the server was still running ${Date.now() - stoppedAt} ms after the stop: it waits for a connection`);
  return ended;
}

/** Resolves true once a TCP connection to the port is refused, false if it is still accepted after waitMs. */
async function refusedWithin(port: number, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(false)));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    });
    if (refused) return true;
    await sleep(20);
  }
  return false;
}

/** Starts a POST whose body is sent in two halves; returns the reply and a function that sends the rest. */
function slowPost(url: string, token: string, body: string, agent: Agent | false): { reply: Promise<Reply>; finish(): void } {
  const bytes = Buffer.from(body);
  const half = Math.floor(bytes.length / 2);
  const outgoing = request(url, {
    method: 'POST',
    agent,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': String(bytes.length) },
  });
  const reply = new Promise<Reply>((resolve, reject) => {
    outgoing.on('response', (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, text, body: JSON.parse(text) }));
    });
    outgoing.on('error', reject);
  });
  outgoing.write(bytes.subarray(0, half));
  return { reply, finish: () => outgoing.end(bytes.subarray(half)) };
}

async function openTransaction(url: string, name: string, hour: number): Promise<{ geo: TestGeo; txnId: number }> {
  const geo = await addGeo(url, adminToken, name);
  const opened = await clientFor(url, geo.token).post(`/v1/geos/${name}/transactions`, { cycle: cycleAt(hour) });
  return { geo, txnId: opened.body.transaction.id };
}

const events = (prefix: string) => JSON.stringify({ events: Array.from({ length: 5 }, (_, i) => ({ key: `${prefix}-${i}`, at: '2026-01-01T00:00:00Z', phase: 'extract' })) });

/** Stops the server while a slow request is in flight, checking on the way that the stop waits for it. */
async function stopDuringSlowRequest(served: Served, name: string, agent: Agent | false): Promise<{ reply: Reply; stoppedAt: number }> {
  const { geo, txnId } = await openTransaction(served.url, name, 0);
  const slow = slowPost(`${served.url}/v1/transactions/${txnId}/events`, geo.token, events('slow'), agent);
  await sleep(150); // the server has the headers and half the body: it is waiting for the rest

  const stoppedAt = Date.now();
  served.stop();
  assert.equal(await refusedWithin(served.port, 60_000), true, 'new connections must be refused once stopping');
  let finished = false;
  void served.done.then(() => (finished = true));
  await sleep(100);
  assert.equal(finished, false, 'the stop must wait for the request in flight');

  slow.finish();
  const reply = await slow.reply;
  assert.equal(reply.status, 200, reply.text);
  assert.deepEqual(reply.body, { received: 5, stored: 5 }, 'the request was handled in full');
  return { reply, stoppedAt };
}

test('a request in flight at stop completes, new connections are refused, then the server stops', async () => {
  const served = await serve();
  try {
    const { stoppedAt } = await stopDuringSlowRequest(served, 'drain-a', false);
    assert.deepEqual(await stoppedWithin(served, stoppedAt), { stoppedBy: 'SIGTERM' });
  } finally {
    served.stop();
    await served.done.catch(() => undefined);
  }
});

test('the same over a keep-alive connection, as agents and fetch use', async () => {
  const served = await serve();
  const agent = new Agent({ keepAlive: true });
  try {
    await stopDuringSlowRequest(served, 'drain-b', agent);
    agent.destroy(); // see the next test: the server itself keeps this connection open
    assert.deepEqual(await served.done, { stoppedBy: 'SIGTERM' });
  } finally {
    agent.destroy();
    served.stop();
    await served.done.catch(() => undefined);
  }
});

test('a reply sent while stopping tells the client to close the connection', async () => {
  const served = await serve();
  const agent = new Agent({ keepAlive: true });
  try {
    const { reply } = await stopDuringSlowRequest(served, 'drain-c', agent);
    assert.equal(reply.headers.connection, 'close');
  } finally {
    agent.destroy();
    served.stop();
    await served.done.catch(() => undefined);
  }
});

test('an idle keep-alive connection does not hold the stop up', async () => {
  const served = await serve();
  const agent = new Agent({ keepAlive: true });
  try {
    const probe = await new Promise<number>((resolve, reject) => {
      request(`${served.url}/v1/health`, { agent }, (response) => (response.resume(), response.on('end', () => resolve(response.statusCode!)))).on('error', reject).end();
    });
    assert.equal(probe, 200);
    const stoppedAt = Date.now();
    served.stop();
    assert.deepEqual(await stoppedWithin(served, stoppedAt), { stoppedBy: 'SIGTERM' });
  } finally {
    agent.destroy();
  }
});

test('the API logged its stop and no error', () => {
  assert.ok(log.some((line) => /stopping \(SIGTERM\): finishing requests in flight/.test(line)));
  assert.deepEqual(
    log.filter((line) => / ERROR /.test(line)),
    [],
  );
});
