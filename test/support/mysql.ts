// The MySQL of the test rig: MariaDB on 127.0.0.1:3306 (root, empty password) unless
// GANYMEDE_TEST_MYSQL_URL points elsewhere. Started when it is down; each test file gets its own
// throwaway databases and drops them.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync } from 'node:child_process';
import mysql from 'mysql2/promise';

export const testMysqlUrl = process.env.GANYMEDE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/';
const startWaitMs = 60_000;

/** Connection options for the rig's server, optionally for one database. */
export function mysqlOptions(database?: string): mysql.ConnectionOptions {
  const url = new URL(testMysqlUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password),
    database,
    multipleStatements: false,
  };
}

/** A mysql:// URL (without password) for one database, as Ganymede's config takes it. */
export function mysqlUrlFor(database: string): string {
  const url = new URL(testMysqlUrl);
  url.password = '';
  url.pathname = `/${database}`;
  return url.toString();
}

export function mysqlPasswordForTests(): string {
  return decodeURIComponent(new URL(testMysqlUrl).password);
}

async function canConnect(): Promise<boolean> {
  try {
    const conn = await mysql.createConnection({ ...mysqlOptions(), connectTimeout: 2_000 });
    await conn.end();
    return true;
  } catch {
    return false;
  }
}

/** Makes sure the server answers; starts the local MariaDB when it does not (and we may). */
export async function ensureMysql(): Promise<void> {
  if (await canConnect()) return;
  if (!process.env.GANYMEDE_TEST_MYSQL_URL) {
    execFileSync('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', '/usr/sbin/mariadbd'], {
      stdio: 'ignore',
    });
  }
  const deadline = Date.now() + startWaitMs;
  while (Date.now() < deadline) {
    if (await canConnect()) return;
    await sleep(250);
  }
  throw new Error(`test rig: MySQL at ${new URL(testMysqlUrl).host} did not answer within ${startWaitMs / 1000}s`);
}

export interface TestDatabases {
  /** Creates a fresh, empty database and returns its name. */
  create(label?: string): Promise<string>;
  /** A root connection (no default database) for checks; closed by dropAll. */
  admin(): Promise<mysql.Connection>;
  /**
   * A MySQL user as README's "Least privilege" makes it for centre.scratch_mysql_url: rights on `gmd\_%`
   * schemas only. Dropped by dropAll.
   */
  createScratchUser(): Promise<{ user: string; url: string; password: string }>;
  /** Drops every database and user created here. */
  dropAll(): Promise<void>;
}

/** The GRANT README documents for the scratch user (`_` escaped: it is a wildcard in a grant's schema name). */
export const scratchGrant = "GRANT ALL PRIVILEGES ON `gmd\\_%`.* TO";

/** Throwaway databases for one test file: `gmdt_<label>_<random>`. */
export async function testDatabases(): Promise<TestDatabases> {
  await ensureMysql();
  const created: string[] = [];
  const users: string[] = [];
  let adminConnection: mysql.Connection | undefined;
  const admin = async () => (adminConnection ??= await mysql.createConnection(mysqlOptions()));
  return {
    async create(label = 'db') {
      const name = `gmdt_${label.replace(/[^a-z0-9]/gi, '').slice(0, 20)}_${randomBytes(4).toString('hex')}`;
      await (await admin()).query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
      created.push(name);
      return name;
    },
    admin,
    async createScratchUser() {
      const user = `gmdt_s_${randomBytes(4).toString('hex')}`;
      const password = randomBytes(12).toString('base64url');
      const conn = await admin();
      await conn.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
      users.push(user);
      await conn.query(`${scratchGrant} '${user}'@'%'`);
      const url = new URL(testMysqlUrl);
      return { user, password, url: `mysql://${user}@${url.host}/gmd_scratch` };
    },
    async dropAll() {
      const conn = await admin();
      for (const name of created.splice(0)) await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      for (const user of users.splice(0)) await conn.query(`DROP USER IF EXISTS '${user}'@'%'`);
      await conn.end();
      adminConnection = undefined;
    },
  };
}
