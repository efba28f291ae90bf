// A whole centre on this machine, set up as an operator would: a config file (0600 secret files beside
// it), the Ganymede database migrated, the status API in this process, the MongoDB-wire stand-in (or
// MONGODB_URI), the centre's keys, and GEOs registered through the API, each with a Cloud Control source
// database and an agent config file delivering to the centre's inbox via file://. Workers launched by
// the tick are separate processes of the built CLI (bin/ganymede → dist/): they read the config file.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import mysqlPromise from 'mysql2/promise';
import type mysql from 'mysql2/promise';
import { MongoClient, type Db as MongoDb } from 'mongodb';
import { generateKeyPair } from '../../src/openpgp/keys.js';
import { loadConfig, type LoadedConfig } from '../../src/config/load.js';
import { runDbMigrate } from '../../src/commands/db/migrate.js';
import { runApiServe } from '../../src/commands/api/serve.js';
import { runAgent, type AgentRunResult } from '../../src/commands/agent/run.js';
import { configureLogging } from '../../src/log.js';
import { scratchSchema } from '../../src/worker/paths.js';
import { openStateDb, type Db } from '../../src/state/db.js';
import { mysqlOptions, mysqlPasswordForTests, mysqlUrlFor, testDatabases, type TestDatabases } from './mysql.js';
import { execa } from 'execa';
import { startMongo, type TestMongo } from './mongo.js';
import { ganymedeBin, runCli, type CliRun } from './cli.js';
import { startSshd, type SshdServer } from './sshd.js';
import { findFreePort } from './net.js';
import { tempDir, writePrivateFile } from './ganymede.js';

export interface CentreGeo {
  name: string;
  token: string;
  sourceDatabase: string;
  /** The agent's config file. */
  configPath: string;
  /** `<centre data_dir>/inbox/<geo>`: where the agent delivers and decrypt looks. */
  inboxDir: string;
  keys: { privateFile: string; publicFile: string; privateArmored: string; publicArmored: string; fingerprint: string };
  loaded(): LoadedConfig;
  /** `agent run` for one hour, in this process. */
  deliver(cycle: string): Promise<AgentRunResult>;
}

export interface CentreOptions {
  /** Dotted centre settings written into the config file, e.g. `{ 'centre.lease_ms': 1500 }`. */
  settings?: Record<string, unknown>;
  /** A MongoDB to use instead of a stand-in of its own (the caller stops it). */
  mongoUri?: string;
  /** Glassbeam's SFTP inbox on a local sshd, so that a cycle's send can succeed. */
  glassbeam?: boolean;
  /** Dotted settings for every GEO's agent config, over the fixture's own (e.g. `{ 'agent.inbox': 'api' }`). */
  agentSettings?: Record<string, unknown>;
}

export interface Centre {
  dir: string;
  dataDir: string;
  configPath: string;
  database: string;
  mongoUri: string;
  mongoDatabase: string;
  apiUrl: string;
  adminToken: string;
  /** The sshd standing in for Glassbeam, with `glassbeam: true`. */
  glassbeam: SshdServer | undefined;
  keys: { privateFile: string; publicFile: string; publicArmored: string; privateArmored: string; fingerprint: string };
  geos: Map<string, CentreGeo>;
  loaded: LoadedConfig;
  /** The Ganymede database (a pool, closed by dispose). */
  db: Db;
  /** A root connection to the rig's MySQL without default database. */
  admin(): Promise<mysql.Connection>;
  /** A fresh source database holding what `statements` make. */
  addSource(label: string, statements: string[]): Promise<string>;
  /** Registers a GEO through the API; its agent reads `source` (a database of addSource). */
  addGeo(name: string, source: string): Promise<CentreGeo>;
  /** The built CLI with this centre's config file. */
  cli(args: string[], timeoutMs?: number): Promise<CliRun>;
  /** The same, in the background: `kill()` stops it (dispose kills what is still running). */
  startCli(args: string[], timeoutMs?: number): { done: Promise<CliRun>; kill(): void };
  warehouse(): Promise<MongoDb>;
  /** Where decrypt, load and clean keep a transaction's files and data; `delivery` defaults to 1. */
  paths: {
    inbox(geo: string): string;
    quarantine(geo: string): string;
    work(txnId: number, delivery?: number): string;
    scratchSchema(txnId: number, delivery?: number): string;
  };
  dispose(): Promise<void>;
}

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
let centresStarted = 0;

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
  node[parts.at(-1)!] = value;
}

