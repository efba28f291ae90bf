// The Cloud Control database of this GEO: one plain mysql2 connection (the callback API, whose query
// streams the dump reads with backpressure).
import mysql from 'mysql2';
import type { LoadedConfig } from '../config/load.js';
import { parseMysqlUrl, type MysqlTarget } from '../state/db.js';
import { describeMysqlError } from '../state/mysql-errors.js';

export function sourceTarget(loaded: LoadedConfig): MysqlTarget {
  return parseMysqlUrl(loaded.config.agent.source.url!, 'agent.source.url');
}

export async function connectSource(loaded: LoadedConfig, target = sourceTarget(loaded)): Promise<mysql.Connection> {
  const connection = mysql.createConnection({
    host: target.host,
    port: target.port,
    user: target.user,
    password: loaded.secret('agent.source.password') ?? '',
    database: target.database,
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
    throw describeMysqlError(error, 'the Cloud Control database', target.address, 'agent.source.url', 'check the database name in agent.source.url');
  }
}
