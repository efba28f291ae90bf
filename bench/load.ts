// `npm run bench -- load`: the centre's decrypt + load against the two ways by hand, in one run, on the
// same data (done in 5 steps): tune the server and make sure the Cloud-Control-like database exists; set
// up a centre (API, keys, GEO, GnuPG home, a worker config); make the three inputs once — the agent's
// file (`ganymede agent run`), a `mysqldump | gzip -1 | gpg` file and a `mydumper -t 2` directory; then,
// per repeat, time `worker decrypt` + `worker load`, `gpg -d | gunzip | mysql` and `myloader -t 2`, each
// into a fresh schema of its own, each a child under GNU time; finally count each schema's rows and drop it.
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type mysql from 'mysql2/promise';
import { mysqlPasswordForTests, mysqlUrlFor } from '../test/support/mysql.js';
import { writePrivateFile } from '../test/support/ganymede.js';
import { loadConfig } from '../src/config/load.js';
import { openStateDb, type Db } from '../src/state/db.js';
import { cancelTxnSteps } from '../src/state/step-outcomes.js';
import { listAttempts, listStepsOfTxn } from '../src/state/steps.js';
import { closeTransaction, getTransaction, openTransaction } from '../src/state/transactions.js';
import { scratchSchema, txnWorkDir } from '../src/worker/paths.js';
import { setUpCentre, type BenchCentre } from './support/centre.js';
import type { CloudControl } from './support/cloudcontrol.js';
import { measure, requireGnuTime, type Measured } from './support/measure.js';
import { adminConnection, serverCpuSeconds, tunedCloudControl } from './support/server.js';
import { loadAverage, mysqlEnv, mysqlHostArgs, quote, requireTool } from './support/shell.js';

const thisCheckoutBin = fileURLToPath(new URL('../bin/ganymede', import.meta.url));
const megabyte = 1e6;
/** The workers' stderr of the last run, kept after the temp dir is gone. */
const workerLogFile = join(tmpdir(), 'gmd-bench-load-last.log');
const cycle = '2020-01-01T00';
const tables = ['accounts', 'instances', 'events'] as const;

export interface LoadBenchOptions {
  scale: number;
  repeat: number;
  /** Another build's bin/ganymede, to compare a change against this checkout. */
  bin?: string | undefined;
  /** Run the load worker under `node --cpu-prof`, profiles into this dir (its times are then not comparable). */
  cpuProfDir?: string | undefined;
}

interface Side extends Measured {
  serverCpuS: number | undefined;
}

interface GanymedeRun {
  decrypt: Side;
  load: Side;
  /** From the step attempts: claim to finish, inside the worker (no Node start, no config reading). */
  stepMs: { decrypt: number; load: number };
  wallMs: number;
  peakRssKb: number;
}

interface Inputs {
  agentFile: { name: string; size: number; sha256: string; path: string };
  txnId: number;
  shellFile: string;
  mydumperDir: string;
  made: { agentMs: number; shellMs: number; mydumperMs: number };
}

const log = (line: string) => process.stderr.write(`bench load: ${line}\n`);

