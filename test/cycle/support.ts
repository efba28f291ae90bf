// Shared by the cycle tests (feed, send, archive): a tiny Cloud Control-like source, the built CLI with a
// centre's config file plus GANYMEDE_* overrides, feed files read back, CSV parsed back, CHECKSUM TABLE of
// a schema, and polling helpers for the kill tests.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type mysql from 'mysql2/promise';
import { runCli, type CliRun } from '../support/cli.js';
import type { Centre } from '../support/centre-fixture.js';
import { formatCycle, hourMs } from '../../src/cycle.js';

export { hourMs };

/** The cycle `hours` before the current hour, e.g. to be past any deadline. */
export function hoursAgo(hours: number): string {
  return formatCycle(new Date(Date.now() - hours * hourMs));
}

/** The hour after `cycle`. */
export function nextCycle(cycle: string, hours = 1): string {
  return formatCycle(new Date(Date.parse(`${cycle}:00:00Z`) + hours * hourMs));
}

/**
 * Two small tables: `accounts` (a key, DECIMAL, DATETIME, NULLs, text that CSV must quote) and `tags`
 * (no key, duplicate rows). `seed` makes each GEO's rows differ.
 */
export function smallSource(seed: number, accounts = 6): string[] {
  const rows = Array.from({ length: accounts }, (_, i) =>
    `(${i + 1}, 'acct ${seed}-${i + 1}${i === 1 ? ', "quoted"' : ''}', ${(seed * 10 + i * 1.5).toFixed(2)}, '2026-0${(i % 9) + 1}-0${(i % 9) + 1} 0${i % 10}:15:00', ${i % 2 ? 'NULL' : `'note\\nline ${i}'`})`);
  return [
    'CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(60) NOT NULL, balance DECIMAL(10,2), created_at DATETIME, note VARCHAR(40) NULL)',
    `INSERT INTO accounts VALUES ${rows.join(', ')}`,
    'CREATE TABLE tags (account_id INT, tag VARCHAR(20))',
    `INSERT INTO tags VALUES (1, 'gold'), (1, 'gold'), (2, 'eu'), (${seed}, 'seed')`,
  ];
}

/**
 * `blobs`: rows of random base64, which gzip cannot shrink much, so that a GEO's delivered file and the
 * feed file of the collection are several MB (120 rows of 64 KiB ≈ 6 MB).
 */
export function blobStatements(rows = 120, chars = 64 * 1024): string[] {
  const statements = ['CREATE TABLE blobs (id INT PRIMARY KEY, data MEDIUMTEXT NOT NULL)'];
  for (let first = 0; first < rows; first += 10) {
    const values = Array.from({ length: Math.min(10, rows - first) }, (_, i) => `(${first + i + 1}, '${randomBytes((chars * 3) / 4).toString('base64')}')`);
    statements.push(`INSERT INTO blobs VALUES ${values.join(', ')}`);
  }
  return statements;
}

/** This process's environment without GANYMEDE_* (the config file says it all), as runCli gives it. */
export function cliEnvironment(): Record<string, string> {
  const kept = Object.entries(process.env).filter((entry): entry is [string, string] => !entry[0].startsWith('GANYMEDE_') && entry[1] !== undefined);
  return { ...Object.fromEntries(kept), NO_COLOR: '1' };
}

/** `ganymede --config <centre's file> …args` with extra GANYMEDE_* settings in the environment. */
export function cliWith(centre: Centre, args: string[], env: Record<string, string> = {}, timeoutMs = 180_000): Promise<CliRun> {
  return runCli(['--config', centre.configPath, ...args], env, { timeoutMs });
}

