// One probe per kind of server `config check` connects to. Each returns ok or the one-line reason.
import { access, constants, readFile } from 'node:fs/promises';
import mysql from 'mysql2/promise';
import { messageOf } from '../../errors.js';
import { describeMysqlError } from '../../state/mysql-errors.js';
import { parseMysqlUrl } from '../../state/db.js';
import { readSchemaVersion, latestSchemaVersion } from '../../state/migrate.js';
import type { LoadedConfig } from '../../config/load.js';
import type { StoreAccess } from '../../transport/location.js';

export interface ProbeOutcome {
  note?: string;
}

export async function probeMysql(url: string, key: string, password: string | undefined, timeoutMs: number, expectSchema: boolean): Promise<ProbeOutcome> {
  const target = parseMysqlUrl(url, key);
  let connection: mysql.Connection | undefined;
  try {
    connection = await mysql.createConnection({ host: target.host, port: target.port, user: target.user, password: password ?? '', database: target.database, connectTimeout: timeoutMs });
    const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT VERSION() AS version');
    const version = String(rows[0]?.version ?? '?');
    if (!expectSchema) return { note: version };
    const schema = await readSchemaVersion(connection);
    if (schema !== latestSchemaVersion) throw new Error(`schema version ${schema}, expected ${latestSchemaVersion}: run \`ganymede db migrate\``);
    return { note: `${version}, schema v${schema}` };
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('schema version')) throw error;
    throw describeMysqlError(error, 'MySQL', target.address, key, key === 'mysql.url' ? undefined : `check the database name in ${key}`);
  } finally {
    await connection?.end().catch(() => undefined);
  }
}

/**
 * The scratch user loads what GEOs deliver: it must not reach the Ganymede database. information_schema lists
 * only the schemas a user has rights on, so the Ganymede schema showing there is the finding.
 */
export async function probeScratchMysql(loaded: LoadedConfig): Promise<ProbeOutcome> {
  const { connectScratch } = await import('../../worker/scratch-db.js');
  const ganymede = loaded.config.mysql.url ? parseMysqlUrl(loaded.config.mysql.url, 'mysql.url').database : undefined;
  const connection = await connectScratch(loaded);
  try {
    const [[version]] = (await connection.promise().query({ sql: 'SELECT VERSION()', rowsAsArray: true })) as unknown as [[[string]]];
    if (ganymede) {
      const [seen] = (await connection.promise().query('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [ganymede])) as unknown as [unknown[]];
      if (seen.length > 0) {
        throw new Error(`this user has rights on the Ganymede database ${ganymede}: give loads a user of their own with rights on gmd\\_% only (README, "Least privilege")`);
      }
    }
    return { note: `${version[0]}, no rights on the Ganymede database` };
  } finally {
    connection.destroy();
  }
}

export async function probeMongo(url: string, password: string | undefined, timeoutMs: number): Promise<ProbeOutcome> {
  const { MongoClient } = await import('mongodb');
  const parsed = new URL(url);
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
    ...(password && parsed.username ? { auth: { username: decodeURIComponent(parsed.username), password } } : {}),
  });
  try {
    await client.connect();
    const info = await client.db('admin').command({ buildInfo: 1 });
    return { note: `MongoDB ${String(info.version ?? '?')}` };
  } finally {
    await client.close().catch(() => undefined);
  }
}

export async function probeApi(
  baseUrl: string,
  timeoutMs: number,
  auth?: { token: string; path: string; as: string },
  tls: { caFile?: string | undefined; clientCertFile?: string | undefined; clientKeyFile?: string | undefined; allowInsecure?: boolean } = {},
): Promise<ProbeOutcome> {
  const { ApiClient } = await import('../../api/client.js');
  const get = async (path: string, token: string, as: string) => {
    try {
      await new ApiClient({ baseUrl, token, as, timeoutMs, ...tls }).request('GET', path);
    } catch (error) {
      throw new Error(messageOf(error).replace(/^cannot reach the status API at \S+: /, 'cannot reach the API: '));
    }
  };
  await get('/v1/health', 'none', 'config check');
  if (!auth) return { note: 'health ok (no token configured to test)' };
  await get(auth.path, auth.token, auth.as);
  return { note: `health ok, ${auth.as} token accepted` };
}

export async function probeSftp(url: string, keyFile: string | undefined, timeoutMs: number): Promise<ProbeOutcome> {
  if (!keyFile) throw new Error('no key file configured for this SFTP target');
  const parsed = new URL(url);
  const { default: SftpClient } = await import('ssh2-sftp-client');
  const client = new SftpClient('ganymede-config-check');
  try {
    await client.connect({
      host: parsed.hostname,
      port: Number(parsed.port || 22),
      username: decodeURIComponent(parsed.username),
      privateKey: await readFile(keyFile),
      readyTimeout: timeoutMs,
    });
    const path = decodeURIComponent(parsed.pathname) || '/';
    const type = await client.exists(path);
    if (type !== 'd') throw new Error(`${path} ${type ? 'is not a directory' : 'does not exist'} on the server`);
    return { note: `${path} is a directory` };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** An object store (swift://, s3://): logged in and answering for the location's container or bucket. */
/**
 * A store the config names (centre inbox, feed store, archive), opened with its own access and no retries:
 * a check reports a dead store at once instead of waiting out the backoff the steps use.
 */
export async function probeConfiguredStore(url: string, access: StoreAccess, timeoutMs: number): Promise<ProbeOutcome> {
  const { openTransport, hostKeyPin } = await import('../../transport/location.js');
  const store = await openTransport(url, {
    privateKey: access.keyFile,
    ...hostKeyPin(access.hostKey),
    secret: access.secret,
    accessKeyId: access.accessKeyId,
    connectTimeoutMs: timeoutMs,
  });
  try {
    await store.stat('ganymede-config-check');
    return { note: `${store.describe()} answers` };
  } finally {
    await store.close();
  }
}

/** A file:// store's directory: there and writable, or to be made (on the first put) under a writable one. */
export async function probeStoreDir(path: string): Promise<ProbeOutcome> {
  const { dirname } = await import('node:path');
  for (let dir = path; ; dir = dirname(dir)) {
    try {
      await access(dir, constants.F_OK);
    } catch {
      if (dir === dirname(dir)) throw new Error(`${path}: no directory of it exists`);
      continue;
    }
    try {
      await access(dir, constants.W_OK | constants.X_OK);
    } catch {
      throw new Error(`${dir}: not writable${dir === path ? '' : `, so ${path} cannot be made`}`);
    }
    return { note: dir === path ? 'writable' : `made under ${dir} on the first write` };
  }
}

export async function probeLocalDir(path: string): Promise<ProbeOutcome> {
  try {
    await access(path, constants.W_OK | constants.X_OK);
    return { note: 'writable' };
  } catch (error) {
    throw new Error(`${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'not writable'}`);
  }
}