function nested(settings: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(settings)) setPath(out, key, value);
  return out;
}


/** Workers run the built CLI while this process runs src/ through tsx: both must be the same code. */
function assertBuiltCliIsCurrent(): void {
  const built = join(projectRoot, 'dist', 'main.js');
  if (!existsSync(built)) throw new Error('test rig: the CLI is not built; run `npm run build` first (the tick launches workers from bin/ganymede → dist/)');
  const newest = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((entry) => (entry.isDirectory() ? newest(join(dir, entry.name)) : entry.name.endsWith('.ts') ? statSync(join(dir, entry.name)).mtimeMs : 0)));
  if (newest(join(projectRoot, 'src')) > statSync(built).mtimeMs) {
    throw new Error('test rig: src/ changed after the last build; run `npm run build` (the tick launches workers from bin/ganymede → dist/)');
  }
}

/** Reads a config file as the CLI would, ignoring this process's GANYMEDE_* environment. */
function loadFile(path: string, overrides: Record<string, unknown> = {}): LoadedConfig {
  return loadConfig({ configPath: path, env: {}, overrides });
}

export async function startCentre(options: CentreOptions = {}): Promise<Centre> {
  assertBuiltCliIsCurrent();
  const work = tempDir('centre');
  mkdirSync(join(work.path, 'data', 'inbox'), { recursive: true, mode: 0o700 });
  const databases: TestDatabases = await testDatabases();
  const database = await databases.create('centre');
  const started = await Promise.allSettled([options.mongoUri ? undefined : startMongo(), options.glassbeam ? startSshd() : undefined]);
  const [ownMongo, glassbeam] = started.map((result) => (result.status === 'fulfilled' ? result.value : undefined)) as [TestMongo | undefined, SshdServer | undefined];
  const abandon = async (error: unknown): Promise<never> => {
    await Promise.all([ownMongo?.stop(), glassbeam?.stop(), databases.dropAll()]);
    work.remove();
    throw error;
  };
  const failedStart = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failedStart) await abandon(failedStart.reason);
  try {
    return await setUpCentre({ options, work, databases, database, ownMongo, glassbeam });
  } catch (error) {
    return abandon(error);
  }
}

interface Started {
  options: CentreOptions;
  work: { path: string; remove(): void };
  databases: TestDatabases;
  database: string;
  ownMongo: TestMongo | undefined;
  glassbeam: SshdServer | undefined;
}

