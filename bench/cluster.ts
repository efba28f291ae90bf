// `npm run bench -- cluster`: one hour of small GEOs drained by 1, 2 and 3 central hosts (issue 13, part 6),
// done in 3 steps: a centre as the two-hosts test sets it up (the rig's Swift as inbox and feed store, agents
// uploading through the API) and a config file per extra host that differs only by site.name and data dir;
// then, per host count, the GEOs deliver an hour of their own and every host runs `jupiter tick` in a loop,
// as cron would, until that hour is sent; finally the wall times, side by side, and where the work went.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type mysql from 'mysql2/promise';
import { startCentre, isWorkerProcess, type Centre } from '../test/support/centre-fixture.js';
import { runCli } from '../test/support/cli.js';
import { writePrivateFile } from '../test/support/ganymede.js';
import { startSwift, type SwiftServer } from '../test/support/swift.js';
import { swiftCentreSettings } from '../test/agent/inbox-store-support.js';
import { sourceStatements } from '../test/pipeline-e2e/support.js';
import { loadAverage } from './support/shell.js';

export interface ClusterBenchOptions {
  geos: number;
  /** Host counts to time, in this order (1, 2, 3 by default). */
  hosts: number[];
  /** Each host starts a tick this often (start to start; at once when a tick took longer). */
  tickMs: number;
  /** centre.max_workers in every host's config. */
  maxWorkers: number;
  /**
   * centre.max_workers × the host count in every host's config: the claim counts the running steps of all
   * hosts against the claiming host's limit, so this is what gives N hosts N × maxWorkers workers at once.
   */
  scaleWorkers: boolean;
}

interface HostRun {
  hosts: number;
  cycle: string;
  wallMs: number;
  loadAverage: number;
  ticks: number[];
  maxWorkers: number;
  /** Succeeded attempts per host, and the summed time of all attempts (the workers' busy time). */
  attemptsByHost: Map<string, number>;
  steps: number;
  workerMs: number;
  failedAttempts: number;
}

const log = (line: string) => process.stderr.write(`bench cluster: ${line}\n`);
const drainTimeoutMs = 20 * 60_000;

export async function runClusterBench(options: ClusterBenchOptions): Promise<void> {
  const load = await loadAverage();
  // step 1: the shared services and a config file per host
  log(`starting Swift and a centre (Swift inbox and feed store, centre.max_workers ${options.maxWorkers})`);
  const server: SwiftServer = await startSwift();
  let centre: Centre | undefined;
  const hostConfigs: string[] = [];
  try {
    centre = await startCentre({
      glassbeam: true,
      settings: {
        'site.name': 'host-1',
        'centre.max_workers': options.maxWorkers,
        ...swiftCentreSettings(server, 'bench-cluster'),
      },
      agentSettings: { 'agent.inbox': 'api' },
    });
    const config = JSON.parse(readFileSync(centre.configPath, 'utf8')) as { site: { name: string; data_dir: string }; centre: { max_workers: number } };
    /** Every host's config file: the centre's, with its own site.name and data dir, and the run's max_workers. */
    const writeHostConfigs = (maxWorkers: number) => {
      hostConfigs.length = 0;
      for (let host = 1; host <= Math.max(...options.hosts); host++) {
        const path = host === 1 ? centre!.configPath : join(centre!.dir, `host-${host}.json`);
        const site = host === 1 ? config.site : { name: `host-${host}`, data_dir: join(centre!.dir, `host-${host}`) };
        hostConfigs.push(writePrivateFile(path, `${JSON.stringify({ ...config, site, centre: { ...config.centre, max_workers: maxWorkers } }, null, 2)}\n`));
      }
    };
    const source = await centre.addSource('cluster', sourceStatements(17));
    const geos = [];
    for (let g = 0; g < options.geos; g++) geos.push(await centre.addGeo(`geo${String(g + 1).padStart(2, '0')}`, source));

    // step 2: per host count, an hour of its own delivered, then drained by that many ticking hosts
    const runs: HostRun[] = [];
    for (const [index, hosts] of options.hosts.entries()) {
      const cycle = new Date(Date.UTC(2020, 0, 1, index)).toISOString().slice(0, 13);
      log(`${hosts} host(s): ${options.geos} GEOs deliver ${cycle}`);
      for (const geo of geos) await geo.deliver(cycle);
      const maxWorkers = options.scaleWorkers ? options.maxWorkers * hosts : options.maxWorkers;
      writeHostConfigs(maxWorkers);
      log(`${hosts} host(s), centre.max_workers ${maxWorkers}: ticking every ${options.tickMs} ms until ${cycle} is sent`);
      runs.push({ ...(await drainHour(centre, hostConfigs.slice(0, hosts), cycle, options.tickMs)), maxWorkers });
      await untilNoWorkers(centre, hostConfigs);
    }

    // step 3: the summary
    console.log(
      `cluster bench: ${options.geos} GEOs × 1 hour per run (3 tables, 180 rows each), inbox and feed store in Swift, ` +
        `centre.max_workers ${options.scaleWorkers ? `${options.maxWorkers} × the host count` : options.maxWorkers} in every host's config, each host ticking every ${options.tickMs} ms; load average ${load.toFixed(2)} at the start`,
    );
    for (const run of runs) {
      const byHost = [...run.attemptsByHost].map(([host, n]) => `${host} ${n}`).join(', ');
      console.log(
        `  ${run.hosts} host${run.hosts === 1 ? ' ' : 's'}: ${s(run.wallMs)} s from the first tick to ${run.cycle} sent${options.scaleWorkers ? ` (max_workers ${run.maxWorkers})` : ''}; ${run.steps} steps (by host: ${byHost}), ` +
          `${run.failedAttempts} failed attempts; workers busy ${s(run.workerMs)} s (${(run.workerMs / run.wallMs).toFixed(2)} at a time on average); ` +
          `${run.ticks.reduce((sum, n) => sum + n, 0)} ticks; load average ${run.loadAverage.toFixed(2)} as it started`,
      );
    }
    const one = runs.find((run) => run.hosts === 1);
    const ratios = runs.filter((run) => run.hosts > 1 && one).map((run) => `${run.hosts} hosts / 1 host ${(run.wallMs / one!.wallMs).toFixed(2)}`);
    if (ratios.length) console.log(`cluster: ${ratios.join(', ')} (target for 3 hosts ≤ 0.6)`);
    const maxLoad = Math.max(load, ...runs.map((run) => run.loadAverage));
    if (maxLoad > 0.5) console.log(`  note: load average up to ${maxLoad.toFixed(2)} as the runs started; on a busy machine these times vary widely`);
  } finally {
    if (centre) {
      for (const config of hostConfigs) await killWorkersOf(centre, config);
      await centre.dispose();
    }
    await server.stop();
  }
}

