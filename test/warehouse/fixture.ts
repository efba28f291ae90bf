// Shared by the warehouse tests: a MariaDB with throwaway transaction schemas, the MongoDB-wire stand-in
// (or MONGODB_URI), and a canonical dump of a warehouse database to compare two runs by.
import mysql, { type Connection } from 'mysql2';
import { MongoClient, type Db } from 'mongodb';
import { startMongo, type TestMongo } from '../support/mongo.js';
import { mysqlOptions, testDatabases, type TestDatabases } from '../support/mysql.js';
import { runEtl, type EtlOptions, type EtlResult } from '../../src/warehouse/index.js';
import { canonicalText } from '../../src/warehouse/hash.js';

export interface Rig {
  mysql: TestDatabases;
  mongo: TestMongo;
  client: MongoClient;
  /** A fresh warehouse database. */
  freshDb(label: string): Db;
  /** Creates a schema and runs `statements` in it (sql_mode '' so zero dates can exist). */
  createSchema(label: string, statements: string[]): Promise<string>;
  /** Runs statements in an existing schema. */
  exec(schema: string, statements: string[]): Promise<void>;
  /** MariaDB has types (UUID, INET6) and a JSON alias that MySQL lacks. */
  isMariadb(): Promise<boolean>;
  close(): Promise<void>;
}

export async function openRig(): Promise<Rig> {
  const dbs = await testDatabases();
  const mongo = await startMongo();
  const client = await new MongoClient(mongo.uri).connect();
  const exec = async (schema: string, statements: string[]) => {
    const conn = await import('mysql2/promise').then((m) => m.createConnection({ ...mysqlOptions(schema) }));
    try {
      await conn.query("SET SESSION sql_mode = '', time_zone = '+00:00'");
      for (const statement of statements) await conn.query(statement);
    } finally {
      await conn.end();
    }
  };
  return {
    mysql: dbs,
    mongo,
    client,
    freshDb: (label) => client.db(mongo.dbName(label)),
    async createSchema(label, statements) {
      const schema = await dbs.create(label);
      await exec(schema, statements);
      return schema;
    },
    exec,
    async isMariadb() {
      const [rows] = await (await dbs.admin()).query('SELECT VERSION() AS v');
      return /mariadb/i.test(String((rows as { v: string }[])[0]?.v));
    },
    async close() {
      await client.close();
      await mongo.stop();
      await dbs.dropAll();
    },
  };
}

/** A connection factory as the worker gives runEtl one. */
export function connector(): () => Promise<Connection> {
  return () => new Promise((resolve, reject) => {
    const conn = mysql.createConnection(mysqlOptions());
    conn.connect((error) => (error ? reject(error) : resolve(conn)));
  });
}

export const cycle1 = new Date('2026-03-01T10:00:00Z');
export const cycle2 = new Date('2026-03-01T11:00:00Z');
export const cycle3 = new Date('2026-03-01T12:00:00Z');

export function etl(db: Db, schema: string, cycleStart: Date, extra: Partial<EtlOptions> = {}): Promise<EtlResult> {
  return runEtl({ mysql: connector(), schema, db, geo: 'g1', cycleStart, batchSize: 7, ...extra });
}

/**
 * Every collection of `db`, each sorted by _id, as canonical text (BSON types included), without the
 * progress records' timestamps: two runs that wrote the same warehouse give the same dump.
 */
export async function dumpWarehouse(db: Db): Promise<Record<string, string[]>> {
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  const dump: Record<string, string[]> = {};
  for (const name of names) {
    const docs = await db.collection(name).find({}).toArray();
    dump[name] = docs
      .map((doc) => {
        if (name === '_ganymede_etl') {
          delete doc.startedAt;
          delete doc.finishedAt;
        }
        return `${String(doc._id)} ${canonicalText(doc)}`;
      })
      .sort();
  }
  return dump;
}

/** Documents of a collection by _id. */
export async function docsById(db: Db, name: string): Promise<Map<string, Record<string, unknown>>> {
  const docs = await db.collection<{ _id: string }>(name).find({}).toArray();
  return new Map(docs.map((doc) => [doc._id, doc as Record<string, unknown>]));
}

/** The cloud-control-like schema most tests start from: keys of every kind, duplicates in a keyless table. */
export function baseStatements(): string[] {
  const accounts = Array.from({ length: 30 }, (_, i) => `(${i + 1}, 'account ${i + 1}', ${(i * 10.25).toFixed(2)}, '2025-01-${String((i % 28) + 1).padStart(2, '0')} 08:00:00')`);
  const instances = Array.from({ length: 45 }, (_, i) => `(${i + 1}, ${(i % 20) + 1}, 'host-${i + 1}', '{"cpu": ${(i % 4) + 1}}')`);
  const disks = Array.from({ length: 20 }, (_, i) => `(${i + 1}, ${(i % 10) + 1}, ${(i + 1) * 10})`);
  return [
    'CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, balance DECIMAL(12,2), created_at DATETIME)',
    `INSERT INTO accounts VALUES ${accounts.join(', ')}`,
    'CREATE TABLE instances (id BIGINT PRIMARY KEY, account_id INT NOT NULL, hostname VARCHAR(100), spec JSON, KEY (account_id))',
    `INSERT INTO instances VALUES ${instances.join(', ')}`,
    'CREATE TABLE disks (id INT PRIMARY KEY, instance_id BIGINT NOT NULL, size_gb INT)',
    `INSERT INTO disks VALUES ${disks.join(', ')}`,
    'CREATE TABLE tags (account_id INT, name VARCHAR(20), value VARCHAR(50), PRIMARY KEY (account_id, name))',
    "INSERT INTO tags VALUES (1, 'env', 'prod'), (1, 'team', 'core'), (2, 'env', 'dev'), (3, 'a:b%c', 'odd key')",
    'CREATE TABLE audit (at DATETIME, message VARCHAR(100))',
    `INSERT INTO audit VALUES ('2025-01-01 00:00:00', 'boot'), ('2025-01-01 00:00:00', 'boot'), ('2025-01-01 00:00:00', 'boot'),
       ('2025-01-02 00:00:00', 'login'), (NULL, 'no time')`,
    'CREATE TABLE regions (code CHAR(3) NOT NULL, name VARCHAR(40), note VARCHAR(10) NULL, UNIQUE KEY a_note (note), UNIQUE KEY by_code (code))',
    "INSERT INTO regions VALUES ('EUW', 'Europe West', NULL), ('USE', 'US East', 'x')",
  ];
}

/** What cycle 2 changes in the base schema: 2 accounts updated, 1 created, 1 instance and 1 duplicate audit row removed. */
export const cycle2Changes = [
  "UPDATE accounts SET balance = balance + 1 WHERE id IN (3, 4)",
  "INSERT INTO accounts VALUES (31, 'account 31', 0, NULL)",
  'DELETE FROM instances WHERE id = 45',
  "DELETE FROM audit WHERE message = 'boot' LIMIT 1",
];

export function singleLine(text: string): boolean {
  return !text.includes('\n');
}
