// Small things the load, etl and tick benchmarks share: the machine's load, the MySQL client tools'
// command lines (password in MYSQL_PWD, never in argv), shell quoting, a median, and a check that a tool
// the by-hand side needs is installed, with the line that installs it.
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { mysqlPasswordForTests, testMysqlUrl } from '../../test/support/mysql.js';

/** The 1-minute load average (Linux). */
export async function loadAverage(): Promise<number> {
  return Number((await readFile('/proc/loadavg', 'utf8').catch(() => '0')).split(' ')[0]);
}

/** Throws one line naming the tool and what installs it, when `tool` is not on PATH. */
export async function requireTool(tool: string, install = 'run scripts/install-bench-deps.sh'): Promise<void> {
  const found = await execa('bash', ['-c', `command -v ${quote(tool)}`], { reject: false });
  if (found.exitCode !== 0) throw new Error(`${tool} not found: ${install}`);
}

/** The client tools read the password from MYSQL_PWD, never from argv. */
export function mysqlEnv(): Record<string, string> {
  const password = mysqlPasswordForTests();
  return password ? { MYSQL_PWD: password } : {};
}

/** `-h HOST -P PORT -u USER` of the rig's server, for mysql, mysqldump, mydumper and myloader alike. */
export function mysqlHostArgs(): string[] {
  const url = new URL(testMysqlUrl);
  return ['-h', url.hostname, '-P', url.port || '3306', '-u', decodeURIComponent(url.username || 'root')];
}

export const quote = (word: string) => (/^[A-Za-z0-9_./@:=+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`);

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
