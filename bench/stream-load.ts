// `npm run bench -- stream-load`: today's decrypt-to-files + loadDump against loading straight from the
// delivered file (issue 13, part 3: central hosts without a shared disk), side by side in one run, on the
// load bench's data (done in 4 steps): tune the server and make sure the Cloud-Control-like database
// exists; set up a centre and make the agent's file once; then, per repeat and in turn, each variant as
// child processes under GNU time (bench/support/stream-load-child.ts), each into a fresh schema; finally
// count each schema's rows against the source and drop it.
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type mysql from 'mysql2/promise';
import { mysqlPasswordForTests, mysqlUrlFor } from '../test/support/mysql.js';
import { setUpCentre, type BenchCentre } from './support/centre.js';
import type { CloudControl } from './support/cloudcontrol.js';
import { measure, requireGnuTime, type Measured } from './support/measure.js';
import { adminConnection, serverCpuSeconds, tunedCloudControl } from './support/server.js';
import { loadAverage, requireTool } from './support/shell.js';
import type { ChildResult, ChildStep } from './support/stream-load-child.js';

const bin = fileURLToPath(new URL('../bin/ganymede', import.meta.url));
const child = fileURLToPath(new URL('./support/stream-load-child.ts', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
const tables = ['accounts', 'instances', 'events'] as const;

export interface StreamLoadBenchOptions {
  scale: number;
  repeat: number;
}

interface Step extends Measured {
  name: string;
  serverCpuS: number;
  result: ChildResult;
}

interface VariantRun {
  key: string;
  label: string;
  steps: Step[];
  loadAverage: number;
  wallMs: number;
}

/** A variant: the steps it runs, as the workers would, one process each. */
interface Variant {
  key: string;
  label: string;
  steps: (paths: { work: string; manifest: string; schema: string }) => Array<{ name: string; step: Omit<ChildStep, 'file' | 'centreKeyFile' | 'geoKeyFile'> }>;
}

const verify = (manifest: string) => ({ name: 'verify', step: { mode: 'verify' as const, manifestFile: manifest } });

const variants: Variant[] = [
  {
    key: 'a',
    label: 'decrypt to files, then loadDump on 2 connections (today)',
    steps: ({ work, schema }) => [
      { name: 'decrypt', step: { mode: 'open', dir: work } },
      { name: 'load', step: { mode: 'load-dump', dir: work, schema } },
    ],
  },
  {
    key: 'b',
    label: 'verify, then stream: 1 pass, tar order, 1 connection',
    steps: ({ manifest, schema }) => [verify(manifest), { name: 'load', step: { mode: 'stream', manifestFile: manifest, schema, passes: 1, connections: 1 } }],
  },
  {
    key: 'c',
    label: 'verify, then stream: 2 passes at once, half the bytes and 1 connection each',
    steps: ({ manifest, schema }) => [verify(manifest), { name: 'load', step: { mode: 'stream', manifestFile: manifest, schema, passes: 2, connections: 1 } }],
  },
  {
    key: 'b2',
    label: 'verify, then stream: 1 pass, 2 connections (a table read back while the next loads)',
    steps: ({ manifest, schema }) => [verify(manifest), { name: 'load', step: { mode: 'stream', manifestFile: manifest, schema, passes: 1, connections: 2 } }],
  },
];

const log = (line: string) => process.stderr.write(`bench stream-load: ${line}\n`);

export async function runStreamLoadBench(options: StreamLoadBenchOptions): Promise<void> {
  requireGnuTime();
  await requireTool('zstd', 'run scripts/install-system-deps.sh');
  // step 1: the server and the data
  const data = await tunedCloudControl(options.scale, log);
  // step 2: a centre and the agent's file, in a temp dir
  const dir = await mkdtemp(join(tmpdir(), 'gmd-bench-stream-load-'));
  const server = await adminConnection();
  let centre: BenchCentre | undefined;
  const schema = (key: string) => `gmd_bench_stream_${key}_${process.pid}`;
  try {
    centre = await setUpCentre(dir);
    const file = await makeAgentFile(centre, data, dir);
    const keys = { centreKeyFile: centre.keyFiles.centrePrivate, geoKeyFile: centre.keyFiles.geoPublic };
    const childScript = await bundleChild();
    const runStep = async (name: string, step: Omit<ChildStep, 'file' | 'centreKeyFile' | 'geoKeyFile'>): Promise<Step> => {
      const before = await serverCpuSeconds(server);
      const run = await measure(`stream-load ${step.mode}`, process.execPath, [childScript, JSON.stringify({ ...step, file, ...keys })], { reportFile: join(dir, 'time.txt') });
      const after = await serverCpuSeconds(server);
      return { ...run, name, serverCpuS: before === undefined || after === undefined ? NaN : after - before, result: JSON.parse(run.stdout) as ChildResult };
    };
    const rows = tables.reduce((sum, table) => sum + data.rows[table], 0);
    console.log(`data: ${data.database}, 3 tables, ${(rows / 1e6).toFixed(2)}M rows; agent file ${mb((await stat(file)).size)} MB (zstd)`);
    const harness = await runStep('noop', { mode: 'noop' });
    console.log(`  harness (node, the imports, the keys, no work): ${s(harness.wallMs)} s, CPU ${cpu(harness).toFixed(1)} s, peak RSS ${rss(harness)} MB; in every step below`);

    // step 3: the variants, in turn, as many times as asked
    const runs: VariantRun[][] = [];
    for (let repeat = 0; repeat < options.repeat; repeat++) {
      // Turn about, so that no variant always runs in another's wake (page cache, purge threads, checkpoints).
      const order = variants.map((_, i) => variants[(i + repeat) % variants.length]!);
      const ran: VariantRun[] = [];
      for (const variant of order) {
        const paths = { work: join(dir, `work-${variant.key}`), manifest: join(dir, `manifest-${variant.key}.json`), schema: schema(variant.key) };
        await server.query(`DROP DATABASE IF EXISTS \`${paths.schema}\``);
        await server.query(`CREATE DATABASE \`${paths.schema}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
        const load = await loadAverage();
        log(`run ${repeat + 1}: (${variant.key}) ${variant.label}, load average ${load.toFixed(2)}`);
        const steps: Step[] = [];
        for (const { name, step } of variant.steps(paths)) steps.push(await runStep(name, step));
        // step 4: what it loaded, counted, then dropped
        await checkRows(server, paths.schema, data);
        await server.query(`DROP DATABASE IF EXISTS \`${paths.schema}\``);
        await rm(paths.work, { recursive: true, force: true });
        ran.push({ key: variant.key, label: variant.label, steps, loadAverage: load, wallMs: steps.reduce((sum, step) => sum + step.wallMs, 0) });
      }
      runs.push(ran);
      console.log(`run ${repeat + 1} (order: ${order.map((variant) => variant.key).join(', ')}; each schema held ${tables.map((table) => data.rows[table]).join(' + ')} rows, as the source, and was dropped):`);
      printRun(variants.map((variant) => ran.find((run) => run.key === variant.key)!));
    }
    if (runs.length > 1) {
      console.log(`best of ${runs.length} (each variant's best run on its own):`);
      printRun(variants.map((variant) => runs.map((ran) => ran.find((run) => run.key === variant.key)!).reduce((a, b) => (a.wallMs <= b.wallMs ? a : b))));
    }
  } finally {
    for (const variant of variants) await server.query(`DROP DATABASE IF EXISTS \`${schema(variant.key)}\``).catch(() => undefined);
    await server.end();
    await centre?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The child script as one plain ESM file (packages left to node_modules), so each step runs on node alone:
 * under tsx every process carried its loader thread, +65 MB of RSS and 0.4 s of CPU.
 */
async function bundleChild(): Promise<string> {
  const { build } = await import('esbuild');
  // Inside the checkout (bench/scratch/ is ignored by git), so the bundle's package imports resolve as the sources' do.
  const outfile = join(root, 'bench', 'scratch', 'stream-load-child.mjs');
  await build({ entryPoints: [child], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning' });
  return outfile;
}

async function makeAgentFile(centre: BenchCentre, data: CloudControl, dir: string): Promise<string> {
  const inbox = join(dir, 'inbox');
  await mkdir(inbox, { mode: 0o700 });
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
        compression: 'zstd',
        work_dir: join(dir, 'agent-work'),
      },
    }),
  );
  log('making the agent file: ganymede agent run (built CLI)');
  const password = mysqlPasswordForTests();
  const env = Object.fromEntries(Object.entries(process.env).filter(([name, value]) => !name.startsWith('GANYMEDE_') && value !== undefined)) as Record<string, string>;
  const agent = await measure('ganymede agent run', process.execPath, [bin, 'agent', 'run', '--cycle', '2020-01-01T00', '--force', '--json'], {
    env: { ...env, NO_COLOR: '1', GANYMEDE_CONFIG: agentConfig, GANYMEDE_AGENT_TOKEN: centre.token, ...(password ? { GANYMEDE_AGENT_SOURCE_PASSWORD: password } : {}) },
    extendEnv: false,
    reportFile: join(dir, 'time.txt'),
  });
  const delivered = JSON.parse(agent.stdout) as { file: { name: string } };
  return join(inbox, delivered.file.name);
}

async function checkRows(server: mysql.Connection, schema: string, data: CloudControl): Promise<void> {
  for (const table of tables) {
    const [found] = await server.query(`SELECT COUNT(*) AS n FROM \`${schema}\`.\`${table}\``);
    const count = Number((found as { n: unknown }[])[0]?.n);
    if (count !== data.rows[table]) throw new Error(`${schema}.${table} holds ${count} rows, the source ${data.rows[table]}`);
  }
}

function printRun(ran: VariantRun[]): void {
  const baseline = ran[0]!;
  const total = (run: VariantRun) => ({
    cpuS: run.steps.reduce((sum, step) => sum + cpu(step), 0),
    serverS: run.steps.reduce((sum, step) => sum + step.serverCpuS, 0),
    rssMb: Math.max(...run.steps.map((step) => Number(rss(step)))),
  });
  const base = total(baseline);
  for (const run of ran) {
    const t = total(run);
    const steps = run.steps.map((step) => `${step.name} ${s(step.wallMs)}`).join(' + ');
    const ratios = run === baseline ? '' : `; vs (a): wall ${(run.wallMs / baseline.wallMs).toFixed(2)}, CPU ${(t.cpuS / base.cpuS).toFixed(2)}, with the server's ${((t.cpuS + t.serverS) / (base.cpuS + base.serverS)).toFixed(2)}`;
    console.log(`  (${run.key}) ${run.label}`);
    console.log(
      `      ${s(run.wallMs)} s (${steps}), CPU ${t.cpuS.toFixed(1)} s + server ${t.serverS.toFixed(1)} s, peak RSS ${t.rssMb} MB, load average ${run.loadAverage.toFixed(2)}${ratios}`,
    );
    for (const step of run.steps) {
      console.log(`        ${step.name.padEnd(7)} ${s(step.wallMs).padStart(6)} s, CPU ${step.userS.toFixed(1)} s user + ${step.systemS.toFixed(1)} s system, server CPU ${step.serverCpuS.toFixed(1)} s, peak RSS ${rss(step)} MB`);
    }
  }
}

const cpu = (step: Measured) => step.userS + step.systemS;
const rss = (step: Measured) => (step.peakRssKb / 1024).toFixed(0);
const s = (ms: number) => (ms / 1000).toFixed(2);
const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
