// The MongoDB warehouse connection: the official driver only, credentials from mongodb.password_file.
import { MongoClient, type Db } from 'mongodb';
import type { LoadedConfig } from '../config/load.js';
import { GanymedeError, messageOf } from '../errors.js';
import { ExitCode } from '../exit-codes.js';

export interface Warehouse {
  db: Db;
  close(): Promise<void>;
}

export async function openWarehouse(loaded: LoadedConfig): Promise<Warehouse> {
  const { mongodb } = loaded.config;
  const url = new URL(mongodb.url!);
  const password = loaded.secret('mongodb.password');
  const client = new MongoClient(mongodb.url!, {
    serverSelectionTimeoutMS: mongodb.connect_timeout_ms,
    connectTimeoutMS: mongodb.connect_timeout_ms,
    ...(password && url.username ? { auth: { username: decodeURIComponent(url.username), password } } : {}),
  });
  try {
    await client.connect();
  } catch (error) {
    await client.close().catch(() => undefined);
    throw new GanymedeError(ExitCode.unreachable, `cannot reach MongoDB at ${url.host}: ${messageOf(error)}`, { hint: 'is it running? check mongodb.url' });
  }
  return { db: client.db(mongodb.database), close: () => client.close().catch(() => undefined) };
}
