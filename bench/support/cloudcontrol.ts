// A Cloud-Control-like database for the benchmarks, the shape MEASUREMENTS.md describes: per scale step
// 10k accounts, 1.05M instances with a ~340-byte JSON text column, 2.1M events (≈750 MB of mysqldump).
// Built on the server by INSERT … SELECT from MariaDB's SEQUENCE engine (seq_1_to_N, a numbers table
// that costs nothing), not by client inserts: 10–15 s per scale step on these machines.
// A finished database carries a marker in the events table's comment, so later runs reuse it.
import type mysql from 'mysql2/promise';

export const generatorVersion = 2;
const perScale = { accounts: 10_000, instances: 1_050_000, events: 2_100_000 };
/** Rows per INSERT … SELECT: big enough to be cheap per statement, small enough for a modest undo log. */
const chunkRows = 350_000;

export interface CloudControl {
  database: string;
  scale: number;
  rows: { accounts: number; instances: number; events: number };
  /** True when an existing, complete database was reused. */
  reused: boolean;
  generatedMs: number;
}

export function cloudControlName(scale: number): string {
  return `gmd_bench_cloudcontrol_${scale}`;
}

function marker(scale: number): string {
  return `gmd_bench generator v${generatorVersion} scale ${scale} complete`;
}

/**
 * The database for `scale`, generated unless a complete one of the same generator version exists.
 * `connect` opens a root connection (no default database); two are used to fill tables side by side.
 */
