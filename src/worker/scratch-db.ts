// The MySQL server that holds the transactions' temporary schemas: centre.scratch_mysql_url with its own
// user and password (rights on `gmd\_%` schemas only), or the Ganymede database's own server and user when
// that is not set (`config check` warns: a load would then run with rights on the Ganymede database).
import type mysql from 'mysql2';
import type { LoadedConfig } from '../config/load.js';
import { parseMysqlUrl, type MysqlTarget } from '../state/db.js';
import { connectStreaming } from '../state/stream-connection.js';

export function scratchTarget(loaded: LoadedConfig): MysqlTarget & { key: string } {
  const key = loaded.config.centre.scratch_mysql_url ? 'centre.scratch_mysql_url' : 'mysql.url';
  return { ...parseMysqlUrl((loaded.config.centre.scratch_mysql_url ?? loaded.config.mysql.url)!, key), key };
}

/** A plain (callback API) connection, for streaming and LOAD DATA LOCAL; `database` selects a schema. */
export function connectScratch(loaded: LoadedConfig, database?: string): Promise<mysql.Connection> {
  const target = scratchTarget(loaded);
  return connectStreaming({
    target,
    // Never the Ganymede user's password sent to another server: the scratch URL has a password of its own.
    password: loaded.secret(target.key === 'centre.scratch_mysql_url' ? 'centre.scratch_mysql_password' : 'mysql.password'),
    database,
    connectTimeoutMs: loaded.config.mysql.connect_timeout_ms,
    what: 'the scratch MySQL',
    settingKey: target.key,
  });
}

export async function scratchQuery(connection: mysql.Connection, sql: string): Promise<void> {
  await connection.promise().query(sql);
}