export async function runLoadBench(options: LoadBenchOptions): Promise<void> {
  requireGnuTime();
  for (const tool of ['gpg', 'gzip', 'mysql', 'mysqldump']) await requireTool(tool);
  await requireTool('mydumper');
  await requireTool('myloader');
  if (compression() === 'zstd') await requireTool('zstd', 'run scripts/install-system-deps.sh, or BENCH_COMPRESSION=gzip');
  // step 1: the server and the data
  const data = await tunedCloudControl(options.scale, log);

  // step 2: a centre, its data dir (inbox, work) in a temp dir on the same disk as the other sides' files
  const dir = await mkdtemp(join(tmpdir(), 'gmd-bench-load-'));
  let centre: BenchCentre | undefined;
  let db: Db | undefined;
  const server = await adminConnection();
  const schemas = { shell: `gmd_bench_load_shell_${process.pid}`, myloader: `gmd_bench_load_myloader_${process.pid}` };
  try {
    centre = await setUpCentre(dir);
    const dataDir = join(dir, 'centre');
    await mkdir(join(dataDir, 'inbox', centre.geo), { recursive: true, mode: 0o700 });
    const centreConfig = join(dir, 'centre.json');
    const password = mysqlPasswordForTests();
    await writeFile(
      centreConfig,
      JSON.stringify({
        site: { name: 'bench-centre', data_dir: dataDir },
        logging: { level: 'info' },
        mysql: { url: mysqlUrlFor(centre.api.database), ...(password ? { password_file: writePrivateFile(join(dir, 'mysql.password'), password) } : {}) },
        centre: { private_key_file: centre.keyFiles.centrePrivate },
      }),
      { mode: 0o600 },
    );
    const loaded = loadConfig({ configPath: centreConfig, env: {} });
    db = await openStateDb(loaded);

    // step 3: the three inputs, made once
    const inputs = await makeInputs(centre, data, dir, join(dataDir, 'inbox', centre.geo), options.bin ?? thisCheckoutBin);
    const [dumpBytes, mydumperBytes] = [await plainDumpBytes(inputs.mydumperDir), await dirBytes(inputs.mydumperDir)];
    const rows = data.rows.accounts + data.rows.instances + data.rows.events;
    console.log(
      `data: ${data.database}, 3 tables, ${(rows / 1e6).toFixed(2)}M rows; agent file ${mb(inputs.agentFile.size)} MB (${compression()}), ` +
        `shell file ${mb((await stat(inputs.shellFile)).size)} MB (mysqldump | gzip -1 | gpg), mydumper dir ${mb(mydumperBytes)} MB`,
    );
    console.log(
      `  made once, not timed below: agent run ${s(inputs.made.agentMs)} s, mysqldump | gzip -1 | gpg ${s(inputs.made.shellMs)} s, mydumper -t 2 ${s(inputs.made.mydumperMs)} s` +
        ` (mydumper's data files: ${mb(dumpBytes)} MB)`,
    );

    // What the decrypt step does, by standard tools on the same file: a yardstick for the step, not a side.
    const byHand = await decryptByHand(centre, inputs.agentFile.path, dir);
    console.log(
      `  decrypt by hand, the agent's file: gpg -d | ${compression() === 'zstd' ? 'zstd' : 'gzip'} -dc | tar -x ${s(byHand.wallMs)} s, ` +
        `CPU ${byHand.userS.toFixed(1)} s user + ${byHand.systemS.toFixed(1)} s system (the worker also checks size and sha256, and verifies the signature in openpgp.js)`,
    );

    // step 4: the three sides, in turn, as many times as asked
    const results: { ganymede: GanymedeRun; shell: Side; myloader: Side }[] = [];
    for (let run = 0; run < options.repeat; run++) {
      const load = await loadAverage();
      if (run > 0) await redeliver(db, inputs);
      const sides = {
        ganymede: () => runGanymede(server, db!, loaded, centreConfig, inputs, dir, options),
        shell: () => runShell(server, centre!, inputs.shellFile, schemas.shell, dir),
        myloader: () => runMyloader(server, inputs.mydumperDir, schemas.myloader, dir),
      };
      // Turn about, so that no side always runs in another's wake (page cache, purge threads, checkpoints).
      const order = (['ganymede', 'shell', 'myloader'] as const).map((_, i, all) => all[(i + run) % all.length]!);
      const ran: Partial<{ ganymede: GanymedeRun; shell: Side; myloader: Side }> = {};
      for (const name of order) {
        if (name === 'ganymede') ran.ganymede = await sides.ganymede();
        else ran[name] = await sides[name]();
      }
      const result = ran as { ganymede: GanymedeRun; shell: Side; myloader: Side };
      // step 5: what each side loaded, counted, then dropped
      const txn = (await getTransaction(db, inputs.txnId))!;
      const counted = await countRows(server, { ganymede: scratchSchema(loaded.config, txn), shell: schemas.shell, myloader: schemas.myloader });
      await dropGanymedeScratch(server, loaded.config, txn);
      for (const schema of Object.values(schemas)) await server.query(`DROP DATABASE IF EXISTS \`${schema}\``);
      results.push(result);
      printComparison(result, order);
      const expected = tables.map((table) => data.rows[table]);
      for (const [name, counts] of Object.entries(counted)) {
        if (counts.some((count, i) => count !== expected[i])) throw new Error(`${name} loaded ${counts.join('/')} rows of ${tables.join('/')}, the source has ${expected.join('/')}`);
      }
      console.log(`  rows: each side's schema held ${expected.join(' + ')} rows (${tables.join(', ')}), as the source; all three dropped`);
      console.log(`  load average ${load.toFixed(2)} when the run started${load > 0.5 ? '; on a busy machine these times vary widely' : ''}`);
    }
    log(`the workers' log of the last run: ${workerLogFile}`);
    if (results.length > 1) {
      const best = <T extends { wallMs: number }>(pick: (r: (typeof results)[number]) => T) => results.map(pick).reduce((a, b) => (a.wallMs <= b.wallMs ? a : b));
      console.log(`best of ${results.length} (each side's best run on its own):`);
      printComparison({ ganymede: best((r) => r.ganymede), shell: best((r) => r.shell), myloader: best((r) => r.myloader) });
    }
  } finally {
    for (const schema of Object.values(schemas)) await server.query(`DROP DATABASE IF EXISTS \`${schema}\``).catch(() => undefined);
    await server.end();
    await db?.end();
    await centre?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function compression(): 'gzip' | 'zstd' {
  return process.env.BENCH_COMPRESSION === 'gzip' ? 'gzip' : 'zstd';
}

/** Only the settings we give: a GANYMEDE_* variable of the caller's would change or break the run. */
function cliEnv(extra: Record<string, string>): Record<string, string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name, value]) => !name.startsWith('GANYMEDE_') && value !== undefined)) as Record<string, string>;
  return { ...env, NO_COLOR: '1', ...extra };
}

