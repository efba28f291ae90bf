// Ganymede set up for a test: a config made from settings (no file), a migrated Ganymede database,
// and the status API listening on a free port.
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig, type LoadedConfig } from '../../src/config/load.js';
import { runDbMigrate } from '../../src/commands/db/migrate.js';
import { runApiServe } from '../../src/commands/api/serve.js';
import { configureLogging } from '../../src/log.js';
import { mysqlPasswordForTests, mysqlUrlFor, testDatabases, type TestDatabases } from './mysql.js';

/** A config from dotted settings, as GANYMEDE_* environment would give them; secrets by value. */
export function testConfig(settings: Record<string, string | number | boolean | string[]>, secrets: Record<string, string> = {}): LoadedConfig {
  const env: NodeJS.ProcessEnv = {};
  // The tests' fixed hours (2026-01-01 …) lie further back than a GEO may open by default (72 h); a test
  // of that bound sets it itself.
  settings = { 'centre.max_backfill_hours': 1_000_000, ...settings };
  for (const [key, value] of Object.entries(settings)) env[`GANYMEDE_${key.replace(/\./g, '_').toUpperCase()}`] = Array.isArray(value) ? value.join(',') : String(value);
  for (const [key, value] of Object.entries(secrets)) env[`GANYMEDE_${key.replace(/\./g, '_').toUpperCase()}`] = value;
  const password = mysqlPasswordForTests();
  if (password) env.GANYMEDE_MYSQL_PASSWORD = password;
  return loadConfig({ env, configPath: null });
}

export interface TestCentre {
  databases: TestDatabases;
  database: string;
  loaded: LoadedConfig;
  dispose(): Promise<void>;
}

/** A fresh, migrated Ganymede database and a config pointing at it. */
export async function testCentre(label = 'centre', settings: Record<string, string | number | boolean> = {}, secrets: Record<string, string> = {}): Promise<TestCentre> {
  const databases = await testDatabases();
  const database = await databases.create(label);
  const loaded = testConfig({ 'mysql.url': mysqlUrlFor(database), ...settings }, secrets);
  await runDbMigrate({ loaded });
  return { databases, database, loaded, dispose: () => databases.dropAll() };
}

export interface TestApi extends TestCentre {
  url: string;
  adminToken: string;
  stop(): Promise<void>;
}

/** The status API on 127.0.0.1 and a free port, over a fresh database, with a random admin token. */
export async function startTestApi(settings: Record<string, string | number | boolean> = {}, secrets: Record<string, string> = {}): Promise<TestApi> {
  const adminToken = `admin_${randomBytes(24).toString('base64url')}`;
  const centre = await testCentre('api', { 'api.listen': '127.0.0.1:0', 'logging.level': 'warn', ...settings }, { 'api.admin_token': adminToken, ...secrets });
  configureLogging({ level: centre.loaded.config.logging.level, format: centre.loaded.config.logging.format });
  let stopServer!: () => void;
  const stopSignal = new Promise((resolve) => (stopServer = () => resolve('test')));
  let listening!: (url: string) => void;
  const ready = new Promise<string>((resolve) => (listening = resolve));
  const served = runApiServe({ loaded: centre.loaded, stopSignal, onListening: ({ host, port }) => listening(`http://${host}:${port}`) });
  const url = await Promise.race([ready, served.then(() => Promise.reject(new Error('the API stopped before listening')))]);
  return {
    ...centre,
    url,
    adminToken,
    async stop() {
      stopServer();
      await served;
      await centre.dispose();
    },
  };
}

/** A temp dir removed by the returned function. */
export function tempDir(label: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `gmd-${label}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function writePrivateFile(path: string, content: string): string {
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}
