// What every command starts from: the loaded configuration, logging set up from it, and helpers that
// open and always close the Ganymede database.
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { configureLogging, createLogger, logToFile, loggingToFile, redactUrl, type LogFormat, type LogLevel } from '../log.js';
import { configError, messageOf } from '../errors.js';
import { secretKeys } from '../config/schema.js';
import { openStateDb, type Db } from '../state/db.js';

export interface GlobalOptions {
  config?: string | undefined;
  logFormat?: LogFormat | undefined;
  logLevel?: LogLevel | undefined;
  logFile?: string | undefined;
}

/** Loads the config (file → environment → flags) and applies its logging settings. */
export function loadForCommand(global: GlobalOptions, overrides: Record<string, unknown> = {}): LoadedConfig {
  const loaded = loadConfig({
    configPath: global.config,
    overrides: { 'logging.format': global.logFormat, 'logging.level': global.logLevel, ...overrides },
  });
  configureLogging({ format: loaded.config.logging.format, level: loaded.config.logging.level });
  if (global.logFile && loggingToFile() !== global.logFile) {
    try {
      logToFile(global.logFile);
    } catch (error) {
      throw configError(`cannot write the log file ${global.logFile}: ${messageOf(error)}`, { hint: 'create its directory and let the user running ganymede write there, or drop --log-file' });
    }
  }
  const log = createLogger('config');
  // Where each secret comes from (a file or a variable name), never its value; the settings hold only file paths.
  const sources = secretKeys.map((key) => [key, loaded.secretSource(key)] as const).filter(([, source]) => source !== undefined);
  log.debug(`read ${loaded.path ?? 'no config file'}; secrets from ${sources.length ? sources.map(([key, source]) => `${key} ← ${source}`).join(', ') : 'nowhere'}`);
  log.debug(`settings: ${JSON.stringify(loaded.config, (key, value: unknown) => (typeof value === 'string' && value.includes('://') ? shownUrl(key, value) : value))}`);
  return loaded;
}

export async function withStateDb<T>(loaded: LoadedConfig, work: (db: Db) => Promise<T>): Promise<T> {
  const db = await openStateDb(loaded);
  try {
    return await work(db);
  } finally {
    await db.end().catch(() => undefined);
  }
}

/**
 * A URL setting as the settings line shows it: without its password or secret-looking parameters (an
 * archive.url with ?key=…); a webhook URL often carries its secret in the path (Slack, Teams), so of it only the origin.
 */
function shownUrl(key: string, text: string): string {
  if (key !== 'webhook_url') return redactUrl(text);
  try {
    return `${new URL(text).origin}/…`;
  } catch {
    return '…';
  }
}
