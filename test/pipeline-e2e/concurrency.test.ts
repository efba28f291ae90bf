// Several cron ticks at once: 4 `ganymede jupiter tick` processes started together, round after round,
// until every delivery is done and the hour sent. Every step must have run exactly once.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import type { CliRun } from '../support/cli.js';
import { assertWarehouseHoldsSource, sourceStatements } from './support.js';

const cycle = '2026-03-01T10';
const geoNames = ['north', 'south', 'east'];
const ticksAtOnce = 4;
const maxRounds = 100;
let centre: Centre;
let rounds = 0;
const tickRuns: CliRun[] = [];

async function openWork(): Promise<number> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>(
    "SELECT (SELECT COUNT(*) FROM steps WHERE state IN ('pending', 'running')) + (SELECT COUNT(*) FROM cycles WHERE state <> 'sent') AS open",
  );
  return Number(rows[0]!.open);
}

/**
 * Workers whose process is gone while their attempt is still running: they died without finishing or
 * failing their step (finishStep commits before a worker exits). Checked process first, attempt second.
 */
async function diedWorkers(): Promise<string[]> {
  const running = async () => {
    const [rows] = await centre.db.query<mysql.RowDataPacket[]>(
      "SELECT s.name, s.txn_id, a.pid, a.log_path FROM step_attempts a JOIN steps s ON s.id = a.step_id WHERE a.outcome = 'running' AND a.pid IS NOT NULL",
    );
    return rows;
  };
  const gone = (await running()).filter((row) => !isAlive(Number(row.pid))).map((row) => Number(row.pid));
  return (await running())
    .filter((row) => gone.includes(Number(row.pid)))
    .map((row) => `worker ${row.name} of ${row.txn_id ?? 'the cycle'} (pid ${row.pid}) exited without finishing its step; its log ${row.log_path}: ${JSON.stringify(readLog(row.log_path))}`);
}

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const readLog = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').slice(-2000) : '(no log)');

async function describeOpenWork(): Promise<string> {
  const [steps] = await centre.db.query<mysql.RowDataPacket[]>("SELECT name, txn_id, state, attempts, last_error FROM steps WHERE state <> 'done'");
  const [cycles] = await centre.db.query<mysql.RowDataPacket[]>('SELECT cycle_start, state, error FROM cycles');
  return JSON.stringify({ steps, cycles });
}

before(async () => {
  centre = await startCentre({ glassbeam: true });
  for (const [i, name] of geoNames.entries()) {
    const geo = await centre.addGeo(name, await centre.addSource(`src${name}`, sourceStatements(20 + i)));
    await geo.deliver(cycle);
  }
  while ((await openWork()) > 0) {
    if (++rounds > maxRounds) assert.fail(`still not done after ${maxRounds} rounds of ${ticksAtOnce} ticks: ${await describeOpenWork()}`);
    tickRuns.push(...(await Promise.all(Array.from({ length: ticksAtOnce }, () => centre.cli(['jupiter', 'tick'], 60_000)))));
    await sleep(100);
    const died = await diedWorkers();
    assert.deepEqual(died, [], 'a worker launched by `jupiter tick` must outlive the tick');
  }
});
after(async () => {
  await centre?.dispose();
});

test('every tick exited 0', () => {
  assert.ok(rounds > 1, 'the work took several rounds of ticks');
  assert.deepEqual(tickRuns.filter((run) => run.code !== 0).map((run) => run.stderr), []);
});

test('every step ran exactly once: one attempt per step, and it succeeded', async () => {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>(
    `SELECT s.name, s.txn_id, s.state, COUNT(a.attempt) AS attempts, SUM(a.outcome = 'succeeded') AS succeeded
       FROM steps s LEFT JOIN step_attempts a ON a.step_id = s.id GROUP BY s.id ORDER BY s.id`,
  );
  assert.equal(rows.length, geoNames.length * 4 + 2, 'decrypt, load, etl, clean per transaction; feed and send for the hour');
  assert.deepEqual(rows.filter((row) => Number(row.attempts) !== 1 || Number(row.succeeded) !== 1 || row.state !== 'done'), [], 'no step ran twice, none failed');
  const launches = tickRuns.flatMap((run) => [...run.stdout.matchAll(/^launched (\w+) for (transaction \d+|cycle \S+)/gm)].map((match) => `${match[1]} ${match[2]}`));
  assert.equal(launches.length, rows.length, 'the ticks launched one worker per step');
  assert.equal(new Set(launches).size, launches.length, 'and never the same step twice');
});

test('every transaction is done and the warehouse holds each source', async () => {
  const [txns] = await centre.db.query<mysql.RowDataPacket[]>('SELECT state FROM transactions');
  assert.deepEqual(txns.map((txn) => txn.state), geoNames.map(() => 'done'));
  const warehouse = await centre.warehouse();
  for (const geo of centre.geos.values()) await assertWarehouseHoldsSource(warehouse, geo.name, geo.sourceDatabase);
});
