// `npm run demo`: Ganymede's main job on this machine, on embedded defaults — done in 7 steps. The first
// run sets up three synthetic GEOs and processes one hour; each further run is "the next hour": some rows
// changed, one GEO late, a delta feed. `ganymede api` is left running for the web console (the next run
// starts a new one). `npm run demo -- --clean` stops the demo's servers and removes it all.
import { spawn } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import mysql from 'mysql2/promise';
import { ensureMysql, mysqlOptions } from '../../test/support/mysql.js';
import { createSources, changeSources, geos, sourceDatabase } from './sources.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'ganymede');
const defaultDir = '/tmp/ganymede-demo';
const dir = process.env.GANYMEDE_DEMO_DIR ?? defaultDir;
// A demo in another dir (the secrets test runs one) gets databases of its own.
const database = dir === defaultDir ? 'gmd_demo' : `gmd_demo_${createHash('sha1').update(dir).digest('hex').slice(0, 8)}`;
/** The agents read Cloud Control as a least-privilege MySQL user with a password, as on a real GEO server. */
const reader = dir === defaultDir ? 'gmd_demo_r' : `gmd_r_${database.slice(-8)}`;
/** What scratchSchema() (src/worker/paths.ts) names this centre's temporary schemas. */
const scratchPrefix = `gmd_${createHash('sha1').update(`/${database}`).digest('hex').slice(0, 8)}_txn_`;
const say = (text: string) => process.stdout.write(`\n== ${text}\n`);

