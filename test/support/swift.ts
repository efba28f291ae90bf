// The object store of the test rig: Debian's OpenStack Swift 2.30 as one node on 127.0.0.1 (proxy, object,
// container and account servers, memcached for tempauth), one per call, each from configs of its own in a
// fresh temp dir on free ports, so parallel test files never share one. The proxy runs tempauth, slo and
// s3api, so the same server answers swift:// (auth v1) and s3:// (signature v4 with the tempauth key).
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { swiftConfigs } from './swift-configs.js';

const run = promisify(execFile);
const python = '/usr/bin/python3';
const serverNames = ['account', 'container', 'object', 'proxy'] as const;
// A bound on waiting, not on speed: on two cores shared with a busy suite Swift has taken ~30 s to listen.
const readyTimeoutMs = 120_000;
const stopTimeoutMs = 5_000;
const keptLogLines = 200;
const account = 'test';
const user = 'tester';
const key = 'testing';
const tempUrlKey = 'rig-temp-url-key';

export interface SwiftServer {
  /** The tempauth v1 endpoint, `http://127.0.0.1:<port>/auth/v1.0`. */
  authUrl: string;
  /** `test:tester`, as tempauth (and s3api's access key) takes it. */
  user: string;
  key: string;
  /** The proxy's own address, `http://127.0.0.1:<port>`. */
  proxyUrl: string;
  /** The account's storage URL, `http://127.0.0.1:<port>/v1/AUTH_test`. */
  storageUrl: string;
  s3: { endpoint: string; accessKey: string; secretKey: string; region: string };
  /** The account's Temp-URL-Key (X-Account-Meta-Temp-URL-Key), set by the rig as an operator would. */
  tempUrlKey: string;
  /** Where the object server keeps its files. */
  deviceDir: string;
  /** Startup time of this rig, from the first config write until the store answered. */
  startupMs: number;
  /** The last log lines of the servers. */
  logs(): string;
  /** Stops every process by pid, waits for them, removes the temp dir. */
  stop(): Promise<void>;
}

const live = new Map<number, ChildProcess>();
// A test file that exits without stop() (an assertion in before(), --test-force-exit) must not leave servers.
process.once('exit', () => {
  for (const pid of live.keys()) signal(pid, 'SIGKILL');
});

export async function startSwift(): Promise<SwiftServer> {
  const started = Date.now();
  for (const binary of ['/usr/bin/swift-proxy-server', '/usr/bin/memcached']) {
    if (!existsSync(binary)) throw new Error(`test rig: ${binary} not found; run scripts/install-swift.sh as root`);
  }
  // A free port found by listening on 0 can be taken by another rig before a server binds it: try again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(started);
    } catch (error) {
      if (attempt >= 3 || !/Could not bind|Address already in use/.test((error as Error).message)) throw error;
    }
  }
}

async function startOnce(started: number): Promise<SwiftServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ganymede-swift-'));
  const children: ChildProcess[] = [];
  const logLines: string[] = [];
  const logs = () => logLines.join('\n');
  const stop = async () => {
    await killAndWait(children);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deviceDir = path.join(dir, 'devices', 'd1');
    await mkdir(deviceDir, { recursive: true });
    checkUserXattrs(deviceDir);
    const ports = await freePorts(5);
    const [memcachedPort, accountPort, containerPort, objectPort, proxyPort] = ports as [number, number, number, number, number];
    const configs = swiftConfigs({ dir, user: os.userInfo().username, memcachedPort, accountPort, containerPort, objectPort, proxyPort, account, tempauthUser: user, key });
    for (const [name, text] of Object.entries(configs)) await writeFile(path.join(dir, name), text);
    await buildRings(dir, { account: accountPort, container: containerPort, object: objectPort });

    children.push(launch('/usr/bin/memcached', ['-l', '127.0.0.1', '-p', String(memcachedPort), '-U', '0', '-m', '16', '-u', os.userInfo().username], logLines));
    for (const name of serverNames) children.push(launch(`/usr/bin/swift-${name}-server`, [path.join(dir, `${name}-server.conf`), '--verbose'], logLines));

    const proxyUrl = `http://127.0.0.1:${proxyPort}`;
    const authUrl = `${proxyUrl}/auth/v1.0`;
    await waitUntilListening(ports, children, logs);
    await waitUntilReady(authUrl, `${account}:${user}`, key, children, logs);
    await setTempUrlKey(authUrl, `${account}:${user}`, key, tempUrlKey);
    return {
      authUrl,
      user: `${account}:${user}`,
      key,
      proxyUrl,
      storageUrl: `${proxyUrl}/v1/AUTH_${account}`,
      s3: { endpoint: proxyUrl, accessKey: `${account}:${user}`, secretKey: key, region: 'us-east-1' },
      tempUrlKey,
      deviceDir,
      startupMs: Date.now() - started,
      logs,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Swift keeps an object's metadata in user xattrs; without them every PUT fails with a 507. */
function checkUserXattrs(dir: string): void {
  const probe = `import os, sys\np = os.path.join(sys.argv[1], '.xattr-probe')\nopen(p, 'w').close()\nos.setxattr(p, 'user.swift.probe', b'1')\nos.remove(p)\n`;
  const result = spawnSync(python, ['-c', probe, dir], { encoding: 'utf8' });
  if (result.status !== 0) {
    const why = (result.stderr || `exit ${result.status}`).trim().split('\n').at(-1);
    throw new Error(`test rig: ${dir} does not take user xattrs, which Swift needs (${why}); set TMPDIR to a filesystem that does (ext4, xfs, tmpfs on Linux ≥ 6.6)`);
  }
}

/** All three rings in one Python process: nine swift-ring-builder calls take seconds longer. */
async function buildRings(dir: string, ports: Record<'account' | 'container' | 'object', number>): Promise<void> {
  const script = [
    'import json, sys',
    'from swift.common.ring import RingBuilder',
    'dir, ports = sys.argv[1], json.loads(sys.argv[2])',
    'for name, port in ports.items():',
    '    builder = RingBuilder(6, 1, 1)',
    "    builder.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': port, 'device': 'd1', 'weight': 100})",
    '    builder.rebalance()',
    "    builder.get_ring().save(f'{dir}/{name}.ring.gz')",
  ].join('\n');
  await run(python, ['-c', script, dir, JSON.stringify(ports)]);
}

function launch(file: string, args: string[], lines: string[]): ChildProcess {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const name = path.basename(file);
  child.on('error', (error) => lines.push(`${name}: spawn failed: ${error.message}`));
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      if (lines.push(`${name}: ${line}`) > keptLogLines) lines.shift();
    });
  }
  if (child.pid) live.set(child.pid, child);
  return child;
}

