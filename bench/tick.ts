// `npm run bench -- tick`: how long the cron tick takes and how fast a drain hands one step to the next
// (done in 4 steps): two fresh, migrated Ganymede databases, one left empty and one given 50 GEOs × 24
// hours of finished history through the state DAL; the built `jupiter tick` timed as its own process on
// each, in turn, with a breakdown of where the idle tick's time goes; then `jupiter drain` takes a few
// GEOs' deliveries through every step on a whole centre, and the hand-offs are read from the step records.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type mysql from 'mysql2/promise';
import { startCentre, type Centre } from '../test/support/centre-fixture.js';
import { testCentre, writePrivateFile } from '../test/support/ganymede.js';
import { mysqlOptions, mysqlPasswordForTests, mysqlUrlFor } from '../test/support/mysql.js';
import { hourMs } from '../src/cycle.js';
import { openStateDb, type Db } from '../src/state/db.js';
import { markCycleReady } from '../src/state/cycles.js';
import { addGeo } from '../src/state/geos.js';
import { claimStepByHand } from '../src/state/step-claims.js';
import { finishStep } from '../src/state/step-outcomes.js';
import { findCycleStep, findTxnStep, txnStepOrder, type StepName } from '../src/state/steps.js';
import { closeTransaction, openTransaction } from '../src/state/transactions.js';
import { sourceStatements } from './support/etl-source.js';
import { loadAverage, median } from './support/shell.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'ganymede');

export interface TickBenchOptions {
  /** Timed runs of each kind of tick (and of each part of the breakdown). */
  repeat: number;
  geos: number;
  hours: number;
  /** Drains for the hand-off, each of one hour delivered by `drainGeos` GEOs. */
  drains: number;
  drainGeos: number;
}

const log = (line: string) => process.stderr.write(`bench tick: ${line}\n`);

