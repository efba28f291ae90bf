// The MongoDB of the test rig. With MONGODB_URI set, that server is used as it is. Otherwise a
// MongoDB-wire stand-in (mongo-stand-in.py: MockupDB + mongomock, Debian's packages; not MongoDB) is
// started on a free port of 127.0.0.1 for the calling test file, which stops it in `after`.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { BSON, type Document } from 'mongodb';

/** One command the stand-in received on a collection, from any client (the test's or a CLI it spawned). */
export interface RecordedCommand {
  /** The command as the driver named it: 'find', 'insert', 'update', 'delete', 'aggregate', 'findAndModify',
   * 'count', 'distinct', 'getMore', 'createIndexes', … */
  name: string;
  db: string;
  collection: string;
  /** update/delete: each statement's `q`; find: `filter`; count/distinct: `query`; findAndModify: `query`;
   * aggregate: its first stage's `$match`. `{}` where the command had none (it reaches every shard);
   * empty for commands that take no filter (insert, getMore, createIndexes, …). */
  filters: Document[];
  /** update: each statement's `upsert`; findAndModify: its `upsert`; empty for the others. */
  upserts: boolean[];
}

export interface StartMongoOptions {
  /** Record every command for commands() (the stand-in only; default true). */
  recordCommands?: boolean;
}

export interface TestMongo {
  /** A mongodb:// URI for the official driver. */
  uri: string;
  /** A fresh database name for one test: `gmdt_<label>_<random>`. */
  dbName(label: string): string;
  /** Stops the stand-in and waits for it to exit; a no-op for a server given by MONGODB_URI. */
  stop(): Promise<void>;
  /** True when this is the stand-in, which has no transactions and scans collections for every write. */
  standIn: boolean;
  /**
   * Every command on a collection the stand-in has answered so far, oldest first (filter by `db` for one
   * test's). Rejects when there is no record: a server given by MONGODB_URI (whose commands from other
   * processes this process cannot see) or a stand-in started with `recordCommands: false`.
   */
  commands(): Promise<RecordedCommand[]>;
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

function noRecord(why: string): () => Promise<RecordedCommand[]> {
  return () => Promise.reject(new Error(`test rig: no record of MongoDB commands: ${why}`));
}

export async function startMongo(options: StartMongoOptions = {}): Promise<TestMongo> {
  const given = process.env.MONGODB_URI;
  if (given) {
    const commands = noRecord('MONGODB_URI names a real server; only the stand-in records commands (unset MONGODB_URI)');
    return { uri: given, dbName: makeDbName, stop: async () => {}, standIn: false, commands };
  }
  return startStandIn(options.recordCommands ?? true);
}

async function readCommands(path: string): Promise<RecordedCommand[]> {
  const text = await readFile(path, 'utf8');
  // Relaxed Extended JSON: numbers come back as numbers, dates as Date, ObjectIds as ObjectId.
  return text.split('\n').filter((line) => line !== '').map((line) => BSON.EJSON.parse(line) as RecordedCommand);
}

async function startStandIn(recordCommands: boolean): Promise<TestMongo> {
  // --exit-on-stdin-eof: if this process dies without stop(), the closed pipe ends the stand-in too.
  const args = [standInScript, '0', '--exit-on-stdin-eof', ...(recordCommands ? ['--record-commands'] : [])];
  const child = spawn(systemPython, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-stderrTailChars);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { port, commandLog } = await waitForReady(child, () => stderr);
  child.stdout!.resume();

  // Let a test file that forgets stop() still end; stop() takes the reference back.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as Socket).unref();
  return {
    uri: `mongodb://127.0.0.1:${port}/?directConnection=true&serverSelectionTimeoutMS=5000`,
    dbName: makeDbName,
    standIn: true,
    // The stand-in removes its file when it exits, so this works until stop().
    commands: commandLog ? () => readCommands(commandLog) : noRecord('the stand-in was started with recordCommands: false'),
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

function waitForReady(child: ChildProcess, stderr: () => string): Promise<{ port: number; commandLog?: string }> {
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
      // Up to the newline: a chunk can end inside the port or the path.
      const ready = /^READY (\d+)(?: (\S+))?\n/m.exec(stdout);
      if (!ready) return;
      settle();
      resolve({ port: Number(ready[1]), commandLog: ready[2] });
    };
    const timer = setTimeout(() => fail(`did not print READY within ${readyTimeoutMs / 1000}s`), readyTimeoutMs);
    child.on('error', onError).on('exit', onExit);
    child.stdout!.setEncoding('utf8').on('data', onData);
  });
}
