// `npm run bench -- agent`: the hourly agent against the by-hand pipeline, in one run, on the same data
// (done in 5 steps): tune the server and make sure the Cloud-Control-like database exists; set up a
// centre (API, keys, GEO, GnuPG home); time plain mysqldump once (it also warms the buffer pool); then, per
// repeat, time the built `ganymede agent run` to a local inbox and `mysqldump | gzip -1 | gpg` to a file,
// each a child under GNU time; finally check that gpg, gzip and tar read the agent's file.
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type mysql from 'mysql2/promise';
import { mysqlPasswordForTests, mysqlUrlFor, testMysqlUrl } from '../test/support/mysql.js';
import { setUpCentre, type BenchCentre } from './support/centre.js';
import { measure, requireGnuTime, type Measured } from './support/measure.js';
import { adminConnection, serverCpuSeconds, tunedCloudControl } from './support/server.js';

const thisCheckoutBin = fileURLToPath(new URL('../bin/ganymede', import.meta.url));
const megabyte = 1e6;
/** The last run's stderr, kept after the temp dir is gone. */
const agentLogFile = join(tmpdir(), 'gmd-bench-agent-last.log');

export interface AgentBenchOptions {
  scale: number;
  repeat: number;
  /** Decrypt and list the agent's file with gpg and tar after the timed runs. */
  verify: boolean;
  /** Run the agent under `node --cpu-prof`, profiles into this dir (its times are then not comparable). */
  cpuProfDir?: string | undefined;
  /** Another build's bin/ganymede, to compare a change against this checkout. */
  bin?: string | undefined;
}

interface Side extends Measured {
  /** The server's CPU seconds during the run, when it is local. */
  serverCpuS: number | undefined;
  outputBytes: number;
}

const log = (line: string) => process.stderr.write(`bench agent: ${line}\n`);

