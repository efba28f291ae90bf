// The connection pool to the Ganymede database. Sessions run in UTC so that DATETIME columns mean UTC
// whatever the server's or host's time zone.
import mysql from 'mysql2/promise';
import type { LoadedConfig } from '../config/load.js';
import { requireSettings } from '../config/load.js';
import { configError } from '../errors.js';
import { createLogger } from '../log.js';
import { describeMysqlError } from './mysql-errors.js';
import { latestSchemaVersion, readSchemaVersion } from './migrate.js';

export type Db = mysql.Pool;

export interface MysqlTarget {
  host: string;
  port: number;
  user: string;
  database: string;
  address: string;
}

export function parseMysqlUrl(url: string, key: string): MysqlTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw configError(`${key}: not a valid URL`, { hint: 'expected mysql://user@host:port/database' });
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_$]{1,64}$/.test(database)) {
    throw configError(`${key}: the database name must be 1-64 letters, digits, _ or $`, { hint: 'e.g. mysql://ganymede@127.0.0.1:3306/ganymede' });
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = Number(parsed.port || 3306);
  return { host, port, user: decodeURIComponent(parsed.username || 'root'), database, address: `${parsed.hostname}:${port}` };
}

export function stateDbTarget(loaded: LoadedConfig): MysqlTarget {
  requireSettings(loaded, ['mysql.url'], 'this command');
  return parseMysqlUrl(loaded.config.mysql.url!, 'mysql.url');
}

export function poolOptions(loaded: LoadedConfig, target: MysqlTarget, withDatabase = true): mysql.PoolOptions {
  return {
    host: target.host,
    port: target.port,
    user: target.user,
    password: loaded.secret('mysql.password') ?? '',
    database: withDatabase ? target.database : undefined,
    connectionLimit: loaded.config.mysql.pool_size,
    connectTimeout: loaded.config.mysql.connect_timeout_ms,
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci',
    supportBigNumbers: true,
    decimalNumbers: true,
    dateStrings: false,
    enableKeepAlive: true,
  };
}

/** A pool whose every connection is set to UTC (mysql2 has no per-session init option, so we hook new connections). */
export function createUtcPool(options: mysql.PoolOptions): Db {
  const pool = mysql.createPool(options);
  pool.pool.on('connection', (connection) => {
    connection.query("SET time_zone = '+00:00'");
  });
  return pool;
}

/**
 * Opens the Ganymede database and checks that its schema is the one this version expects, so that a
 * forgotten `db migrate` is a clear configuration error rather than a failing query later.
 */
export async function openStateDb(loaded: LoadedConfig): Promise<Db> {
  const target = stateDbTarget(loaded);
  const pool = createUtcPool(poolOptions(loaded, target));
  try {
    const version = await readSchemaVersion(pool);
    if (version < latestSchemaVersion) {
      throw configError(`the Ganymede database ${target.database} is at schema version ${version}, this ganymede needs ${latestSchemaVersion}`, {
        hint: 'run `ganymede db migrate`',
      });
    }
    if (version > latestSchemaVersion) {
      throw configError(`the Ganymede database ${target.database} is at schema version ${version}, newer than this ganymede knows (${latestSchemaVersion})`, {
        hint: 'upgrade ganymede on this host',
      });
    }
    createLogger('state').debug(`the Ganymede database ${target.database} at ${target.address}, schema version ${version}`);
    return pool;
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw describeMysqlError(error, 'the Ganymede database', target.address, 'mysql.url');
  }
}

/** A short database transaction on one pooled connection: committed when `work` returns, rolled back when it throws. */
export async function inTransaction<T>(db: Db, work: (connection: mysql.PoolConnection) => Promise<T>): Promise<T> {
  const connection = await db.getConnection();
  try {
    await connection.beginTransaction();
    const result = await work(connection);
    await connection.commit();
    return result;
  } catch (error) {
    await connection.rollback().catch(() => undefined);
    throw error;
  } finally {
    connection.release();
  }
}
