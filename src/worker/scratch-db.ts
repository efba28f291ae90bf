// The MySQL server that holds the transactions' temporary schemas: centre.scratch_mysql_url, or the
// Ganymede database's own server and user when that is not set.
import mysql from 'mysql2';
import type { LoadedConfig } from '../config/load.js';
import { parseMysqlUrl, type MysqlTarget } from '../state/db.js';
import { describeMysqlError } from '../state/mysql-errors.js';

export function scratchTarget(loaded: LoadedConfig): MysqlTarget & { key: string } {
  const key = loaded.config.centre.scratch_mysql_url ? 'centre.scratch_mysql_url' : 'mysql.url';
  return { ...parseMysqlUrl((loaded.config.centre.scratch_mysql_url ?? loaded.config.mysql.url)!, key), key };
}

/** A plain (callback API) connection, for streaming and LOAD DATA LOCAL; `database` selects a schema. */
export async function connectScratch(loaded: LoadedConfig, database?: string): Promise<mysql.Connection> {
  const target = scratchTarget(loaded);
  const connection = mysql.createConnection({
    host: target.host,
    port: target.port,
    user: target.user,
    password: loaded.secret('mysql.password') ?? '',
    database,
    connectTimeout: loaded.config.mysql.connect_timeout_ms,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  });
  try {
    await connection.promise().connect();
    return connection;
  } catch (error) {
    connection.destroy();
    throw describeMysqlError(error, 'the scratch MySQL', target.address, target.key);
  }
}

export async function scratchQuery(connection: mysql.Connection, sql: string): Promise<void> {
  await connection.promise().query(sql);
}