async function makeInputs(centre: BenchCentre, data: CloudControl, dir: string, inbox: string, bin: string): Promise<Inputs> {
  // The agent's file, delivered through the API into the centre's inbox: a transaction waiting for decrypt.
  const agentConfig = join(dir, 'agent.json');
  await writeFile(
    agentConfig,
    JSON.stringify({
      logging: { level: 'warn' },
      api: { url: centre.api.url },
      agent: {
        geo: centre.geo,
        source: { url: mysqlUrlFor(data.database) },
        signing_key_file: centre.keyFiles.geoPrivate,
        centre_public_key_file: centre.keyFiles.centrePublic,
        inbox: `file://${inbox}`,
        // The fast setting an operator would choose, as in the agent bench; BENCH_COMPRESSION=gzip for the default.
        compression: compression(),
        work_dir: join(dir, 'agent-work'),
      },
    }),
  );
  const password = mysqlPasswordForTests();
  log('making the agent file: ganymede agent run');
  let started = performance.now();
  const agent = await measure('ganymede agent run', process.execPath, [bin, 'agent', 'run', '--cycle', cycle, '--force', '--json'], {
    env: cliEnv({ GANYMEDE_CONFIG: agentConfig, GANYMEDE_AGENT_TOKEN: centre.token, ...(password ? { GANYMEDE_AGENT_SOURCE_PASSWORD: password } : {}) }),
    extendEnv: false,
    reportFile: join(dir, 'time.txt'),
  });
  const agentMs = performance.now() - started;
  const delivered = JSON.parse(agent.stdout) as { transactionId: number; file: { name: string; size: number; sha256: string } };

  log('making the shell file: mysqldump | gzip -1 | gpg --encrypt --sign');
  const shellFile = join(dir, 'shell.sql.gz.gpg');
  const gpg = ['gpg', ...centre.gpgArgs, '--compress-algo', 'none', '-r', centre.centreEmail, '-u', centre.geoEmail, '-o', shellFile, '--encrypt', '--sign'];
  const mysqldump = ['mysqldump', '--single-transaction', '--quick', ...mysqlHostArgs(), data.database];
  started = performance.now();
  await measure('mysqldump | gzip -1 | gpg', 'bash', ['-c', `set -o pipefail; ${mysqldump.map(quote).join(' ')} | gzip -1 | ${gpg.map(quote).join(' ')}`], {
    env: mysqlEnv(),
    reportFile: join(dir, 'time.txt'),
  });
  const shellMs = performance.now() - started;

  log('making the mydumper dir: mydumper -t 2');
  const mydumperDir = join(dir, 'mydumper');
  started = performance.now();
  await measure('mydumper -t 2', 'mydumper', ['-t', '2', ...mysqlHostArgs(), '-B', data.database, '-o', mydumperDir, '-v', '1', ...mydumperPassword()], {
    env: mysqlEnv(),
    reportFile: join(dir, 'time.txt'),
  });
  const mydumperMs = performance.now() - started;
  return {
    agentFile: { ...delivered.file, path: join(inbox, delivered.file.name) },
    txnId: delivered.transactionId,
    shellFile,
    mydumperDir,
    made: { agentMs, shellMs, mydumperMs },
  };
}

async function decryptByHand(centre: BenchCentre, file: string, dir: string): Promise<Measured> {
  const target = join(dir, 'by-hand');
  await mkdir(target);
  const gpg = ['gpg', ...centre.gpgArgs, '-o', '-', '--decrypt', file];
  const decompress = compression() === 'zstd' ? 'zstd -dc' : 'gzip -dc';
  try {
    return await measure('gpg -d | decompress | tar -x', 'bash', ['-c', `set -o pipefail; ${gpg.map(quote).join(' ')} 2>/dev/null | ${decompress} | tar -x -C ${quote(target)}`], {
      reportFile: join(dir, 'time.txt'),
    });
  } finally {
    await rm(target, { recursive: true, force: true });
  }
}

