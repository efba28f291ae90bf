// `ganymede db migrate`: creates the database if it is missing and applies the migrations it lacks.
import mysql from 'mysql2/promise';
import type { LoadedConfig } from '../../config/load.js';
import { connectionOptions, stateDbTarget } from '../../state/db.js';
import { describeMysqlError } from '../../state/mysql-errors.js';
import { createDatabaseIfMissing, migrate, pendingMigrations, readSchemaVersion, useDatabaseIfExists, type MigrateResult } from '../../state/migrate.js';

export interface DbMigrateOptions {
  loaded: LoadedConfig;
  /** Say which migrations would be applied (and whether the database would be created); change nothing. */
  dryRun?: boolean | undefined;
}

export interface DbMigrateResult extends MigrateResult {
  database: string;
  created: boolean;
  dryRun?: true;
}

export async function runDbMigrate({ loaded, dryRun }: DbMigrateOptions): Promise<DbMigrateResult> {
  const target = stateDbTarget(loaded);
  let connection: mysql.Connection | undefined;
  try {
    connection = await mysql.createConnection(connectionOptions(loaded, target, false));
    await connection.query("SET time_zone = '+00:00'");
    if (dryRun) {
      if (!(await useDatabaseIfExists(connection, target.database))) return { database: target.database, created: true, dryRun: true, ...pendingMigrations(0) };
      return { database: target.database, created: false, dryRun: true, ...pendingMigrations(await readSchemaVersion(connection)) };
    }
    const created = await createDatabaseIfMissing(connection, target.database);
    return { database: target.database, created, ...(await migrate(connection, target.database)) };
  } catch (error) {
    throw describeMysqlError(error, 'the Ganymede database', target.address, 'mysql.url');
  } finally {
    await connection?.end().catch(() => undefined);
  }
}

export function describeDbMigrate(result: DbMigrateResult): string {
  if (result.dryRun) {
    const lines = result.created ? [`dry run: would create database ${result.database}`] : [];
    if (result.applied.length === 0) lines.push(`dry run: database ${result.database} is up to date at schema version ${result.from}; nothing would change`);
    for (const migration of result.applied) lines.push(`dry run: would apply migration ${migration.version}: ${migration.name}`);
    if (result.applied.length > 0) lines.push(`dry run: database ${result.database} would go from schema version ${result.from} to ${result.to}; nothing was changed`);
    return lines.join('\n');
  }
  const lines = result.created ? [`created database ${result.database}`] : [];
  if (result.applied.length === 0) lines.push(`database ${result.database} is up to date at schema version ${result.to}; nothing to do`);
  for (const migration of result.applied) lines.push(`applied migration ${migration.version}: ${migration.name}`);
  if (result.applied.length > 0) lines.push(`database ${result.database} is now at schema version ${result.to} (was ${result.from})`);
  return lines.join('\n');
}
