// The MariaDB the benchmarks run against: the test rig's server (GANYMEDE_TEST_MYSQL_URL, else
// root@127.0.0.1:3306), tuned the way MEASUREMENTS.md was measured, as far as SET GLOBAL reaches.
import { readFile } from 'node:fs/promises';
import mysql from 'mysql2/promise';
import { ensureMysql, mysqlOptions } from '../../test/support/mysql.js';
import { ensureCloudControl, type CloudControl } from './cloudcontrol.js';

/** Dynamic on MariaDB 10.11; raised only, never lowered, so other users of the server lose nothing. */
const wantedGlobals: { name: string; value: number; why: string }[] = [
  // The whole benchmark database (≈1 GB of pages per scale step) stays cached, so runs read memory, not disk.
  { name: 'innodb_buffer_pool_size', value: 4 * 1024 ** 3, why: 'the data set stays in memory' },
  // A small redo log makes the generator's bulk INSERT … SELECT stall on checkpoints.
  { name: 'innodb_log_file_size', value: 1024 ** 3, why: 'bulk generation without checkpoint stalls' },
  { name: 'max_allowed_packet', value: 256 * 1024 ** 2, why: 'as measured' },
];

export interface ServerTuning {
  /** One line per setting changed, for the report. */
  changes: string[];
}

export async function adminConnection(database?: string): Promise<mysql.Connection> {
  await ensureMysql();
  return mysql.createConnection({ ...mysqlOptions(database), multipleStatements: false });
}

/** Raises the settings above and sets innodb_flush_log_at_trx_commit=2; says what it changed. */
export async function tuneServer(conn: mysql.Connection): Promise<ServerTuning> {
  const changes: string[] = [];
  for (const wanted of wantedGlobals) {
    const current = await globalNumber(conn, wanted.name);
    if (current >= wanted.value) continue;
    await conn.query(`SET GLOBAL ${wanted.name} = ${wanted.value}`);
    changes.push(`${wanted.name} ${formatBytes(current)} → ${formatBytes(wanted.value)} (${wanted.why})`);
  }
  if ((await globalNumber(conn, 'innodb_flush_log_at_trx_commit')) === 1) {
    await conn.query('SET GLOBAL innodb_flush_log_at_trx_commit = 2');
    changes.push('innodb_flush_log_at_trx_commit 1 → 2 (as measured)');
  }
  return { changes };
}

async function globalNumber(conn: mysql.Connection, name: string): Promise<number> {
  const [rows] = await conn.query(`SELECT @@GLOBAL.${name} AS v`);
  return Number((rows as { v: unknown }[])[0]?.v);
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 ** 3 && bytes % 1024 ** 3 === 0 ? `${bytes / 1024 ** 3}G` : `${Math.round(bytes / 1024 ** 2)}M`;
}

/**
 * The server's CPU seconds so far (user + system), from /proc, when it runs on this machine and we may
 * read its pid file; undefined otherwise. The difference around a run is the server's share of the work.
 */
export async function serverCpuSeconds(conn: mysql.Connection): Promise<number | undefined> {
  try {
    const [rows] = await conn.query('SELECT @@GLOBAL.pid_file AS f');
    const pid = (await readFile(String((rows as { f: unknown }[])[0]?.f), 'utf8')).trim();
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Step 1 of the agent and load benchmarks: the server tuned, and the generated database of `scale`. */
export async function tunedCloudControl(scale: number, log: (line: string) => void): Promise<CloudControl> {
  const admin = await adminConnection();
  let data: CloudControl;
  try {
    for (const change of (await tuneServer(admin)).changes) log(`SET GLOBAL ${change}`);
    data = await ensureCloudControl(() => adminConnection(), scale, log);
  } finally {
    await admin.end();
  }
  log(data.reused ? `reusing ${data.database}` : `generated ${data.database} in ${(data.generatedMs / 1000).toFixed(1)} s`);
  return data;
}