/** mydumper and myloader 0.10 read no MYSQL_PWD: the rig's password, if it has one, goes on argv. */
function mydumperPassword(): string[] {
  const password = mysqlPasswordForTests();
  return password ? ['-p', password] : [];
}

/**
 * The same file delivered again, as `agent run --force` would deliver it: the operator cancels the
 * transaction, the agent opens a new delivery and closes it with the file. A fresh decrypt step is due.
 */
async function redeliver(db: Db, inputs: Inputs): Promise<void> {
  const txn = (await getTransaction(db, inputs.txnId))!;
  await cancelTxnSteps(db, txn.id);
  const opened = await openTransaction(db, txn.geoId, txn.cycleStart, { force: true });
  if (opened.kind !== 'opened') throw new Error(`could not deliver transaction ${txn.id} again: ${opened.reason}`);
  const closed = await closeTransaction(db, txn.id, { name: inputs.agentFile.name, size: inputs.agentFile.size, sha256: inputs.agentFile.sha256 });
  if (closed.kind !== 'closed') throw new Error(`could not deliver transaction ${txn.id} again: ${closed.reason}`);
}

async function runGanymede(
  server: mysql.Connection,
  db: Db,
  loaded: ReturnType<typeof loadConfig>,
  centreConfig: string,
  inputs: Inputs,
  dir: string,
  { bin = thisCheckoutBin, cpuProfDir }: LoadBenchOptions,
): Promise<GanymedeRun> {
  const env = cliEnv({});
  const worker = async (step: 'decrypt' | 'load'): Promise<Side> => {
    const before = await serverCpuSeconds(server);
    const profile = cpuProfDir !== undefined && step === 'load' ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : [];
    const run = await measure(`ganymede worker ${step}`, process.execPath, [...profile, bin, '--config', centreConfig, 'worker', step, '--txn', String(inputs.txnId)], {
      env,
      extendEnv: false,
      reportFile: join(dir, 'time.txt'),
    });
    return { ...run, serverCpuS: cpuDelta(before, await serverCpuSeconds(server)) };
  };
  const decrypt = await worker('decrypt');
  const load = await worker('load');
  // The worker logs carry time stamps per table; kept for a look after the run.
  await writeFile(workerLogFile, `${decrypt.stderr}\n${load.stderr}\n`);
  const txn = (await getTransaction(db, inputs.txnId))!;
  const steps = (await listStepsOfTxn(db, txn.id)).filter((step) => step.key.startsWith(`txn:${txn.id}:${txn.delivery}:`));
  const attempts = await listAttempts(db, steps.map((step) => step.id));
  const stepMs = (name: string) => {
    const step = steps.find((candidate) => candidate.name === name);
    const attempt = attempts.filter((candidate) => candidate.stepId === step?.id && candidate.outcome === 'succeeded').at(-1);
    if (!attempt?.finishedAt) throw new Error(`the ${name} step of transaction ${txn.id} has no finished attempt`);
    return attempt.finishedAt.getTime() - attempt.startedAt.getTime();
  };
  // The work dir (unpacked TSV) is the clean step's to remove; the next run must start from the file alone.
  await rm(txnWorkDir(loaded.config, txn), { recursive: true, force: true });
  return {
    decrypt,
    load,
    stepMs: { decrypt: stepMs('decrypt'), load: stepMs('load') },
    wallMs: decrypt.wallMs + load.wallMs,
    peakRssKb: Math.max(decrypt.peakRssKb, load.peakRssKb),
  };
}

async function dropGanymedeScratch(server: mysql.Connection, config: ReturnType<typeof loadConfig>['config'], txn: { id: number; delivery: number }): Promise<void> {
  await server.query(`DROP DATABASE IF EXISTS \`${scratchSchema(config, txn)}\``);
}

async function runShell(server: mysql.Connection, centre: BenchCentre, file: string, schema: string, dir: string): Promise<Side> {
  await server.query(`DROP DATABASE IF EXISTS \`${schema}\``);
  await server.query(`CREATE DATABASE \`${schema}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  const gpg = ['gpg', ...centre.gpgArgs, '-o', '-', '--decrypt', file];
  const mysqlCli = ['mysql', ...mysqlHostArgs(), schema];
  return timed(server, 'gpg -d | gunzip | mysql', 'bash', ['-c', `set -o pipefail; ${gpg.map(quote).join(' ')} 2>/dev/null | gzip -dc | ${mysqlCli.map(quote).join(' ')}`], dir);
}

async function runMyloader(server: mysql.Connection, mydumperDir: string, schema: string, dir: string): Promise<Side> {
  await server.query(`DROP DATABASE IF EXISTS \`${schema}\``);
  return timed(server, 'myloader -t 2', 'myloader', ['-t', '2', ...mysqlHostArgs(), '-d', mydumperDir, '-B', schema, '-v', '1', ...mydumperPassword()], dir);
}