interface Services {
  pid: number;
  central: { port: number; user: string; keyFile: string; root: string; localRoot: string };
  glassbeam: { port: number; user: string; keyFile: string; root: string; localRoot: string };
  mongoUri: string;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function ganymede(args: string[], config: string, options: { allowFail?: boolean; quiet?: boolean } = {}) {
  // GANYMEDE_DEMO_DIR is the demo's own setting, not Ganymede's: passed on, the CLI would refuse it as unknown.
  const { GANYMEDE_DEMO_DIR: _demoDir, ...env } = process.env;
  const run = await execa(process.execPath, [bin, '--config', config, ...args], { reject: false, extendEnv: false, env: { ...env, NO_COLOR: process.stdout.isTTY ? undefined : '1' } });
  if (!options.quiet && run.stdout) process.stdout.write(`${run.stdout}\n`);
  // Everything the CLI logged, for a look afterwards (the terminal shows only the results).
  appendFileSync(join(dir, 'cli.log'), `$ ganymede ${args.join(' ')}\n${run.stderr}${run.stderr ? '\n' : ''}`, { mode: 0o600 });
  if (run.exitCode !== 0 && !options.allowFail) {
    process.stderr.write(run.stderr);
    throw new Error(`ganymede ${args.join(' ')} exited ${run.exitCode}`);
  }
  return run;
}

/** The API the last run left serving the console, stopped (its pid was written by that run). */
async function stopLastApi(): Promise<void> {
  const pidFile = join(dir, 'api.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  rmSync(pidFile);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
}

async function clean(): Promise<void> {
  await stopLastApi();
  const servicesFile = join(dir, 'services.json');
  if (existsSync(servicesFile)) {
    const { pid } = JSON.parse(readFileSync(servicesFile, 'utf8')) as Services;
    if (alive(pid)) process.kill(pid, 'SIGTERM');
  }
  const admin = await mysql.createConnection(mysqlOptions());
  for (const name of [database, ...geos.map((geo) => sourceDatabase(database, geo))]) await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
  const [scratch] = await admin.query<mysql.RowDataPacket[]>('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE LEFT(SCHEMA_NAME, ?) = ?', [scratchPrefix.length, scratchPrefix]);
  for (const row of scratch) await admin.query(`DROP DATABASE IF EXISTS \`${row.name}\``);
  await admin.query(`DROP USER IF EXISTS '${reader}'@'127.0.0.1'`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
  say(`removed the demo (${dir}, its databases and servers)`);
}

async function startServices(): Promise<Services> {
  const file = join(dir, 'services.json');
  if (existsSync(file)) {
    const services = JSON.parse(readFileSync(file, 'utf8')) as Services;
    if (alive(services.pid)) return services;
    rmSync(file);
  }
  const log = openSync(join(dir, 'services.log'), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts/demo/services.ts'), dir], { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  for (let i = 0; i < 150 && !existsSync(file); i++) await sleep(200);
  if (!existsSync(file)) throw new Error(`the demo's servers did not start; see ${join(dir, 'services.log')}`);
  return JSON.parse(readFileSync(file, 'utf8')) as Services;
}

function writeConfigs(services: Services, apiPort: number): { centre: string; agent: (geo: string) => string } {
  const secret = (name: string, value: string) => {
    const path = join(dir, name);
    if (!existsSync(path)) writeFileSync(path, `${value}\n`, { mode: 0o600 });
    return path;
  };
  const adminToken = secret('admin.token', randomBytes(24).toString('base64url'));
  const centre = {
    site: { name: 'demo-centre', data_dir: join(dir, 'centre') },
    mysql: { url: `mysql://root@127.0.0.1:3306/${database}` },
    mongodb: { url: services.mongoUri, database: 'ganymede_demo' },
    api: { listen: `127.0.0.1:${apiPort}`, url: `http://127.0.0.1:${apiPort}`, admin_token_file: adminToken },
    centre: { inbox_dir: services.central.localRoot, private_key_file: join(dir, 'keys/centre.key.asc'), lease_ms: 15_000, retry_base_ms: 2_000, max_attempts: 3 },
    feed: { mode: 'changes', partial_after_deadline: true },
    glassbeam: { url: `sftp://${services.glassbeam.user}@127.0.0.1:${services.glassbeam.port}${services.glassbeam.root}`, key_file: services.glassbeam.keyFile },
    archive: { url: `file://${join(dir, 'archive')}` },
  };
  const centreFile = join(dir, 'centre.json');
  writeFileSync(centreFile, JSON.stringify(centre, null, 2), { mode: 0o600 });
  const agent = (geo: string) => {
    const file = join(dir, `agent-${geo}.json`);
    writeFileSync(file, JSON.stringify({
      site: { name: `demo-${geo}`, data_dir: join(dir, `agent-${geo}`) },
      api: { url: `http://127.0.0.1:${apiPort}` },
      agent: {
        geo,
        token_file: join(dir, `${geo}.token`),
        source: { url: `mysql://${reader}@127.0.0.1:3306/${sourceDatabase(database, geo)}`, password_file: join(dir, 'source.password') },
        signing_key_file: join(dir, `keys/${geo}.key.asc`),
        centre_public_key_file: join(dir, 'keys/centre.pub.asc'),
        inbox: `sftp://${services.central.user}@127.0.0.1:${services.central.port}${services.central.root}/${geo}`,
        sftp_key_file: services.central.keyFile,
      },
    }, null, 2), { mode: 0o600 });
    return file;
  };
  return { centre: centreFile, agent };
}

/** The MySQL user the agents read with: SELECT and SHOW VIEW on the GEO's database, nothing else. */
async function createReader(): Promise<void> {
  const passwordFile = join(dir, 'source.password');
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();
  const admin = await mysql.createConnection(mysqlOptions());
  try {
    await admin.query(`CREATE USER IF NOT EXISTS '${reader}'@'127.0.0.1' IDENTIFIED BY ?`, [password]);
    await admin.query(`ALTER USER '${reader}'@'127.0.0.1' IDENTIFIED BY ?`, [password]);
    for (const geo of geos) await admin.query(`GRANT SELECT, SHOW VIEW ON \`${sourceDatabase(database, geo)}\`.* TO '${reader}'@'127.0.0.1'`);
  } finally {
    await admin.end();
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--clean')) return clean();
  // step 1: what the demo needs locally
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await ensureMysql();
  const services = await startServices();
  const statePath = join(dir, 'state.json');
  const firstRun = !existsSync(statePath);
  const state = firstRun ? { hour: Date.now() - (Date.now() % 3_600_000) - 3 * 3_600_000, runs: 0 } : (JSON.parse(readFileSync(statePath, 'utf8')) as { hour: number; runs: number });
  if (!firstRun) state.hour += 3_600_000;
  const cycle = new Date(state.hour).toISOString().slice(0, 13);
  const apiPort = 18_400 + (process.pid % 500);
  const config = writeConfigs(services, apiPort);
  say(firstRun ? `first run: setting up three GEOs (${geos.join(', ')}) in ${dir}` : `run ${state.runs + 1}: the next hour, ${cycle}; rows changed, ${geos[2]} late`);

  // step 2: synthetic Cloud Control databases, keys, the Ganymede database and the GEOs
  if (firstRun) {
    await createSources(database);
    await createReader();
    mkdirSync(join(dir, 'keys'), { recursive: true, mode: 0o700 });
    // Each part is skipped when a first run that was interrupted already did it.
    for (const name of ['centre', ...geos]) {
      if (!existsSync(join(dir, `keys/${name}.key.asc`))) await ganymede(['keys', 'generate', '--name', name, '--out', join(dir, 'keys')], config.centre, { quiet: true });
    }
    await ganymede(['db', 'migrate'], config.centre);
    for (const geo of geos) {
      const tokenFile = join(dir, `${geo}.token`);
      if (existsSync(tokenFile)) continue;
      const added = await ganymede(['geo', 'add', geo, '--public-key', join(dir, `keys/${geo}.pub.asc`), '--token-file', tokenFile], config.centre, { allowFail: true });
      if (added.exitCode !== 0) await ganymede(['geo', 'rotate-token', geo, '--token-file', tokenFile], config.centre);
    }
  } else {
    await changeSources(database);
  }
  // Each GEO's inbox directory on the central SFTP server, owned by its login (as an operator would make it).
  const owner = statSync(services.central.localRoot);
  for (const geo of geos) {
    const inbox = join(services.central.localRoot, geo);
    mkdirSync(inbox, { recursive: true, mode: 0o700 });
    chownSync(inbox, owner.uid, owner.gid);
  }

  // step 3: the status API, which also serves the web console; it keeps running after this run for a look
  // at the console (detached, its pid in api.pid: the next run or --clean stops it)
  await stopLastApi();
  const apiLog = openSync(join(dir, 'api.log'), 'a');
  const { GANYMEDE_DEMO_DIR: _ignored, ...apiEnv } = process.env;
  const api = spawn(process.execPath, [bin, '--config', config.centre, 'api'], { stdio: ['ignore', apiLog, apiLog], env: apiEnv, detached: true });
  api.unref();
  writeFileSync(join(dir, 'api.pid'), String(api.pid), { mode: 0o600 });
  let apiKept = false;
  for (let i = 0; i < 50; i++) {
    if (await fetch(`http://127.0.0.1:${apiPort}/v1/health`).then((r) => r.ok, () => false)) break;
    await sleep(100);
  }
  try {
    // step 4: the agents (the last GEO is late on every run after the first)
    const delivering = firstRun ? geos : geos.slice(0, 2);
    say(`agents deliver ${cycle}: ${delivering.join(', ')}`);
    for (const geo of delivering) await ganymede(['agent', 'run', '--cycle', cycle], config.agent(geo));
    // step 5: the centre, until the hour is fed and sent
    say('jupiter drain: decrypt, load, etl, clean for each GEO, then feed and send');
    await ganymede(['jupiter', 'drain', '--timeout', '600'], config.centre);
    // step 6: the archive
    say('archive');
    await ganymede(['archive'], config.centre);
    apiKept = true;
  } finally {
    // A run that failed takes its API down with it; a good one leaves it serving the console.
    if (!apiKept) {
      api.kill('SIGTERM');
      rmSync(join(dir, 'api.pid'), { force: true });
    }
  }
  state.runs++;
  writeFileSync(statePath, JSON.stringify(state));

  // step 7: what an operator looks at
  say('status');
  await ganymede(['status', '--hours', '6'], config.centre);
  say(`cycle ${cycle}`);
  await ganymede(['cycle', 'show', cycle], config.centre);
  const feedDir = join(services.glassbeam.localRoot, cycle);
  const manifest = JSON.parse(readFileSync(join(feedDir, 'manifest.json'), 'utf8')) as { mode: string; geos: string[]; missingGeos: string[]; files: Array<{ name: string; rows: number }> };
  say('where things are');
  process.stdout.write(
    [
      `feed sent to Glassbeam (SFTP): ${feedDir}`,
      `  ${manifest.mode} feed of ${manifest.geos.join(', ')}${manifest.missingGeos.length ? `; missing: ${manifest.missingGeos.join(', ')}` : ''}`,
      ...manifest.files.map((file) => `  ${file.name}: ${file.rows} ${manifest.mode === 'changes' ? 'changes' : 'rows'}`),
      `warehouse: ${services.mongoUri} database ganymede_demo${(services as { mongoStandIn?: boolean }).mongoStandIn ? ' (the MongoDB-wire stand-in)' : ''}`,
      `archive: ${join(dir, 'archive')}`,
      `config: ${config.centre}; try: bin/ganymede --config ${config.centre} txn list`,
      `logs: ${join(dir, 'cli.log')} (every command above), ${join(dir, 'api.log')}, workers in ${join(dir, 'centre', 'log')}`,
      `next hour: npm run demo    remove everything: npm run demo -- --clean`,
      '',
    ].join('\n'),
  );
  say('the web console');
  process.stdout.write(
    [
      `open http://127.0.0.1:${apiPort}/console and sign in with the admin token: the content of ${join(dir, 'admin.token')}`,
      `  (a read-only token for someone else: bin/ganymede --config ${config.centre} viewer add NAME)`,
      `  \`ganymede api\` keeps serving it (pid ${api.pid}, log ${join(dir, 'api.log')}) until the next run or npm run demo -- --clean`,
      '',
    ].join('\n'),
  );
}

await main();