/**
 * Every backend must listen before the proxy is asked anything: a node the proxy cannot reach counts
 * as an error, and a few of those shun it for a minute.
 */
async function waitUntilListening(ports: number[], children: ChildProcess[], logs: () => string): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  const pending = new Set(ports);
  while (pending.size > 0) {
    checkAlive(children, logs);
    if (Date.now() > deadline) throw rigFailure(`left ports ${[...pending].join(', ')} closed for ${readyTimeoutMs / 1000}s`, logs);
    for (const port of [...pending]) if (await accepts(port)) pending.delete(port);
    if (pending.size > 0) await sleep(50);
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

const rigFailure = (why: string, logs: () => string) => new Error(`test rig: Swift ${why}; its last log lines:\n${logs().split('\n').slice(-30).join('\n')}`);

function checkAlive(children: ChildProcess[], logs: () => string): void {
  const exited = children.find((child) => !isRunning(child));
  if (exited) throw rigFailure(`${exited.spawnfile} exited (${exited.exitCode ?? exited.signalCode})`, logs);
}

/** Ready when a token is issued and an object can be written and read through every server. */
async function waitUntilReady(authUrl: string, authUser: string, authKey: string, children: ChildProcess[], logs: () => string): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    checkAlive(children, logs);
    try {
      const auth = await fetch(authUrl, { headers: { 'X-Auth-User': authUser, 'X-Auth-Key': authKey } });
      if (auth.status !== 200) throw new Error(`auth answered ${auth.status}`);
      const storageUrl = auth.headers.get('x-storage-url')!;
      const headers = { 'X-Auth-Token': auth.headers.get('x-auth-token')! };
      for (const [method, url] of [
        ['PUT', `${storageUrl}/rig-ready`],
        ['PUT', `${storageUrl}/rig-ready/probe`],
        ['GET', `${storageUrl}/rig-ready/probe`],
        ['DELETE', `${storageUrl}/rig-ready/probe`],
        ['DELETE', `${storageUrl}/rig-ready`],
      ] as const) {
        const response = await fetch(url, { method, headers, body: method === 'PUT' && url.endsWith('probe') ? 'ok' : undefined });
        await response.arrayBuffer();
        if (response.status >= 300) throw new Error(`${method} ${url} answered ${response.status}`);
      }
      return;
    } catch (error) {
      last = (error as Error).message;
      await sleep(100);
    }
  }
  throw rigFailure(`did not answer within ${readyTimeoutMs / 1000}s (${last})`, logs);
}

/** What `swift post -m Temp-URL-Key:…` does: the key TempURLs of this account are signed with. */
export async function setTempUrlKey(authUrl: string, authUser: string, authKey: string, value: string): Promise<void> {
  const auth = await fetch(authUrl, { headers: { 'X-Auth-User': authUser, 'X-Auth-Key': authKey } });
  await auth.arrayBuffer();
  const response = await fetch(auth.headers.get('x-storage-url')!, { method: 'POST', headers: { 'X-Auth-Token': auth.headers.get('x-auth-token')!, 'X-Account-Meta-Temp-URL-Key': value } });
  await response.arrayBuffer();
  if (response.status >= 300) throw new Error(`test rig: setting the account's Temp-URL-Key answered ${response.status}`);
}

async function freePorts(count: number): Promise<number[]> {
  // All held open together, so one call never hands out the same port twice.
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}

const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

async function killAndWait(children: ChildProcess[]): Promise<void> {
  const running = children.filter((child) => child.pid && isRunning(child));
  for (const child of running) signal(child.pid!, 'SIGTERM');
  const deadline = Date.now() + stopTimeoutMs;
  while (running.some(isRunning) && Date.now() < deadline) await sleep(20);
  for (const child of running.filter(isRunning)) signal(child.pid!, 'SIGKILL');
  while (running.some(isRunning)) await sleep(20);
  for (const child of children) if (child.pid) live.delete(child.pid);
}
