// Three synthetic Cloud Control databases of a realistic shape: accounts, the instances they run (with a
// JSON-ish settings column) and an event log. Small, so the MongoDB-wire stand-in keeps up.
import mysql from 'mysql2/promise';
import { mysqlOptions } from '../../test/support/mysql.js';

export const geos = ['emea', 'apac', 'amer'];
export const sourceDatabase = (prefix: string, geo: string) => `${prefix}_src_${geo}`;
const accounts = 60;
const instancesPerAccount = 8;
const events = 600;

export async function createSources(prefix: string): Promise<void> {
  const admin = await mysql.createConnection({ ...mysqlOptions(), multipleStatements: true });
  try {
    for (const [index, geo] of geos.entries()) {
      const db = sourceDatabase(prefix, geo);
      await admin.query(`DROP DATABASE IF EXISTS \`${db}\`; CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4; USE \`${db}\`;
        CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(80) NOT NULL, plan ENUM('basic','pro','enterprise') NOT NULL, balance DECIMAL(12,2) NOT NULL, created_at DATETIME(3) NOT NULL);
        CREATE TABLE instances (id BIGINT PRIMARY KEY, account_id INT NOT NULL, hostname VARCHAR(120) NOT NULL, state VARCHAR(16) NOT NULL, settings TEXT NOT NULL, updated_at TIMESTAMP(3) NOT NULL, KEY (account_id));
        CREATE TABLE events (id BIGINT PRIMARY KEY AUTO_INCREMENT, instance_id BIGINT NOT NULL, kind VARCHAR(32) NOT NULL, at DATETIME(3) NOT NULL, detail VARCHAR(255));`);
      const accountRows = Array.from({ length: accounts }, (_, i) => [i + 1, `${geo}-customer-${i + 1}`, ['basic', 'pro', 'enterprise'][i % 3], (i * 37.5 + index).toFixed(2), new Date(Date.UTC(2025, i % 12, 1 + (i % 27)))]);
      await admin.query('INSERT INTO accounts VALUES ?', [accountRows]);
      const instanceRows = Array.from({ length: accounts * instancesPerAccount }, (_, i) => [
        i + 1, (i % accounts) + 1, `vm-${geo}-${String(i + 1).padStart(5, '0')}`, i % 7 === 0 ? 'stopped' : 'running',
        JSON.stringify({ cpu: 2 + (i % 8), memoryGb: 4 * (1 + (i % 4)), zone: `${geo}-${1 + (i % 3)}`, tags: [`team-${i % 5}`, `env-${i % 2 ? 'prod' : 'dev'}`] }),
        new Date(Date.UTC(2026, 10, 1, i % 24)),
      ]);
      await admin.query('INSERT INTO instances VALUES ?', [instanceRows]);
      const eventRows = Array.from({ length: events }, (_, i) => [(i % (accounts * instancesPerAccount)) + 1, ['boot', 'resize', 'backup', 'alert'][i % 4], new Date(Date.UTC(2026, 10, 20, 0, i)), i % 9 === 0 ? null : `event ${i} on ${geo}`]);
      await admin.query('INSERT INTO events (instance_id, kind, at, detail) VALUES ?', [eventRows]);
    }
  } finally {
    await admin.end();
  }
}

/** The next hour at each GEO: about 1% of instances change, a few events arrive, one instance goes away. */
export async function changeSources(prefix: string): Promise<void> {
  const admin = await mysql.createConnection(mysqlOptions());
  try {
    for (const geo of geos) {
      const db = `\`${sourceDatabase(prefix, geo)}\``;
      await admin.query(`UPDATE ${db}.instances SET state = IF(state = 'running', 'stopped', 'running'), updated_at = UTC_TIMESTAMP(3) ORDER BY RAND() LIMIT 5`);
      await admin.query(`INSERT INTO ${db}.events (instance_id, kind, at, detail) SELECT id, 'resize', UTC_TIMESTAMP(3), 'the next hour' FROM ${db}.instances ORDER BY RAND() LIMIT 4`);
      await admin.query(`DELETE FROM ${db}.instances ORDER BY RAND() LIMIT 1`);
    }
  } finally {
    await admin.end();
  }
}
