// The MongoDB of the test rig. With MONGODB_URI set, that server is used as it is. Otherwise a
// MongoDB-wire stand-in (mongo-stand-in.py: MockupDB + mongomock, Debian's packages; not MongoDB) is
// started on a free port of 127.0.0.1 for the calling test file, which stops it in `after`.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface TestMongo {
  /** A mongodb:// URI for the official driver. */
  uri: string;
  /** A fresh database name for one test: `gmdt_<label>_<random>`. */
  dbName(label: string): string;
  /** Stops the stand-in and waits for it to exit; a no-op for a server given by MONGODB_URI. */
  stop(): Promise<void>;
  /** True when this is the stand-in, which has no transactions and scans collections for every write. */
  standIn: boolean;
}

const standInScript = fileURLToPath(new URL('./mongo-stand-in.py', import.meta.url));
// Debian's python3-mockupdb and python3-mongomock import only into Debian's own Python, not a pyenv one.
const systemPython = '/usr/bin/python3';
const readyTimeoutMs = 15_000;
const stopTimeoutMs = 10_000;
const stderrTailChars = 4_000;

function makeDbName(label: string): string {
  return `gmdt_${label.replace(/[^a-z0-9]/gi, '').slice(0, 20)}_${randomBytes(4).toString('hex')}`;
}

export async function startMongo(): Promise<TestMongo> {
  const given = process.env.MONGODB_URI;
  if (given) return { uri: given, dbName: makeDbName, stop: async () => {}, standIn: false };
  return startStandIn();
}

async function startStandIn(): Promise<TestMongo> {
  // --exit-on-stdin-eof: if this process dies without stop(), the closed pipe ends the stand-in too.
  const child = spawn(systemPython, [standInScript, '0', '--exit-on-stdin-eof'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-stderrTailChars);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await waitForReady(child, () => stderr);
  child.stdout!.resume();

  // Let a test file that forgets stop() still end; stop() takes the reference back.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as Socket).unref();
  return {
    uri: `mongodb://127.0.0.1:${port}/?directConnection=true&serverSelectionTimeoutMS=5000`,
    dbName: makeDbName,
    standIn: true,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.ref();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

function waitForReady(child: ChildProcess, stderr: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    const settle = () => {
      clearTimeout(timer);
      child.off('error', onError).off('exit', onExit);
      child.stdout!.off('data', onData);
    };
    const fail = (why: string) => {
      settle();
      child.kill('SIGKILL');
      const output = stderr().trim();
      reject(new Error(`test rig: the MongoDB stand-in ${why}${output ? `:\n${output}` : ''}`));
    };
    const onError = (error: NodeJS.ErrnoException) =>
      fail(error.code === 'ENOENT'
        ? `could not start: ${systemPython} is missing (apt-get install python3-mockupdb python3-mongomock)`
        : `could not start: ${error.message}`);
    // A missing python3-mockupdb or python3-mongomock is named, with its apt-get line, on stderr.
    const onExit = (code: number | null, signal: string | null) =>
      fail(`exited (${signal ?? `code ${code}`}) before it was ready`);
    const onData = (chunk: string) => {
      stdout += chunk;
      const ready = /^READY (\d+)$/m.exec(stdout);
      if (!ready) return;
      settle();
      resolve(Number(ready[1]));
    };
    const timer = setTimeout(() => fail(`did not print READY within ${readyTimeoutMs / 1000}s`), readyTimeoutMs);
    child.on('error', onError).on('exit', onExit);
    child.stdout!.setEncoding('utf8').on('data', onData);
  });
}