export async function ensureCloudControl(connect: () => Promise<mysql.Connection>, scale: number, log: (line: string) => void): Promise<CloudControl> {
  if (!Number.isInteger(scale) || scale < 1 || scale > 100) throw new Error(`--scale ${scale}: expected a whole number from 1 to 100`);
  const database = cloudControlName(scale);
  const rows = { accounts: perScale.accounts * scale, instances: perScale.instances * scale, events: perScale.events * scale };
  const admin = await connect();
  try {
    const [found] = await admin.query('SELECT TABLE_COMMENT AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [database, 'events']);
    if ((found as { c: string }[])[0]?.c === marker(scale)) return { database, scale, rows, reused: true, generatedMs: 0 };
    log(`generating ${database}: ${rows.accounts} accounts, ${rows.instances} instances, ${rows.events} events (10–15 s per scale step)`);
    const started = performance.now();
    await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await admin.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await admin.query(`USE \`${database}\``);
    for (const sql of createTablesSql) await admin.query(sql);
    await fill(admin, 'accounts', rows.accounts, accountsSelect);
    // The two big tables on two connections: the server spends one core on each.
    const second = await connect();
    try {
      await second.query(`USE \`${database}\``);
      await Promise.all([
        fill(admin, 'instances', rows.instances, (from, to) => instancesSelect(from, to, rows.accounts)),
        fill(second, 'events', rows.events, (from, to) => eventsSelect(from, to, rows.instances, rows.accounts)),
      ]);
      // Secondary indexes after the load: one sorted build each instead of random inserts all along.
      await Promise.all([
        admin.query('ALTER TABLE instances ADD INDEX instances_account (account_id)'),
        second.query('ALTER TABLE events ADD INDEX events_instance (instance_id, created_at)'),
      ]);
    } finally {
      await second.end();
    }
    await admin.query('ANALYZE TABLE accounts, instances, events');
    await admin.query(`ALTER TABLE events COMMENT = '${marker(scale)}'`);
    return { database, scale, rows, reused: false, generatedMs: performance.now() - started };
  } finally {
    await admin.end();
  }
}

async function fill(conn: mysql.Connection, table: string, total: number, select: (from: number, to: number) => string): Promise<void> {
  for (let from = 1; from <= total; from += chunkRows) {
    const to = Math.min(total, from + chunkRows - 1);
    await conn.query(`INSERT INTO ${table} ${select(from, to)}`);
  }
}

const createTablesSql = [
  `CREATE TABLE accounts (
    id INT UNSIGNED NOT NULL PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    email VARCHAR(190) NOT NULL,
    plan ENUM('free','standard','premium','enterprise') NOT NULL,
    region VARCHAR(32) NOT NULL,
    balance DECIMAL(12,2) NOT NULL,
    created_at DATETIME NOT NULL,
    active TINYINT(1) NOT NULL
  ) ENGINE=InnoDB`,
  `CREATE TABLE instances (
    id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    account_id INT UNSIGNED NOT NULL,
    hostname VARCHAR(100) NOT NULL,
    state ENUM('pending','running','stopped','terminated') NOT NULL,
    region VARCHAR(32) NOT NULL,
    created_at DATETIME NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    config TEXT NOT NULL
  ) ENGINE=InnoDB`,
  `CREATE TABLE events (
    id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    instance_id BIGINT UNSIGNED NOT NULL,
    account_id INT UNSIGNED NOT NULL,
    kind VARCHAR(32) NOT NULL,
    severity TINYINT UNSIGNED NOT NULL,
    created_at DATETIME(3) NOT NULL,
    message VARCHAR(255) NULL
  ) ENGINE=InnoDB`,
];

const regions = `ELT(1 + seq % 6, 'eu-west-1', 'eu-central-1', 'us-east-1', 'us-west-2', 'ap-southeast-1', 'ap-northeast-1')`;

function accountsSelect(from: number, to: number): string {
  return `SELECT seq, CONCAT('Account ', seq, ' ', LEFT(MD5(seq), 8)), CONCAT('ops+', seq, '@customer', seq % 997, '.example'),
    1 + seq % 4, ${regions}, (seq * 7919 % 10000000) / 100, '2020-01-01' + INTERVAL (seq * 3119 % 126144000) SECOND, seq % 10 <> 0
    FROM seq_${from}_to_${to}`;
}

// The JSON column: mostly keys and small numbers, with hex identifiers in it, so it compresses like
// real configuration (about 4× with gzip -1), not like random bytes or like repeated text.
function instancesSelect(from: number, to: number, accounts: number): string {
  const config = `CONCAT(
    '{"uuid":"', INSERT(INSERT(INSERT(INSERT(MD5(seq), 9, 0, '-'), 14, 0, '-'), 19, 0, '-'), 24, 0, '-'),
    '","name":"vm-', seq, '","flavor":"', ELT(1 + seq % 5, 'm5.large', 'm5.xlarge', 'c6i.2xlarge', 'r6g.large', 't3.medium'),
    '","image":"', ELT(1 + seq % 4, 'ubuntu-22.04', 'debian-12', 'rhel-9.3', 'windows-2022'), '-', 20240101 + seq % 300,
    '","vcpus":', 1 << (seq % 5), ',"ram_mb":', 1024 << (seq % 6),
    ',"disks":[{"size_gb":', 20 + seq % 480, ',"type":"', IF(seq % 3 = 0, 'hdd', 'ssd'), '","iops":', 100 * (1 + seq % 30), '}]',
    ',"net":{"ip":"10.', seq >> 16 & 255, '.', seq >> 8 & 255, '.', seq & 255, '","mac":"02:',
    CONCAT_WS(':', MID(SHA1(seq), 1, 2), MID(SHA1(seq), 3, 2), MID(SHA1(seq), 5, 2), MID(SHA1(seq), 7, 2), MID(SHA1(seq), 9, 2)),
    '"},"tags":{"env":"', ELT(1 + seq % 3, 'prod', 'staging', 'dev'), '","team":"team-', seq % 97, '","cost":"cc-', 1000 + seq % 4000, '"}',
    ',"monitor":{"on":', IF(seq % 4 = 0, 'false', 'true'), ',"interval_s":', 60 * (1 + seq % 5), '}}')`;
  return `SELECT seq, 1 + seq * 7 % ${accounts}, CONCAT('vm-', seq, '.', LEFT(MD5(seq), 6), '.cloud.example'), 1 + seq % 4, ${regions},
    '2021-01-01' + INTERVAL (seq * 6007 % 94608000) SECOND, '2024-01-01' + INTERVAL (seq * 104729 % 31536000) SECOND, ${config}
    FROM seq_${from}_to_${to}`;
}

function eventsSelect(from: number, to: number, instances: number, accounts: number): string {
  return `SELECT seq, 1 + seq * 7919 % ${instances}, 1 + seq * 13 % ${accounts},
    ELT(1 + seq % 8, 'start', 'stop', 'reboot', 'resize', 'snapshot', 'billing', 'backup', 'alarm'), seq % 5,
    '2024-01-01' + INTERVAL (seq * 15485863 % 31536000000) / 1000 SECOND,
    IF(seq % 11 = 0, NULL, CONCAT('instance ', 1 + seq * 7919 % ${instances}, ' by u', seq % 500, ' req ', LEFT(MD5(seq), 12)))
    FROM seq_${from}_to_${to}`;
}
