// A small Cloud-Control-like source for the etl benchmark, and the change that makes its next hour differ
// by a given share of rows. Small on purpose: the MongoDB stand-in keeps everything in memory and scans a
// collection for many operations. Filled on the server from MariaDB's SEQUENCE engine (seq_1_to_N).
import type mysql from 'mysql2/promise';

/** Rows per table for `rows` in all: accounts 5%, instances 30%, events 65%. */
export function tableRows(rows: number): { accounts: number; instances: number; events: number } {
  const accounts = Math.max(1, Math.round(rows * 0.05));
  const instances = Math.max(1, Math.round(rows * 0.3));
  return { accounts, instances, events: Math.max(1, rows - accounts - instances) };
}

export function sourceStatements(rows: number): string[] {
  const n = tableRows(rows);
  return [
    `CREATE TABLE accounts (id INT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL,
      plan ENUM('free','standard','premium','enterprise') NOT NULL, balance DECIMAL(12,2) NOT NULL,
      created_at DATETIME NOT NULL, active TINYINT(1) NOT NULL) ENGINE=InnoDB`,
    `INSERT INTO accounts SELECT seq, CONCAT('Account ', seq), 1 + seq % 4, (seq * 7919 % 10000000) / 100,
      '2020-01-01' + INTERVAL (seq * 3119 % 126144000) SECOND, seq % 10 <> 0 FROM seq_1_to_${n.accounts}`,
    `CREATE TABLE instances (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, account_id INT UNSIGNED NOT NULL,
      hostname VARCHAR(100) NOT NULL, state ENUM('pending','running','stopped','terminated') NOT NULL,
      updated_at TIMESTAMP NOT NULL, config JSON NOT NULL, KEY instances_account (account_id)) ENGINE=InnoDB`,
    `INSERT INTO instances SELECT seq, 1 + seq * 7 % ${n.accounts}, CONCAT('vm-', seq, '.cloud.example'), 1 + seq % 4,
      '2024-01-01' + INTERVAL (seq * 104729 % 31536000) SECOND,
      CONCAT('{"uuid":"', MD5(seq), '","vcpus":', 1 << (seq % 5), ',"disks":[{"size_gb":', 20 + seq % 480, '}],"tags":{"env":"',
        ELT(1 + seq % 3, 'prod', 'staging', 'dev'), '"}}') FROM seq_1_to_${n.instances}`,
    `CREATE TABLE events (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, instance_id BIGINT UNSIGNED NOT NULL,
      kind VARCHAR(32) NOT NULL, created_at DATETIME(3) NOT NULL, message VARCHAR(255) NULL) ENGINE=InnoDB`,
    `INSERT INTO events SELECT seq, 1 + seq * 7919 % ${n.instances}, ELT(1 + seq % 4, 'start', 'stop', 'reboot', 'billing'),
      '2024-01-01' + INTERVAL (seq * 15485863 % 31536000000) / 1000 SECOND,
      IF(seq % 11 = 0, NULL, CONCAT('request ', LEFT(MD5(seq), 12))) FROM seq_1_to_${n.events}`,
  ];
}

export interface SourceChange {
  updated: number;
  inserted: number;
  deleted: number;
}

/**
 * Changes `share` of the rows of each table, as an hour of real use would: half of them updated, a
 * quarter deleted and as many new rows inserted, spread evenly over the key range. Returns the counts.
 */
export async function changeSource(conn: mysql.Connection, rows: number, share: number): Promise<SourceChange> {
  if (!(share > 0 && share <= 0.2)) throw new Error(`a change of ${share}: expected a share of rows above 0 and at most 0.2`);
  const n = tableRows(rows);
  const change: SourceChange = { updated: 0, inserted: 0, deleted: 0 };
  const affected = async (sql: string) => ((await conn.query(sql))[0] as mysql.ResultSetHeader).affectedRows;
  const tables: Array<{ table: keyof typeof n; update: string; insert: (from: number, to: number) => string }> = [
    { table: 'accounts', update: `balance = balance + 1.25`, insert: (from, to) => `SELECT seq, CONCAT('Account ', seq), 1, 0, '2024-06-01', 1 FROM seq_${from}_to_${to}` },
    { table: 'instances', update: `state = IF(state = 2, 3, 2)`, insert: (from, to) => `SELECT seq, 1, CONCAT('vm-', seq, '.new.example'), 1, '2024-06-01', '{"new":true}' FROM seq_${from}_to_${to}` },
    { table: 'events', update: `message = CONCAT('edited ', id)`, insert: (from, to) => `SELECT seq, 1, 'start', '2024-06-01', 'new' FROM seq_${from}_to_${to}` },
  ];
  for (const { table, update, insert } of tables) {
    const total = n[table];
    const toChange = Math.round(total * share);
    const updates = Math.round(toChange / 2);
    const deletes = Math.floor((toChange - updates) / 2);
    const inserts = toChange - updates - deletes;
    // Every k-th id: updates at residue 1, deletes at residue 2, so no row is both updated and deleted.
    const k = Math.max(3, Math.floor(total / Math.max(1, updates)));
    if (updates > 0) change.updated += await affected(`UPDATE ${table} SET ${update} WHERE id % ${k} = 1 ORDER BY id LIMIT ${updates}`);
    if (deletes > 0) change.deleted += await affected(`DELETE FROM ${table} WHERE id % ${k} = 2 ORDER BY id LIMIT ${deletes}`);
    if (inserts > 0) change.inserted += await affected(`INSERT INTO ${table} ${insert(total + 1, total + inserts)}`);
  }
  return change;
}
