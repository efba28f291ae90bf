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

/**
 * How long the server lets one of our sessions sit idle, in or out of a transaction, before it closes it and
 * rolls back (wait_timeout, on MySQL and MariaDB alike). A host cut off mid-transaction, or while it holds the
 * claim lock, cannot end its sessions, and the server would keep them, their row locks and the named lock until
 * TCP keepalive gives up, hours later: the other hosts could neither take over its step nor claim anything. The
 * bound makes such a session gone by the time its lease has expired past the grace (a lease is renewed every
 * third of it), so the takeover finds nothing held.
 */
export function idleSessionSeconds(centre: { lease_ms: number; lease_grace_ms: number }): number {
  return Math.max(10, Math.ceil(((centre.lease_ms * 2) / 3 + centre.lease_grace_ms) / 1000));
}

/** What one connection to the Ganymede database needs (`db migrate` opens one; the pool below opens many). */
export function connectionOptions(loaded: LoadedConfig, target: MysqlTarget, withDatabase = true): mysql.ConnectionOptions {
  return {
    host: target.host,
    port: target.port,
    user: target.user,
    password: loaded.secret('mysql.password') ?? '',
    database: withDatabase ? target.database : undefined,
    connectTimeout: loaded.config.mysql.connect_timeout_ms,
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci',
    supportBigNumbers: true,
    decimalNumbers: true,
    dateStrings: false,
    enableKeepAlive: true,
  };
}

export function poolOptions(loaded: LoadedConfig, target: MysqlTarget): mysql.PoolOptions {
  const connectionLimit = loaded.config.mysql.pool_size;
  return {
    ...connectionOptions(loaded, target),
    connectionLimit,
    // The pool drops a connection idle for half the server's bound, so it never hands out one the server closed.
    // (mysql2 checks idle connections only when maxIdle is below connectionLimit.)
    maxIdle: Math.max(connectionLimit - 1, 0),
    idleTimeout: (idleSessionSeconds(loaded.config.centre) * 1000) / 2,
  };
}

/**
 * A pool whose every connection is set to UTC and to the server-side idle bound (mysql2 has no per-session init
 * option, so we hook new connections; the SET is queued ahead of the connection's first query).
 */
export function createUtcPool(options: mysql.PoolOptions, idleSeconds: number): Db {
  const pool = mysql.createPool(options);
  pool.pool.on('connection', (connection) => {
    connection.query(`SET time_zone = '+00:00', SESSION wait_timeout = ${Math.floor(idleSeconds)}`);
  });
  return pool;
}

/**
 * Opens the Ganymede database and checks that its schema is the one this version expects, so that a
 * forgotten `db migrate` is a clear configuration error rather than a failing query later.
 */
export async function openStateDb(loaded: LoadedConfig): Promise<Db> {
  const target = stateDbTarget(loaded);
  const pool = createUtcPool(poolOptions(loaded, target), idleSessionSeconds(loaded.config.centre));
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
/** ER_LOCK_DEADLOCK: InnoDB rolled the whole transaction back, so running it again from the start is safe. */
export const isDeadlock = (error: unknown): boolean => (error as { errno?: number } | null)?.errno === 1213;
/** ER_LOCK_WAIT_TIMEOUT: the statement waited innodb_lock_wait_timeout for a row another session holds. */
export const isLockWaitTimeout = (error: unknown): boolean => (error as { errno?: number } | null)?.errno === 1205;
const deadlockAttempts = 4;

/**
 * `work` in one transaction. A deadlock (two workers finishing steps while a tick claims, all in the same
 * index gap) rolls it back whole: it is run again, a few times, as MySQL's manual advises — `work` only
 * talks to this connection, so a second run starts from the same state as the first.
 */
export async function inTransaction<T>(db: Db, work: (connection: mysql.PoolConnection) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const connection = await db.getConnection();
    try {
      await connection.beginTransaction();
      const result = await work(connection);
      await connection.commit();
      return result;
    } catch (error) {
      await connection.rollback().catch(() => undefined);
      if (!isDeadlock(error) || attempt >= deadlockAttempts) throw error;
    } finally {
      connection.release();
    }
  }
}
