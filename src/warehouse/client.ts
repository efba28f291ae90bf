// The MongoDB warehouse connection: the official driver only, credentials from mongodb.password_file.
// The write and read concerns are set on the client, so no write or read of the warehouse can forget
// them: a write counts as done only once `mongodb.write_concern` members have it in their journal (with
// "majority", a failover cannot roll back what MySQL already records as warehoused), and reads see only
// majority-committed data, so the feed never sends what a rollback could still take back.
import { MongoClient, type Db, type MongoClientOptions } from 'mongodb';
import type { LoadedConfig } from '../config/load.js';
import { GanymedeError, messageOf } from '../errors.js';
import { ExitCode } from '../exit-codes.js';

export interface Warehouse {
  db: Db;
  close(): Promise<void>;
}

/** The concerns every warehouse connection uses. */
function warehouseConcerns(mongodb: { write_concern: 'majority' | number; write_concern_timeout_ms: number }): Pick<MongoClientOptions, 'writeConcern' | 'readConcern'> {
  return {
    writeConcern: { w: mongodb.write_concern, journal: true, wtimeoutMS: mongodb.write_concern_timeout_ms },
    readConcern: { level: 'majority' },
  };
}

export async function openWarehouse(loaded: LoadedConfig): Promise<Warehouse> {
  const { mongodb } = loaded.config;
  const url = new URL(mongodb.url!);
  const password = loaded.secret('mongodb.password');
  const client = new MongoClient(mongodb.url!, {
    serverSelectionTimeoutMS: mongodb.connect_timeout_ms,
    connectTimeoutMS: mongodb.connect_timeout_ms,
    ...warehouseConcerns(mongodb),
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

export interface LazyWarehouse {
  /** The warehouse, connected on the first call; a failed connection is tried again on the next. */
  db(): Promise<Db>;
  close(): Promise<void>;
}

/** For a server that reads the warehouse now and then (the API): it starts without MongoDB and connects when first asked. */
export function lazyWarehouse(loaded: LoadedConfig): LazyWarehouse {
  let opening: Promise<Warehouse> | undefined;
  return {
    db() {
      opening ??= openWarehouse(loaded).catch((error: unknown) => {
        opening = undefined;
        throw error;
      });
      return opening.then((warehouse) => warehouse.db);
    },
    async close() {
      const open = opening;
      opening = undefined;
      if (open) await open.then((warehouse) => warehouse.close(), () => undefined);
    },
  };
}