export async function runAgentBench(options: AgentBenchOptions): Promise<void> {
  requireGnuTime();
  // step 1: the server and the data
  const data = await tunedCloudControl(options.scale, log);

  // step 2: a centre for the agent, in a temp dir on the same disk as the shell's output
  const dir = await mkdtemp(join(tmpdir(), 'gmd-bench-agent-'));
  let centre: BenchCentre | undefined;
  try {
    centre = await setUpCentre(dir);
    const inbox = join(dir, 'inbox');
    await mkdir(inbox, { mode: 0o700 });
    const configFile = join(dir, 'agent.json');
    await writeFile(configFile, JSON.stringify(agentConfig(centre, data.database, dir, inbox), null, 1));
    const server = await adminConnection();
    try {
      // step 3: plain mysqldump, the size every rate below is measured against
      const plain = await timed(server, 'mysqldump alone', 'bash', ['-c', `set -o pipefail; ${mysqldumpCommand(data.database)} | wc -c`], dir);
      const dumpBytes = Number(plain.stdout.trim());
      const rows = data.rows.accounts + data.rows.instances + data.rows.events;
      console.log(
        `data: ${data.database}, 3 tables, ${(rows / 1e6).toFixed(2)}M rows, mysqldump ${mb(dumpBytes)} MB in ${seconds(plain)} s (${rate(dumpBytes, plain)} MB/s, to a pipe)`,
      );

      // step 4: the two sides, one after the other, as many times as asked
      const results: { ganymede: Side; shell: Side }[] = [];
      for (let run = 0; run < options.repeat; run++) {
        // Past hours (the API refuses future ones), one per repeat; the centre's database is new each time.
        const cycle = `2020-01-01T${String(run % 24).padStart(2, '0')}`;
        const load = await loadAverage();
        const shellOut = join(dir, 'shell.sql.gz.gpg');
        const runShell = async (): Promise<Side> => {
          const shell = await timed(server, 'the shell pipeline', 'bash', ['-c', shellPipeline(centre!, data.database, shellOut)], dir);
          const side = { ...shell, outputBytes: (await stat(shellOut)).size };
          await rm(shellOut, { force: true });
          return side;
        };
        // Turn about, so that neither side always runs in the other's wake (page cache, server state).
        let shellSide: Side | undefined;
        if (run % 2 === 1) shellSide = await runShell();
        const ganymede = await runGanymede(server, centre, configFile, inbox, cycle, dir, options);
        shellSide ??= await runShell();
        results.push({ ganymede, shell: shellSide });
        printComparison(ganymede, shellSide, dumpBytes);
        // Other work on the machine (tests, other benchmarks) skews both sides; say when there was some.
        if (load > 0.5) console.log(`  note: load average ${load.toFixed(2)} when the run started; on a busy machine these times vary widely`);
        // step 5: standard tools read what the agent wrote (first run only: it takes a while)
        if (options.verify && run === 0) await verifyWithGpg(centre, join(inbox, ganymedeFileOf(ganymede)), dir);
        await rm(join(inbox, ganymedeFileOf(ganymede)), { force: true });
      }
      log(`the agent's log of its last run: ${agentLogFile}`);
      if (results.length > 1) {
        const best = (pick: (r: { ganymede: Side; shell: Side }) => Side) => results.map(pick).reduce((a, b) => (a.wallMs <= b.wallMs ? a : b));
        console.log(`best of ${results.length}:`);
        printComparison(best((r) => r.ganymede), best((r) => r.shell), dumpBytes);
      }
    } finally {
      await server.end();
    }
  } finally {
    await centre?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function agentConfig(centre: BenchCentre, database: string, dir: string, inbox: string) {
  return {
    logging: { level: 'info' },
    api: { url: centre.api.url },
    agent: {
      geo: centre.geo,
      source: { url: mysqlUrlFor(database) },
      signing_key_file: centre.keyFiles.geoPrivate,
      centre_public_key_file: centre.keyFiles.centrePublic,
      inbox: `file://${inbox}`,
      // The default (zstd) unless BENCH_COMPRESSION=gzip asks for the other one.
      ...(process.env.BENCH_COMPRESSION === 'gzip' ? { compression: 'gzip' } : {}),
      work_dir: join(dir, 'work'),
    },
  };
}

async function runGanymede(
  server: mysql.Connection,
  centre: BenchCentre,
  configFile: string,
  inbox: string,
  cycle: string,
  dir: string,
  { cpuProfDir, bin = thisCheckoutBin }: AgentBenchOptions,
): Promise<Side> {
  // Only the settings we give: a GANYMEDE_* variable of the caller's would change or break the run.
  const env: Record<string, string> = Object.fromEntries(Object.entries(process.env).filter(([name, value]) => !name.startsWith('GANYMEDE_') && value !== undefined)) as Record<string, string>;
  Object.assign(env, { NO_COLOR: '1', GANYMEDE_CONFIG: configFile, GANYMEDE_AGENT_TOKEN: centre.token });
  const password = mysqlPasswordForTests();
  if (password) env.GANYMEDE_AGENT_SOURCE_PASSWORD = password;
  const before = await serverCpuSeconds(server);
  const profile = cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfDir];
  const run = await measure('ganymede agent run', process.execPath, [...profile, bin, 'agent', 'run', '--cycle', cycle, '--force', '--json'], {
    env,
    extendEnv: false,
    reportFile: join(dir, 'time.txt'),
  });
  const after = await serverCpuSeconds(server);
  // The agent's own time-stamped lines show where its time went (snapshot, sealing, delivery).
  await writeFile(agentLogFile, run.stderr);
  const result = JSON.parse(run.stdout) as { file: { name: string; size: number } };
  const delivered = await readdir(inbox);
  if (!delivered.includes(result.file.name)) throw new Error(`ganymede reported ${result.file.name} but the inbox holds ${delivered.join(', ') || 'nothing'}`);
  return { ...run, serverCpuS: cpuDelta(before, after), outputBytes: result.file.size };
}

function ganymedeFileOf(side: Side): string {
  return (JSON.parse(side.stdout) as { file: { name: string } }).file.name;
}

async function timed(server: mysql.Connection, label: string, command: string, args: string[], dir: string): Promise<Side> {
  const before = await serverCpuSeconds(server);
  const run = await measure(label, command, args, { env: mysqlEnv(), reportFile: join(dir, 'time.txt') });
  return { ...run, serverCpuS: cpuDelta(before, await serverCpuSeconds(server)), outputBytes: 0 };
}

/** The 1-minute load average (Linux). */
async function loadAverage(): Promise<number> {
  return Number((await readFile('/proc/loadavg', 'utf8').catch(() => '0')).split(' ')[0]);
}

function cpuDelta(before: number | undefined, after: number | undefined): number | undefined {
  return before === undefined || after === undefined ? undefined : after - before;
}

/** The client tools read the password from MYSQL_PWD, never from argv. */
function mysqlEnv(): Record<string, string> {
  const password = mysqlPasswordForTests();
  return password ? { MYSQL_PWD: password } : {};
}

function mysqldumpCommand(database: string): string {
  const url = new URL(testMysqlUrl);
  const user = decodeURIComponent(url.username || 'root');
  return `mysqldump --single-transaction --quick -h ${quote(url.hostname)} -P ${url.port || '3306'} -u ${quote(user)} ${quote(database)}`;
}

// gpg gets --compress-algo none: its default would deflate the gzip stream a second time, which costs
// CPU for nothing; without it the shell side would only look slower.
function shellPipeline(centre: BenchCentre, database: string, output: string): string {
  const gpg = ['gpg', ...centre.gpgArgs, '--compress-algo', 'none', '-r', centre.centreEmail, '-u', centre.geoEmail, '-o', output, '--encrypt', '--sign'];
  return `set -o pipefail; ${mysqldumpCommand(database)} | gzip -1 | ${gpg.map(quote).join(' ')}`;
}

/** Decrypts with gpg, checks the GEO's signature, and lists the tar with gzip (or zstd, by the name) and tar. */
async function verifyWithGpg(centre: BenchCentre, file: string, dir: string): Promise<void> {
  const status = join(dir, 'gpg-status.txt');
  const gpg = ['gpg', ...centre.gpgArgs, '--status-file', status, '-o', '-', '--decrypt', file].map(quote).join(' ');
  const decompress = file.endsWith('.zst.gpg') ? 'zstd -dc' : 'gzip -dc';
  const listed = await execa('bash', ['-c', `set -o pipefail; ${gpg} | ${decompress} | tar -tvf -`], { reject: false });
  if (listed.exitCode !== 0) throw new Error(`gpg | ${decompress} | tar -t could not read the agent's file:\n${String(listed.stderr).slice(-2000)}`);
  const statusText = await readFile(status, 'utf8');
  if (!/\[GNUPG:\] VALIDSIG /.test(statusText)) throw new Error(`gpg found no valid signature on the agent's file:\n${statusText}`);
  const entries = String(listed.stdout).trim().split('\n');
  // `tar -tv`: mode owner size date time name
  const tarBytes = entries.reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[2] ?? 0), 0);
  console.log(`  verify: gpg (good signature) | ${decompress} | tar -t reads the agent's file: ${entries.length} entries, ${mb(tarBytes)} MB of TSV and JSON`);
}