async function timed(server: mysql.Connection, label: string, command: string, args: string[], dir: string): Promise<Side> {
  const before = await serverCpuSeconds(server);
  const run = await measure(label, command, args, { env: mysqlEnv(), reportFile: join(dir, 'time.txt') });
  return { ...run, serverCpuS: cpuDelta(before, await serverCpuSeconds(server)) };
}

async function countRows(server: mysql.Connection, schemas: Record<'ganymede' | 'shell' | 'myloader', string>): Promise<Record<string, number[]>> {
  const counted: Record<string, number[]> = {};
  for (const [name, schema] of Object.entries(schemas)) {
    counted[name] = [];
    for (const table of tables) {
      const [rows] = await server.query(`SELECT COUNT(*) AS n FROM \`${schema}\`.\`${table}\``);
      counted[name].push(Number((rows as { n: unknown }[])[0]?.n));
    }
  }
  return counted;
}

/** The size of the dump without compression or encryption: mydumper's data files (its SQL text). */
async function plainDumpBytes(mydumperDir: string): Promise<number> {
  let bytes = 0;
  for (const name of await readdir(mydumperDir)) if (!name.endsWith('-schema.sql') && !name.endsWith('-schema-create.sql') && name.endsWith('.sql')) bytes += (await stat(join(mydumperDir, name))).size;
  return bytes;
}

async function dirBytes(path: string): Promise<number> {
  let bytes = 0;
  for (const name of await readdir(path)) bytes += (await stat(join(path, name))).size;
  return bytes;
}

function cpuDelta(before: number | undefined, after: number | undefined): number | undefined {
  return before === undefined || after === undefined ? undefined : after - before;
}

function printComparison(result: { ganymede: GanymedeRun; shell: Side; myloader: Side }, order?: readonly string[]): void {
  const { ganymede, shell, myloader } = result;
  console.log(
    `load: ganymede ${s(ganymede.wallMs)} s, shell ${s(shell.wallMs)} s, myloader ${s(myloader.wallMs)} s, ` +
      `ratios ${(ganymede.wallMs / shell.wallMs).toFixed(2)} ${(ganymede.wallMs / myloader.wallMs).toFixed(2)}, peak RSS ${rssMb(ganymede.peakRssKb)} MB`,
  );
  for (const step of ['decrypt', 'load'] as const) {
    const side = ganymede[step];
    console.log(
      `  ganymede ${step.padEnd(7)} ${s(side.wallMs).padStart(6)} s (the step itself ${s(ganymede.stepMs[step])} s), CPU ${side.userS.toFixed(1)} s user + ${side.systemS.toFixed(1)} s system` +
        `${serverCpu(side)}, peak RSS ${rssMb(side.peakRssKb)} MB`,
    );
  }
  for (const [name, side] of [['shell', shell], ['myloader', myloader]] as const) {
    console.log(`  ${name.padEnd(16)} ${s(side.wallMs).padStart(6)} s, CPU ${side.userS.toFixed(1)} s user + ${side.systemS.toFixed(1)} s system${serverCpu(side)}, peak RSS ${rssMb(side.peakRssKb)} MB`);
  }
  const cpu = (side: Measured) => side.userS + side.systemS;
  const server = (side: Side) => side.serverCpuS ?? 0;
  console.log(
    `  cpu with the server's: ganymede ${(cpu(ganymede.decrypt) + cpu(ganymede.load) + server(ganymede.decrypt) + server(ganymede.load)).toFixed(1)} s, ` +
      `shell ${(cpu(shell) + server(shell)).toFixed(1)} s, myloader ${(cpu(myloader) + server(myloader)).toFixed(1)} s` +
      (order ? ` (order this run: ${order.join(', ')})` : ''),
  );
}

const serverCpu = (side: Side) => (side.serverCpuS === undefined ? '' : `, server CPU ${side.serverCpuS.toFixed(1)} s`);
const s = (ms: number) => (ms / 1000).toFixed(2);
const mb = (bytes: number) => (bytes / megabyte).toFixed(0);
const rssMb = (kb: number) => (kb / 1024).toFixed(0);