/** A CLI run's output, for assertion messages. */
export const shown = (run: CliRun): string => `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;

export function sha256Of(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Every file below dir (relative names, sorted) with its sha256. */
export function treeHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (relative: string) => {
    for (const name of readdirSync(join(dir, relative)).sort()) {
      const path = join(dir, relative, name);
      if (statSync(path).isDirectory()) walk(join(relative, name));
      else out[join(relative, name)] = sha256Of(path);
    }
  };
  walk('');
  return out;
}

export interface FeedManifest {
  format: string;
  version: number;
  cycle: string;
  encoding: 'ndjson' | 'csv';
  mode: 'full' | 'changes';
  geos: string[];
  missingGeos: string[];
  files: Array<{ name: string; collection: string; rows: number; bytes: number; sha256: string }>;
}

export function readManifest(dir: string): FeedManifest {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as FeedManifest;
}

/** The NDJSON records of a gzip feed file. */
export function ndjsonRecords(path: string): Array<Record<string, unknown>> {
  const text = gunzipSync(readFileSync(path)).toString('utf8');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** RFC 4180 CSV (quoted cells may hold commas, quotes and newlines) into rows of cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') (cell += '"', i++);
      else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') (row.push(cell), (cell = ''));
    else if (char === '\n') (row.push(cell), rows.push(row), (row = []), (cell = ''));
    else cell += char;
  }
  if (cell !== '' || row.length > 0) (row.push(cell), rows.push(row));
  return rows;
}

/** A gzip CSV feed file as objects keyed by its header line. */
export function csvRecords(path: string): Array<Record<string, string>> {
  const [header, ...rows] = parseCsv(gunzipSync(readFileSync(path)).toString('utf8'));
  return rows.map((cells) => Object.fromEntries(header!.map((column, i) => [column, cells[i]!])));
}

/** CHECKSUM TABLE of every base table of a schema, by table name. */
export async function schemaChecksums(conn: mysql.Connection, schema: string, except: string[] = []): Promise<Record<string, string>> {
  const [tables] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY table_name",
    [schema],
  );
  const out: Record<string, string> = {};
  for (const { name } of tables) {
    if (except.includes(String(name))) continue;
    const [rows] = await conn.query<mysql.RowDataPacket[]>(`CHECKSUM TABLE \`${schema}\`.\`${String(name)}\``);
    out[String(name)] = String(rows[0]?.Checksum);
  }
  return out;
}

export { waitFor } from '../support/wait.js';

/** Every file below dir, relative, sorted; [] when dir is missing. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (relative: string) => {
    let names: string[];
    try {
      names = readdirSync(join(dir, relative)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, relative, name);
      let isDir = false;
      try {
        isDir = statSync(path).isDirectory();
      } catch {
        continue;
      }
      if (isDir) walk(join(relative, name));
      else out.push(join(relative, name));
    }
  };
  walk('');
  return out;
}

/** Whether the process is alive and not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

export async function cycleRow(centre: Centre, cycle: string): Promise<{ state: string; missing_geos: string | null; error: string | null }> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>('SELECT state, missing_geos, error FROM cycles WHERE cycle_start = ?', [new Date(`${cycle}:00:00Z`)]);
  return rows[0] as { state: string; missing_geos: string | null; error: string | null };
}

export interface CycleStepRow {
  name: string;
  state: string;
  attempts: number;
  last_error: string | null;
}

export async function cycleSteps(centre: Centre, cycle: string): Promise<CycleStepRow[]> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>(
    'SELECT name, state, attempts, last_error FROM steps WHERE txn_id IS NULL AND cycle_start = ? ORDER BY id',
    [new Date(`${cycle}:00:00Z`)],
  );
  return rows.map((row) => ({ name: row.name, state: row.state, attempts: Number(row.attempts), last_error: row.last_error }));
}

export async function cycleAttempts(centre: Centre, cycle: string, step: 'feed' | 'send'): Promise<Array<{ outcome: string; error: string | null; pid: number | null }>> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>(
    `SELECT a.outcome, a.error, a.pid FROM step_attempts a JOIN steps s ON s.id = a.step_id
      WHERE s.txn_id IS NULL AND s.cycle_start = ? AND s.name = ? ORDER BY a.attempt`,
    [new Date(`${cycle}:00:00Z`), step],
  );
  return rows.map((row) => ({ outcome: row.outcome, error: row.error, pid: row.pid === null ? null : Number(row.pid) }));
}
