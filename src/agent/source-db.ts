// The Cloud Control database of this GEO: one plain mysql2 connection (the callback API, whose query
// streams the dump reads with backpressure).
import type mysql from 'mysql2';
import type { LoadedConfig } from '../config/load.js';
import { parseMysqlUrl, type MysqlTarget } from '../state/db.js';
import { connectStreaming, type StreamConnectionOptions } from '../state/stream-connection.js';

export function sourceTarget(loaded: LoadedConfig): MysqlTarget {
  return parseMysqlUrl(loaded.config.agent.source.url!, 'agent.source.url');
}

/** How to connect; plain data, so a worker thread can connect with it too. */
export function sourceConnectionOptions(loaded: LoadedConfig, target = sourceTarget(loaded)): StreamConnectionOptions {
  return {
    target,
    password: loaded.secret('agent.source.password'),
    database: target.database,
    connectTimeoutMs: loaded.config.mysql.connect_timeout_ms,
    what: 'the Cloud Control database',
    settingKey: 'agent.source.url',
    missingDatabaseHint: 'check the database name in agent.source.url',
  };
}

export function connectSource(loaded: LoadedConfig, target = sourceTarget(loaded)): Promise<mysql.Connection> {
  return connectStreaming(sourceConnectionOptions(loaded, target));
}
