// Shared by the agent tests: the source database, what the centre's database says about a GEO's hours,
// the files a run leaves behind, and the environment to run the built CLI as the fixture's agent.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2';
import type mysqlPromise from 'mysql2/promise';
import { loadConfig, type LoadedConfig } from '../../src/config/load.js';
import { GanymedeError } from '../../src/errors.js';
import { mysqlOptions, mysqlPasswordForTests, mysqlUrlFor } from '../support/mysql.js';
import type { AgentFixture } from '../support/agent-fixture.js';
import { generatedTable, generatedTableValuesSql } from '../pipeline/torture-schema.js';

/** A callback-API connection (what the dump and load code take); end it with `endConnection`. */
export function connectTo(database: string): mysql.Connection {
  return mysql.createConnection({ ...mysqlOptions(database), multipleStatements: false });
}

export async function endConnection(conn: mysql.Connection): Promise<void> {
  await conn.promise().end();
}

/** Runs statements in the fixture's source database. */
export async function inSource(fixture: AgentFixture, statements: string[]): Promise<void> {
  const conn = connectTo(fixture.sourceDatabase);
  try {
    for (const sql of statements) await conn.promise().query(sql);
  } finally {
    await endConnection(conn);
  }
}

/** `CHECKSUM TABLE` and `COUNT(*)` of one table, as one comparable line. */
export async function tableFacts(admin: mysqlPromise.Connection, database: string, table: string): Promise<string> {
  const name = `\`${database}\`.\`${table.replaceAll('`', '``')}\``;
  if (table === generatedTable) return JSON.stringify((await admin.query({ sql: generatedTableValuesSql(name), rowsAsArray: true }))[0]);
  const [[checksum]] = (await admin.query({ sql: `CHECKSUM TABLE ${name}`, rowsAsArray: true })) as unknown as [[[string, number | null]]];
  const [[count]] = (await admin.query({ sql: `SELECT COUNT(*) FROM ${name}`, rowsAsArray: true })) as unknown as [[[number]]];
  return `checksum ${checksum[1]}, ${count[0]} rows`;
}

export async function baseTables(admin: mysqlPromise.Connection, database: string): Promise<string[]> {
  const [rows] = (await admin.query("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY 1", [database])) as unknown as [Array<{ name: string }>];
  return rows.map((row) => row.name);
}

export interface TxnRow {
  id: number;
  cycle: string;
  state: string;
  delivery: number;
  fileName: string | null;
  fileSize: number | null;
  fileSha256: string | null;
  error: string | null;
}

/** Every transaction of the Ganymede database, oldest first, straight from its table. */
export async function transactions(fixture: AgentFixture): Promise<TxnRow[]> {
  const admin = await fixture.admin();
  const [rows] = (await admin.query(
    `SELECT id, DATE_FORMAT(cycle_start, '%Y-%m-%dT%H') AS cycle, state, delivery, file_name, file_size, file_sha256, error
       FROM \`${fixture.api.database}\`.transactions ORDER BY id`,
  )) as unknown as [Array<Record<string, unknown>>];
  return rows.map((row) => ({
    id: Number(row.id),
    cycle: String(row.cycle),
    state: String(row.state),
    delivery: Number(row.delivery),
    fileName: (row.file_name as string | null) ?? null,
    fileSize: row.file_size === null ? null : Number(row.file_size),
    fileSha256: (row.file_sha256 as string | null) ?? null,
    error: (row.error as string | null) ?? null,
  }));
}

export interface EventRow {
  key: string | null;
  phase: string;
  level: string;
  message: string | null;
}

export async function storedEvents(fixture: AgentFixture, txnId: number): Promise<EventRow[]> {
  const admin = await fixture.admin();
  const [rows] = (await admin.query(`SELECT event_key, phase, level, message FROM \`${fixture.api.database}\`.events WHERE txn_id = ? ORDER BY id`, [txnId])) as unknown as [
    Array<{ event_key: string | null; phase: string; level: string; message: string | null }>,
  ];
  return rows.map((row) => ({ key: row.event_key, phase: row.phase, level: row.level, message: row.message }));
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Names in a directory, sorted; none when it does not exist. */
export function filesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

export const workDirOf = (fixture: AgentFixture) => join(fixture.dir, 'work');

/** The fixture's agent settings as GANYMEDE_* variables, for the built CLI (the token too, as env). */
export function agentEnv(fixture: AgentFixture, settings: Record<string, string> = {}): Record<string, string> {
  const all: Record<string, string> = {
    'api.url': fixture.api.url,
    'logging.level': 'info',
    'agent.geo': fixture.geo,
    'agent.token': fixture.token,
    'agent.source.url': mysqlUrlFor(fixture.sourceDatabase),
    'agent.signing_key_file': fixture.keys.geoPrivate,
    'agent.centre_public_key_file': fixture.keys.centrePublic,
    'agent.inbox': `file://${fixture.inboxDir}`,
    'agent.work_dir': workDirOf(fixture),
    ...settings,
  };
  const env = Object.fromEntries(Object.entries(all).map(([key, value]) => [`GANYMEDE_${key.replace(/\./g, '_').toUpperCase()}`, value]));
  const password = mysqlPasswordForTests();
  if (password && !('agent.source.password' in settings)) env.GANYMEDE_AGENT_SOURCE_PASSWORD = password;
  return env;
}

/** The agent's config from `agentEnv`: unlike `fixture.config`, the settings may replace the token too. */
export function agentConfig(fixture: AgentFixture, settings: Record<string, string> = {}): LoadedConfig {
  return loadConfig({ env: agentEnv(fixture, { 'logging.level': 'warn', ...settings }), configPath: null });
}

/** Asserts a GanymedeError with this exit code whose message (one line) matches. */
export function isGanymedeError(exitCode: number, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof GanymedeError, `not a GanymedeError: ${(error as Error)?.stack ?? String(error)}`);
    assert.equal(error.exitCode, exitCode, `exit code of: ${error.message}`);
    assert.doesNotMatch(error.message, /\n/, 'one line');
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

/** An admin call to the fixture's API. */
export async function adminApi(fixture: AgentFixture, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${fixture.api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${fixture.api.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/**
 * A table `big` of `2 ** doublings` rows (INSERT … SELECT doubling, so it is quick to make) whose text
 * column carries `marker` in every row: a run over it takes seconds, and its plaintext is recognisable.
 */
export async function createBigTable(fixture: AgentFixture, doublings: number, marker: string): Promise<number> {
  await inSource(fixture, [
    'CREATE TABLE big (id INT PRIMARY KEY, n DOUBLE, note VARCHAR(200))',
    `INSERT INTO big VALUES (1, 0.5, CONCAT('${marker} ', MD5(1)))`,
    ...Array.from({ length: doublings }, () => `INSERT INTO big SELECT id + (SELECT MAX(id) FROM big), RAND(), CONCAT('${marker} ', MD5(RAND())) FROM big`),
  ]);
  return 2 ** doublings;
}
