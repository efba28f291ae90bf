// A plain mysql2 connection (the callback API, whose query streams the dump reads and LOAD DATA LOCAL
// writes with backpressure), with one-line errors naming the server and the setting to check.
import mysql from 'mysql2';
import type { MysqlTarget } from './db.js';
import { describeMysqlError } from './mysql-errors.js';

export interface StreamConnectionOptions {
  target: MysqlTarget;
  password: string | undefined;
  /** Schema to select; undefined selects none. */
  database: string | undefined;
  connectTimeoutMs: number;
  /** For messages: "the Cloud Control database", and the setting that names it. */
  what: string;
  settingKey: string;
  missingDatabaseHint?: string;
}

export async function connectStreaming(options: StreamConnectionOptions): Promise<mysql.Connection> {
  const { target } = options;
  const connection = mysql.createConnection({
    host: target.host,
    port: target.port,
    user: target.user,
    password: options.password ?? '',
    database: options.database,
    connectTimeout: options.connectTimeoutMs,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  });
  try {
    await connection.promise().connect();
    return connection;
  } catch (error) {
    connection.destroy();
    throw describeMysqlError(error, options.what, target.address, options.settingKey, options.missingDatabaseHint);
  }
}