export async function runTickBench(options: TickBenchOptions): Promise<void> {
  const load = await loadAverage();
  console.log(`tick bench: load average ${load.toFixed(2)} at the start; each time is the median of ${options.repeat} runs (min–max in brackets)`);
  // step 1: two fresh Ganymede databases, one to stay empty and one for the history, and a config file each
  const dir = await mkdtemp(join(tmpdir(), 'gmd-bench-tick-'));
  const empty = await testCentre('tickidle');
  const full = await testCentre('tickhistory');
  let db: Db | undefined;
  try {
    const password = mysqlPasswordForTests();
    const passwordFile = password ? writePrivateFile(join(dir, 'mysql.password'), password) : undefined;
    const configFor = async (name: string, database: string) => {
      const file = join(dir, `${name}.json`);
      const mysqlSettings = { url: mysqlUrlFor(database), ...(passwordFile ? { password_file: passwordFile } : {}) };
      await writeFile(file, JSON.stringify({ site: { name: 'bench-tick', data_dir: join(dir, name) }, mysql: mysqlSettings }), { mode: 0o600 });
      return file;
    };
    const idleConfig = await configFor('idle', empty.database);
    const loadedConfig = await configFor('loaded', full.database);

    // step 2: the history
    log(`inserting ${options.geos} GEOs × ${options.hours} hours of finished transactions through the state DAL`);
    db = await openStateDb(full.loaded);
    const inserted = await insertHistory(db, options.geos, options.hours);

    // step 3: the ticks, and the parts of the idle one, in turn in every round so that all see the same machine
    log('ticks');
    const tickOn = (config: string, ...flags: string[]) => () => timeCli(['--config', config, 'jupiter', 'tick', ...flags]);
    // The first runs pay for cold caches; not counted.
    await tickOn(idleConfig)();
    await tickOn(loadedConfig)();
    const runs = { node: [] as number[], version: [] as number[], dryRun: [] as number[], idle: [] as number[], loaded: [] as number[] };
    for (let i = 0; i < options.repeat; i++) {
      runs.node.push(await timeCommand(process.execPath, ['-e', '0']));
      runs.version.push(await timeCli(['--version']));
      runs.dryRun.push(await tickOn(idleConfig, '--dry-run')());
      runs.idle.push(await tickOn(idleConfig)());
      runs.loaded.push(await tickOn(loadedConfig)());
    }
    const probe = await mysqlProbe(empty.database, options.repeat);
    const { idle, loaded } = runs;

    console.log(`tick: idle ${ms(median(idle))} ms, loaded ${ms(median(loaded))} ms`);
    console.log(`  idle    ${spread(idle)}; loaded ${spread(loaded)} over ${inserted.txns} done transactions (${options.geos} GEOs × ${options.hours} hours), ${inserted.steps} done steps, ${inserted.cycles} sent cycles, inserted in ${(inserted.ms / 1000).toFixed(1)} s`);
    console.log(`  where the idle tick's time goes (each a process of its own, median):`);
    console.log(`    node -e 0                        ${ms(median(runs.node)).padStart(5)} ms  node's own start`);
    console.log(`    ganymede --version               ${ms(median(runs.version)).padStart(5)} ms  + the CLI's modules and commander (+${ms(median(runs.version) - median(runs.node))})`);
    console.log(`    ganymede jupiter tick --dry-run  ${ms(median(runs.dryRun)).padStart(5)} ms  + config (zod), mysql2, connect, schema check, the claim query (+${ms(median(runs.dryRun) - median(runs.version))})`);
    console.log(`    ganymede jupiter tick            ${ms(median(idle)).padStart(5)} ms  + heartbeat metric, lease expiry, cycle check, claim under the lock (+${ms(median(idle) - median(runs.dryRun))})`);
    console.log(
      `    inside one process: import zod ${ms(probe.zodMs)} ms, import mysql2 ${ms(probe.importMs)} ms, connect + first query ${ms(probe.connectMs)} ms, ` +
        `the schema version query ${ms(probe.schemaMs)} ms`,
    );

    // step 4: the drain's hand-offs on a whole centre
    log(`drain: ${options.drains} × ${options.drainGeos} GEOs through decrypt, load, etl, clean, feed and send`);
    const handoffs = await measureHandoffs(options.drains, options.drainGeos);
    console.log(`handoff: ${ms(median(handoffs.all))} ms`);
    console.log(
      `  median of ${handoffs.all.length} hand-offs (min–max ${ms(Math.min(...handoffs.all))}–${ms(Math.max(...handoffs.all))} ms), each the next step's start minus the previous step's end in the step records: ` +
        `within a transaction ${ms(median(handoffs.txn))} ms (${handoffs.txn.length}), last etl → feed ${ms(median(handoffs.feed))} ms (${handoffs.feed.length}), feed → send ${ms(median(handoffs.send))} ms (${handoffs.send.length})`,
    );
    if (load > 0.5) console.log(`  note: load average ${load.toFixed(2)} when the run started; on a busy machine these times vary widely`);
  } finally {
    await db?.end();
    await empty.dispose();
    await full.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Wall time of one process, from spawn to exit, as cron would see it. */
async function timeCommand(command: string, args: string[]): Promise<number> {
  // Only the settings we give: a GANYMEDE_* variable of the caller's would change the run.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('GANYMEDE_')));
  const started = performance.now();
  const run = await execa(command, args, { env: { ...env, NO_COLOR: '1' }, extendEnv: false, reject: false, stdin: 'ignore' });
  const wall = performance.now() - started;
  if (run.exitCode !== 0) throw new Error(`${[command, ...args].join(' ')} failed (exit ${run.exitCode}):\n${String(run.stderr).slice(-2000)}`);
  return wall;
}

const timeCli = (args: string[]) => timeCommand(process.execPath, [bin, ...args]);

/** A node process of its own that imports mysql2, connects and asks for the schema version, timing each. */
async function mysqlProbe(database: string, times: number): Promise<{ zodMs: number; importMs: number; connectMs: number; schemaMs: number }> {
  const { host, port, user, password } = mysqlOptions(database);
  const script = `
    const z0 = performance.now();
    await import('zod');
    const t0 = performance.now();
    const { default: mysql } = await import('mysql2/promise');
    const t1 = performance.now();
    const conn = await mysql.createConnection(JSON.parse(process.env.PROBE_OPTIONS));
    await conn.query('SELECT 1');
    const t2 = performance.now();
    await conn.query('SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations');
    const t3 = performance.now();
    await conn.end();
    console.log(JSON.stringify({ zodMs: t0 - z0, importMs: t1 - t0, connectMs: t2 - t1, schemaMs: t3 - t2 }));`;
  const runs: Array<{ zodMs: number; importMs: number; connectMs: number; schemaMs: number }> = [];
  for (let i = 0; i < times; i++) {
    // cwd: the checkout, so that the bare import finds its node_modules.
    const run = await execa(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env: { PROBE_OPTIONS: JSON.stringify({ host, port, user, password, database }) } });
    runs.push(JSON.parse(run.stdout) as (typeof runs)[number]);
  }
  return { zodMs: median(runs.map((r) => r.zodMs)), importMs: median(runs.map((r) => r.importMs)), connectMs: median(runs.map((r) => r.connectMs)), schemaMs: median(runs.map((r) => r.schemaMs)) };
}

/**
 * What a day of a 50-GEO centre leaves behind: every GEO's hour delivered, its four steps claimed and
 * finished, each hour fed and sent — made with the same DAL calls the API and the workers make.
 */
async function insertHistory(db: Db, geos: number, hours: number): Promise<{ txns: number; steps: number; cycles: number; ms: number }> {
  const started = performance.now();
  const firstHour = Math.floor(Date.now() / hourMs) * hourMs - (hours + 1) * hourMs;
  const geoIds: number[] = [];
  for (let g = 0; g < geos; g++) {
    const added = await addGeo(db, { name: `geo${String(g).padStart(2, '0')}`, publicKey: 'history only', keyFingerprint: 'F'.repeat(40) });
    if (!added) throw new Error(`could not add GEO geo${g}`);
    geoIds.push(added.geo.id);
  }
  let txns = 0;
  let steps = 0;
  const finish = async (step: StepName, found: Awaited<ReturnType<typeof findTxnStep>>) => {
    if (!found) throw new Error(`no ${step} step to finish`);
    const claim = await claimStepByHand(db, found.id, 'bench-history', 60_000);
    if (!claim || !(await finishStep(db, found.id, claim.leaseToken, { rows: 1000, bytes: 100_000 }))) throw new Error(`could not finish step ${found.id}`);
    steps++;
  };
  for (let h = 0; h < hours; h++) {
    const cycleStart = new Date(firstHour + h * hourMs);
    for (const geoId of geoIds) {
      const opened = await openTransaction(db, geoId, cycleStart);
      if (opened.kind !== 'opened') throw new Error(`could not open a transaction: ${opened.reason}`);
      await closeTransaction(db, opened.txn.id, { name: `history_${opened.txn.id}.tar.gz.gpg`, size: 1000, sha256: '0'.repeat(64) });
      for (const step of txnStepOrder) await finish(step, await findTxnStep(db, opened.txn.id, step));
      txns++;
    }
    if (!(await markCycleReady(db, cycleStart, []))) throw new Error(`cycle ${cycleStart.toISOString()} could not be marked ready`);
    for (const step of ['feed', 'send'] as const) await finish(step, await findCycleStep(db, cycleStart, step));
  }
  return { txns, steps, cycles: hours, ms: performance.now() - started };
}

async function measureHandoffs(drains: number, geos: number): Promise<{ all: number[]; txn: number[]; feed: number[]; send: number[] }> {
  const centre: Centre = await startCentre({ glassbeam: true });
  try {
    const sources = [];
    for (let g = 0; g < geos; g++) sources.push(await centre.addGeo(`drain${g}`, await centre.addSource(`drainsrc${g}`, sourceStatements(300))));
    for (let d = 0; d < drains; d++) {
      const cycle = new Date(Date.UTC(2020, 0, 1, d)).toISOString().slice(0, 13);
      for (const geo of sources) await geo.deliver(cycle);
      const drained = await centre.cli(['jupiter', 'drain', '--timeout', '600'], 700_000);
      if (drained.code !== 0) throw new Error(`jupiter drain failed (exit ${drained.code}):\n${drained.stderr.slice(-3000)}`);
    }
    return await handoffsFrom(centre.db);
  } finally {
    await centre.dispose();
  }
}

/** From the attempts that succeeded: the next step's start minus the end of the step before it. */
async function handoffsFrom(db: Db): Promise<{ all: number[]; txn: number[]; feed: number[]; send: number[] }> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT s.txn_id, s.cycle_start, s.name, a.started_at, a.finished_at FROM steps s
       JOIN step_attempts a ON a.step_id = s.id AND a.outcome = 'succeeded' ORDER BY s.cycle_start, s.txn_id, a.started_at`,
  );
  const txn: number[] = [];
  const feed: number[] = [];
  const send: number[] = [];
  const byTxn = new Map<number, mysql.RowDataPacket[]>();
  for (const row of rows) if (row.txn_id !== null) byTxn.set(Number(row.txn_id), [...(byTxn.get(Number(row.txn_id)) ?? []), row]);
  for (const steps of byTxn.values()) {
    for (let i = 1; i < steps.length; i++) txn.push(steps[i]!.started_at.getTime() - steps[i - 1]!.finished_at.getTime());
  }
  for (const row of rows.filter((candidate) => candidate.txn_id === null)) {
    const sameCycle = rows.filter((candidate) => candidate.cycle_start.getTime() === row.cycle_start.getTime());
    if (row.name === 'feed') {
      // The feed waits for the last GEO of the hour: its etl is the step it follows.
      const lastEtl = Math.max(...sameCycle.filter((candidate) => candidate.name === 'etl').map((candidate) => candidate.finished_at.getTime()));
      feed.push(row.started_at.getTime() - lastEtl);
    } else if (row.name === 'send') {
      const fed = sameCycle.find((candidate) => candidate.name === 'feed');
      if (fed) send.push(row.started_at.getTime() - fed.finished_at.getTime());
    }
  }
  return { all: [...txn, ...feed, ...send], txn, feed, send };
}

const ms = (value: number) => value.toFixed(0);
const spread = (values: number[]) => `${ms(median(values))} ms (${ms(Math.min(...values))}–${ms(Math.max(...values))})`;