function printComparison(ganymede: Side, shell: Side, dumpBytes: number): void {
  console.log(
    `agent: ganymede ${seconds(ganymede)} s, shell ${seconds(shell)} s, ratio ${(ganymede.wallMs / shell.wallMs).toFixed(2)}, ganymede peak RSS ${rssMb(ganymede)} MB`,
  );
  const cpu = (side: Side) => side.userS + side.systemS;
  // CPU seconds barely move when other work shares the cores; wall times do. Both are worth a look.
  console.log(`  cpu: ganymede ${cpu(ganymede).toFixed(1)} s, shell ${cpu(shell).toFixed(1)} s, ratio ${(cpu(ganymede) / cpu(shell)).toFixed(2)} (each with its children, server not included)`);
  for (const [name, side] of [['ganymede', ganymede], ['shell', shell]] as const) {
    const server = side.serverCpuS === undefined ? '' : `, server CPU ${side.serverCpuS.toFixed(1)} s`;
    console.log(
      `  ${name.padEnd(8)} ${rate(dumpBytes, side).padStart(5)} MB/s of dump, output ${mb(side.outputBytes)} MB, ` +
        `CPU ${side.userS.toFixed(1)} s user + ${side.systemS.toFixed(1)} s system${server}, peak RSS ${rssMb(side)} MB`,
    );
  }
}

const seconds = (side: Measured) => (side.wallMs / 1000).toFixed(2);
const rate = (bytes: number, side: Measured) => (bytes / megabyte / (side.wallMs / 1000)).toFixed(0);
const mb = (bytes: number) => (bytes / megabyte).toFixed(0);
const rssMb = (side: Measured) => (side.peakRssKb / 1024).toFixed(0);
const quote = (word: string) => (/^[A-Za-z0-9_./@:=+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`);
