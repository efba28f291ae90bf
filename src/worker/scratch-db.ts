// The MySQL server that holds the transactions' temporary schemas: centre.scratch_mysql_url with its own
// user and password (rights on `gmd\_%` schemas only), or the Ganymede database's own server and user when
// that is not set (`config check` warns: a load would then run with rights on the Ganymede database).
import type mysql from 'mysql2';
import type { LoadedConfig } from '../config/load.js';
import { parseMysqlUrl, type MysqlTarget } from '../state/db.js';
import { connectStreaming } from '../state/stream-connection.js';
import type { Transaction } from '../state/transactions.js';
import { scratchSchema } from './paths.js';

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

/**
 * Drops every scratch schema a transaction may have (one per delivery; a forced re-delivery starts a new
 * one) as the scratch user; returns the names of those that existed.
 */
export async function dropTxnSchemas(loaded: LoadedConfig, txn: Pick<Transaction, 'id' | 'delivery'>, options: { dryRun?: boolean } = {}): Promise<string[]> {
  const names = Array.from({ length: txn.delivery }, (_, i) => scratchSchema(loaded.config, { id: txn.id, delivery: i + 1 }));
  const admin = await connectScratch(loaded);
  try {
    const [rows] = await admin.promise().query('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?)', [names]);
    const existing = (rows as Array<{ name: string }>).map((row) => row.name).sort();
    // A dry run names what would go and drops nothing.
    if (!options.dryRun) for (const name of existing) await scratchQuery(admin, `DROP DATABASE IF EXISTS \`${name}\``);
    return existing;
  } finally {
    admin.destroy();
  }
}