/** Every host ticks in a loop of its own until the hour is sent; the wall time runs from the first tick. */
async function drainHour(centre: Centre, configs: string[], cycle: string, tickMs: number): Promise<Omit<HostRun, 'maxWorkers'>> {
  const load = await loadAverage();
  const cycleStart = `${cycle.replace('T', ' ')}:00:00`;
  let stop = false;
  const ticks = configs.map(() => 0);
  const started = performance.now();
  const loops = configs.map(async (config, host) => {
    while (!stop) {
      const tickStarted = performance.now();
      const tick = await runCli(['--config', config, 'jupiter', 'tick'], {}, { timeoutMs: 60_000 });
      ticks[host]!++;
      // 10: the tick ran, but something needs attention (a failed step); the check below says what.
      if (tick.code !== 0 && tick.code !== 10) throw new Error(`jupiter tick on host-${host + 1} failed (exit ${tick.code}):\n${tick.stderr.slice(-2000)}`);
      await sleep(Math.max(0, tickMs - (performance.now() - tickStarted)));
    }
  });
  const looping = Promise.all(loops);
  try {
    for (;;) {
      const state = await cycleState(centre, cycleStart);
      if (state === 'sent') break;
      const failed = await failedSteps(centre, cycleStart);
      if (failed.length) throw new Error(`${cycle}: ${failed.join('; ')}`);
      if (performance.now() - started > drainTimeoutMs) throw new Error(`${cycle} not sent after ${drainTimeoutMs / 60_000} minutes (cycle state ${state ?? 'none'})`);
      await Promise.race([sleep(100), looping]);
    }
  } finally {
    stop = true;
  }
  const wallMs = performance.now() - started;
  await looping;
  const [attempts] = await centre.db.query<mysql.RowDataPacket[]>(
    `SELECT a.host, a.outcome, TIMESTAMPDIFF(MICROSECOND, a.started_at, a.finished_at) AS us FROM step_attempts a JOIN steps s ON s.id = a.step_id
      WHERE s.cycle_start = ?`,
    [cycleStart],
  );
  const attemptsByHost = new Map<string, number>();
  for (const attempt of attempts.filter((row) => row.outcome === 'succeeded')) attemptsByHost.set(String(attempt.host), (attemptsByHost.get(String(attempt.host)) ?? 0) + 1);
  return {
    hosts: configs.length,
    cycle,
    wallMs,
    loadAverage: load,
    ticks,
    attemptsByHost: new Map([...attemptsByHost].sort(([a], [b]) => a.localeCompare(b))),
    steps: attempts.filter((row) => row.outcome === 'succeeded').length,
    workerMs: attempts.reduce((sum, row) => sum + Number(row.us ?? 0) / 1000, 0),
    failedAttempts: attempts.filter((row) => row.outcome !== 'succeeded').length,
  };
}

async function cycleState(centre: Centre, cycleStart: string): Promise<string | undefined> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>('SELECT state FROM cycles WHERE cycle_start = ?', [cycleStart]);
  return rows[0]?.state as string | undefined;
}

/** Steps of the hour that failed for good: the hour will not be sent, so the run stops and says why. */
async function failedSteps(centre: Centre, cycleStart: string): Promise<string[]> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>("SELECT name, txn_id, last_error FROM steps WHERE cycle_start = ? AND state = 'failed'", [cycleStart]);
  return rows.map((row) => `${row.name} of ${row.txn_id ?? 'the cycle'} failed: ${row.last_error ?? '?'}`);
}

/** The last workers finish their bookkeeping after the hour is sent; the next run starts on a quiet centre. */
async function untilNoWorkers(centre: Centre, configs: string[]): Promise<void> {
  for (let waited = 0; waited < 30_000; waited += 100) {
    const [rows] = await centre.db.query<mysql.RowDataPacket[]>("SELECT pid FROM step_attempts WHERE outcome = 'running'");
    const alive = rows.filter((row) => row.pid !== null && configs.some((config) => isWorkerProcess(Number(row.pid), config)));
    if (rows.length === 0 && alive.length === 0) return;
    await sleep(100);
  }
  throw new Error('workers still running 30 s after the hour was sent');
}

async function killWorkersOf(centre: Centre, config: string): Promise<void> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>("SELECT pid FROM step_attempts WHERE outcome = 'running' AND pid IS NOT NULL").catch(() => [[]] as unknown as [mysql.RowDataPacket[]]);
  for (const { pid } of rows) if (isWorkerProcess(Number(pid), config)) process.kill(Number(pid), 'SIGKILL');
}

const s = (ms: number) => (ms / 1000).toFixed(1);
