// `ganymede db migrate`: creates the database if it is missing and applies the migrations it lacks.
import mysql from 'mysql2/promise';
import type { LoadedConfig } from '../../config/load.js';
import { poolOptions, stateDbTarget } from '../../state/db.js';
import { describeMysqlError } from '../../state/mysql-errors.js';
import { migrate, type MigrateResult } from '../../state/migrate.js';

export interface DbMigrateOptions {
  loaded: LoadedConfig;
}

export interface DbMigrateResult extends MigrateResult {
  database: string;
  created: boolean;
}

export async function runDbMigrate({ loaded }: DbMigrateOptions): Promise<DbMigrateResult> {
  const target = stateDbTarget(loaded);
  let connection: mysql.Connection | undefined;
  try {
    const { connectionLimit: _unused, ...options } = poolOptions(loaded, target, false);
    connection = await mysql.createConnection(options);
    await connection.query("SET time_zone = '+00:00'");
    const [result] = await connection.query<mysql.ResultSetHeader>(
      `CREATE DATABASE IF NOT EXISTS \`${target.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
    // MySQL reports 1 affected row when it created the database and 0 with a warning when it existed.
    const created = result.affectedRows === 1;
    await connection.query(`USE \`${target.database}\``);
    return { database: target.database, created, ...(await migrate(connection, target.database)) };
  } catch (error) {
    throw describeMysqlError(error, 'the Ganymede database', target.address, 'mysql.url');
  } finally {
    await connection?.end().catch(() => undefined);
  }
}

export function describeDbMigrate(result: DbMigrateResult): string {
  const lines = result.created ? [`created database ${result.database}`] : [];
  if (result.applied.length === 0) lines.push(`database ${result.database} is up to date at schema version ${result.to}; nothing to do`);
  for (const migration of result.applied) lines.push(`applied migration ${migration.version}: ${migration.name}`);
  if (result.applied.length > 0) lines.push(`database ${result.database} is now at schema version ${result.to} (was ${result.from})`);
  return lines.join('\n');
}
