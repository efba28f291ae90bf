// `db migrate`: applies what is missing under a named lock, so two hosts migrating at once take turns
// and the second finds nothing to do.
import { hostname } from 'node:os';
import { createHash } from 'node:crypto';
import type mysql from 'mysql2/promise';
import { unreachableError } from '../errors.js';
import { migrations, type Migration } from './migrations.js';

export const latestSchemaVersion = Math.max(...migrations.map((migration) => migration.version));
const lockWaitSeconds = 120;

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INT UNSIGNED NOT NULL PRIMARY KEY,
  name VARCHAR(191) NOT NULL,
  applied_at DATETIME(3) NOT NULL,
  applied_by VARCHAR(191) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

type Queryable = Pick<mysql.Pool | mysql.Connection, 'query'>;

/** The schema version of the database; 0 when it has never been migrated. */
export async function readSchemaVersion(db: Queryable): Promise<number> {
  try {
    const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations');
    return Number(rows[0]?.version ?? 0);
  } catch (error) {
    if ((error as { code?: string }).code === 'ER_NO_SUCH_TABLE') return 0;
    throw error;
  }
}

/** Selects `database` on the connection if the server has it; false (nothing selected) when it does not. */
export async function useDatabaseIfExists(connection: mysql.Connection, database: string): Promise<boolean> {
  const [found] = await connection.query<mysql.RowDataPacket[]>('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]);
  if (found.length === 0) return false;
  await connection.query(`USE \`${database}\``);
  return true;
}

/** Creates `database` when it is missing and selects it; true when it was created. */
export async function createDatabaseIfMissing(connection: mysql.Connection, database: string): Promise<boolean> {
  const [result] = await connection.query<mysql.ResultSetHeader>(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  // MySQL reports 1 affected row when it created the database and 0 with a warning when it existed.
  const created = result.affectedRows === 1;
  await connection.query(`USE \`${database}\``);
  return created;
}

/** Lock names are server-wide and at most 64 characters: one per database. */
function lockName(database: string): string {
  return `ganymede.migrate.${createHash('sha1').update(database).digest('hex').slice(0, 24)}`;
}

export interface MigrateResult {
  from: number;
  to: number;
  applied: Array<Pick<Migration, 'version' | 'name'>>;
}

/** The migrations a database at schema version `from` lacks, in the order they are applied. */
function migrationsAfter(from: number) {
  return migrations.filter((candidate) => candidate.version > from).sort((a, b) => a.version - b.version);
}

/** The migrations `migrate` would apply to a database at schema version `from` (0: a new one). */
export function pendingMigrations(from: number): MigrateResult {
  const applied = migrationsAfter(from).map(({ version, name }) => ({ version, name }));
  return { from, to: applied.at(-1)?.version ?? from, applied };
}

/** Runs on one connection: named locks belong to a session. `database` must exist and be selected. */
export async function migrate(connection: mysql.Connection, database: string): Promise<MigrateResult> {
  const [lockRows] = await connection.query<mysql.RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS got', [lockName(database), lockWaitSeconds]);
  if (Number(lockRows[0]?.got) !== 1) {
    throw unreachableError(`another \`ganymede db migrate\` held the migration lock of ${database} for over ${lockWaitSeconds}s`, 'wait for it to finish and run again');
  }
  try {
    await connection.query(createMigrationsTable);
    const from = await readSchemaVersion(connection);
    const applied: MigrateResult['applied'] = [];
    for (const migration of migrationsAfter(from)) {
      for (const statement of migration.statements) await connection.query(statement);
      await connection.query('INSERT INTO schema_migrations (version, name, applied_at, applied_by) VALUES (?, ?, UTC_TIMESTAMP(3), ?)', [
        migration.version,
        migration.name,
        hostname(),
      ]);
      applied.push({ version: migration.version, name: migration.name });
    }
    return { from, to: await readSchemaVersion(connection), applied };
  } finally {
    await connection.query('SELECT RELEASE_LOCK(?)', [lockName(database)]).catch(() => undefined);
  }
}