async function setUpCentre({ options, work, databases, database, ownMongo, glassbeam }: Started): Promise<Centre> {
  const dir = work.path;
  const dataDir = join(dir, 'data');
  const mongoUri = options.mongoUri ?? ownMongo!.uri;
  const mongoDatabase = `gmdt_wh_${randomBytes(4).toString('hex')}`;
  const generated = await generateKeyPair({ name: 'centre' });
  const keys = {
    privateFile: writePrivateFile(join(dir, 'centre.key.asc'), generated.privateKeyArmored),
    publicFile: writePrivateFile(join(dir, 'centre.pub.asc'), generated.publicKeyArmored),
    privateArmored: generated.privateKeyArmored,
    publicArmored: generated.publicKeyArmored,
    fingerprint: generated.fingerprint,
  };
  const adminToken = `admin_${randomBytes(24).toString('base64url')}`;
  const port = await findFreePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const password = mysqlPasswordForTests();
  // Loads run as a user of their own with rights on the scratch schemas only, as README says to set it up.
  const scratch = await databases.createScratchUser();
  const settings: Record<string, unknown> = {
    'site.name': 'centre-test',
    'site.data_dir': dataDir,
    'logging.level': 'info',
    'mysql.url': mysqlUrlFor(database),
    ...(password ? { 'mysql.password_file': writePrivateFile(join(dir, 'mysql.password'), password) } : {}),
    'centre.scratch_mysql_url': scratch.url,
    'centre.scratch_mysql_password_file': writePrivateFile(join(dir, 'scratch.password'), scratch.password),
    'mongodb.url': mongoUri,
    'mongodb.database': mongoDatabase,
    // A MongoDB that is down is reported after this long instead of the default 10 s.
    'mongodb.connect_timeout_ms': 3000,
    'api.listen': `127.0.0.1:${port}`,
    'api.url': apiUrl,
    'api.admin_token_file': writePrivateFile(join(dir, 'admin.token'), adminToken),
    'centre.private_key_file': keys.privateFile,
    // The tests' fixed hours lie further back than a GEO may open by default (centre.max_backfill_hours, 72).
    'centre.max_backfill_hours': 1_000_000,
    ...(glassbeam ? { 'glassbeam.url': `sftp://${glassbeam.username}@127.0.0.1:${glassbeam.port}${glassbeam.root}`, 'glassbeam.key_file': glassbeam.privateKeyPath } : {}),
    ...options.settings,
  };
  const configPath = writePrivateFile(join(dir, 'centre.json'), `${JSON.stringify(nested(settings), null, 2)}\n`);
  const loaded = loadFile(configPath);
  await runDbMigrate({ loaded });
  const db = await openStateDb(loaded);
  // Scratch schemas carry a hash of the database name; distinct id ranges per centre also keep logs apart.
  await db.query(`ALTER TABLE transactions AUTO_INCREMENT = ${1_000_000 + (process.pid % 100_000) * 10_000 + (centresStarted++ % 10) * 1000}`);

  // The API in this process, quiet: the workers' logs (level info) go to their own files.
  configureLogging({ level: 'warn', format: 'text' });
  let stopApi!: () => void;
  const stopSignal = new Promise((resolve) => (stopApi = () => resolve('test')));
  let listening!: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  const served = runApiServe({ loaded: loadFile(configPath, { 'logging.level': 'warn' }), stopSignal, onListening: () => listening() });
  await Promise.race([ready, served.then(() => Promise.reject(new Error('the API stopped before listening')))]);

  let client: MongoClient | undefined;
  const background = new Set<() => void>();
  const geos = new Map<string, CentreGeo>();

  const centre: Centre = {
    dir,
    dataDir,
    configPath,
    database,
    mongoUri,
    mongoDatabase,
    apiUrl,
    adminToken,
    glassbeam,
    keys,
    geos,
    loaded,
    db,
    admin: () => databases.admin(),
    async addSource(label, statements) {
      const name = await databases.create(label);
      const conn = await mysqlPromise.createConnection(mysqlOptions(name));
      try {
        for (const statement of statements) await conn.query(statement);
      } finally {
        await conn.end();
      }
      return name;
    },
    async addGeo(name, source) {
      const pair = await generateKeyPair({ name });
      const added = await fetch(`${apiUrl}/v1/geos`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name, publicKey: pair.publicKeyArmored }),
      });
      if (added.status !== 201) throw new Error(`adding GEO ${name} failed: ${added.status} ${await added.text()}`);
      const token = ((await added.json()) as { token: string }).token;
      const geoDir = join(dir, 'geos', name);
      mkdirSync(geoDir, { recursive: true, mode: 0o700 });
      const inboxDir = join(dataDir, 'inbox', name);
      mkdirSync(inboxDir, { recursive: true, mode: 0o700 });
      const geoKeys = {
        privateFile: writePrivateFile(join(geoDir, `${name}.key.asc`), pair.privateKeyArmored),
        publicFile: writePrivateFile(join(geoDir, `${name}.pub.asc`), pair.publicKeyArmored),
        privateArmored: pair.privateKeyArmored,
        publicArmored: pair.publicKeyArmored,
        fingerprint: pair.fingerprint,
      };
      const agentSettings = {
        'site.name': `${name}-host`,
        'site.data_dir': geoDir,
        'logging.level': 'warn',
        'api.url': apiUrl,
        'agent.geo': name,
        'agent.token_file': writePrivateFile(join(geoDir, 'token'), token),
        'agent.source.url': mysqlUrlFor(source),
        ...(password ? { 'agent.source.password_file': writePrivateFile(join(geoDir, 'source.password'), password) } : {}),
        'agent.signing_key_file': geoKeys.privateFile,
        'agent.centre_public_key_file': keys.publicFile,
        'agent.inbox': `file://${inboxDir}`,
        'agent.work_dir': join(geoDir, 'agent'),
        ...options.agentSettings,
      };
      const configPathOfGeo = writePrivateFile(join(geoDir, 'agent.json'), `${JSON.stringify(nested(agentSettings), null, 2)}\n`);
      const geo: CentreGeo = {
        name,
        token,
        sourceDatabase: source,
        configPath: configPathOfGeo,
        inboxDir,
        keys: geoKeys,
        loaded: () => loadFile(configPathOfGeo),
        deliver: (cycle) => runAgent({ loaded: loadFile(configPathOfGeo), cycle, retryBaseDelayMs: 10 }),
      };
      geos.set(name, geo);
      return geo;
    },
    cli: (args, timeoutMs = 180_000) => runCli(['--config', configPath, ...args], {}, { timeoutMs }),
    startCli(args, timeoutMs = 180_000) {
      // As runCli does it (only our GANYMEDE_* environment), with the process at hand to kill.
      const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('GANYMEDE_')));
      const child = execa(ganymedeBin, ['--config', configPath, ...args], { env: { ...env, NO_COLOR: '1' }, extendEnv: false, reject: false, timeout: timeoutMs, stdin: 'ignore' });
      const kill = () => void child.kill('SIGKILL');
      background.add(kill);
      const done = child.then((result) => ({ code: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) }));
      void done.finally(() => background.delete(kill));
      return { done, kill };
    },
    async warehouse() {
      client ??= await new MongoClient(mongoUri, { serverSelectionTimeoutMS: 5000 }).connect();
      return client.db(mongoDatabase);
    },
    paths: {
      inbox: (geo) => join(dataDir, 'inbox', geo),
      quarantine: (geo) => join(dataDir, 'quarantine', geo),
      work: (txnId, delivery = 1) => join(dataDir, 'work', `txn-${txnId}-d${delivery}`),
      scratchSchema: (txnId, delivery = 1) => scratchSchema(loaded.config, { id: txnId, delivery }),
    },
    async dispose() {
      for (const kill of background) kill();
      await killWorkers(db, configPath).catch(() => undefined);
      const [txns] = await db.query<mysql.RowDataPacket[]>('SELECT id, delivery FROM transactions').catch(() => [[]] as unknown as [mysql.RowDataPacket[]]);
      const admin = await databases.admin();
      for (const txn of txns) {
        for (let delivery = 1; delivery <= Number(txn.delivery); delivery++) {
          await admin.query(`DROP DATABASE IF EXISTS \`${scratchSchema(loaded.config, { id: Number(txn.id), delivery })}\``).catch(() => undefined);
        }
      }
      stopApi();
      await served.catch(() => undefined);
      await db.end().catch(() => undefined);
      if (client) {
        await client.db(mongoDatabase).dropDatabase().catch(() => undefined);
        await client.close().catch(() => undefined);
      }
      await Promise.all([ownMongo?.stop(), glassbeam?.stop()]);
      await databases.dropAll();
      work.remove();
    },
  };
  return centre;
}

/** Workers of this centre still running (a test failed half way): killed, so nothing outlives the test file. */
export async function killWorkers(db: Db, configPath: string): Promise<number[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>("SELECT pid FROM step_attempts WHERE outcome = 'running' AND pid IS NOT NULL");
  const killed: number[] = [];
  for (const { pid } of rows) {
    if (isWorkerProcess(Number(pid), configPath)) {
      process.kill(Number(pid), 'SIGKILL');
      killed.push(Number(pid));
    }
  }
  return killed;
}

/** Whether pid is alive and is a `ganymede worker` (of this config, if given): a recorded pid may have been reused since. */
export function isWorkerProcess(pid: number, configPath?: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && cmdline.includes('worker') && (configPath === undefined || cmdline.includes(configPath)) && cmdline.some((arg) => arg.endsWith('bin/ganymede'));
  } catch {
    return false;
  }
}
