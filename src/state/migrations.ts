// Versioned migrations of the Ganymede database. Append only: never edit a released migration.
// Written for MySQL 5.6+/8 and MariaDB 10.x alike: no JSON column type (5.6 lacks it), indexed VARCHARs
// at most 191 characters (767-byte index limit of 5.6 with utf8mb4), no column named `rows` (reserved in 8.0).
// Every statement is safe to run again, because DDL commits on its own and a crash can stop a migration half way.
import { foundingSchema, table } from './schema-v1.js';

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export const migrations: Migration[] = [
  foundingSchema,
  {
    version: 2,
    name: 'feed files sent to Glassbeam',
    statements: [
      table(
        'feed_files',
        `  cycle_start DATETIME NOT NULL,
  name VARCHAR(191) NOT NULL,
  size BIGINT UNSIGNED NOT NULL,
  sha256 CHAR(64) CHARACTER SET ascii NOT NULL,
  remote_path VARCHAR(512) NOT NULL,
  sent_at DATETIME(3) NOT NULL,
  PRIMARY KEY (cycle_start, name)`,
      ),
    ],
  },
  {
    version: 3,
    name: 'metric minutes: per-minute aggregates of the metric points',
    statements: [
      table(
        'metric_minutes',
        `  name VARCHAR(64) NOT NULL,
  dimensions_hash CHAR(40) CHARACTER SET ascii NOT NULL,
  minute DATETIME NOT NULL,
  dimensions VARCHAR(512) NOT NULL,
  sum_value DOUBLE NOT NULL,
  min_value DOUBLE NOT NULL,
  max_value DOUBLE NOT NULL,
  sample_count BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (name, dimensions_hash, minute),
  KEY ix_metric_minutes_minute (minute)`,
      ),
    ],
  },
  {
    version: 4,
    name: 'alert states for the webhook: one per failure, notified once when it fires and once when it recovers',
    statements: [
      table(
        'alert_states',
        `  alert_key VARCHAR(96) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  firing TINYINT(1) NOT NULL,
  detail VARCHAR(1000) NOT NULL,
  changed_at DATETIME(3) NOT NULL,
  notified TINYINT(1) NOT NULL DEFAULT 0,
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  KEY ix_alert_states_pending (notified)`,
      ),
    ],
  },
  {
    version: 5,
    name: 'audit trail of admin actions',
    statements: [
      table(
        'audit_log',
        `  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  at DATETIME(3) NOT NULL,
  actor VARCHAR(96) NOT NULL,
  action VARCHAR(64) NOT NULL,
  target VARCHAR(191) NOT NULL,
  detail TEXT NULL,
  source_address VARCHAR(45) NULL,
  KEY ix_audit_at (at),
  KEY ix_audit_actor (actor, at),
  KEY ix_audit_target (target, at)`,
      ),
    ],
  },
  {
    version: 6,
    name: 'key rotation: the retired signing keys of each GEO, and the chain of centre keys agents fetch',
    statements: [
      // A retired GEO key still verifies the files delivered before it was retired (unless revoked).
      table(
        'geo_retired_keys',
        `  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  geo_id INT UNSIGNED NOT NULL,
  public_key TEXT NOT NULL,
  key_fingerprint VARCHAR(64) NOT NULL,
  retired_at DATETIME(3) NOT NULL,
  revoked TINYINT(1) NOT NULL DEFAULT 0,
  KEY ix_geo_retired_keys_geo (geo_id, retired_at)`,
      ),
      // Oldest first; each key after the first carries a detached signature by the one before it.
      table(
        'centre_keys',
        `  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  key_fingerprint VARCHAR(64) NOT NULL,
  public_key TEXT NOT NULL,
  signed_by VARCHAR(64) NULL,
  signature TEXT NULL,
  created_at DATETIME(3) NOT NULL,
  retired_at DATETIME(3) NULL,
  UNIQUE KEY uq_centre_keys_fingerprint (key_fingerprint)`,
      ),
    ],
  },
  {
    version: 7,
    name: 'hosts: the heartbeat of each central host (its site.name), from its ticks and its workers\' lease renewals',
    statements: [
      // What runs on a host is not kept here: the running steps name their host (steps.lease_host).
      table(
        'hosts',
        `  name VARCHAR(64) NOT NULL PRIMARY KEY,
  first_seen_at DATETIME(3) NOT NULL,
  last_seen_at DATETIME(3) NOT NULL,
  last_seen_by VARCHAR(16) NOT NULL,
  version VARCHAR(64) NOT NULL,
  KEY ix_hosts_last_seen (last_seen_at)`,
      ),
    ],
  },
  {
    version: 8,
    name: 'the last log lines of each failed attempt, so any host shows them (the log file stays on the host that ran it)',
    statements: [
      // A table of its own rather than a column of step_attempts: CREATE TABLE IF NOT EXISTS runs again safely.
      table(
        'attempt_logs',
        `  step_id BIGINT UNSIGNED NOT NULL,
  attempt INT UNSIGNED NOT NULL,
  host VARCHAR(64) NOT NULL,
  log_tail TEXT NOT NULL,
  recorded_at DATETIME(3) NOT NULL,
  PRIMARY KEY (step_id, attempt),
  KEY ix_attempt_logs_recorded (recorded_at)`,
      ),
    ],
  },
  {
    version: 9,
    name: 'metric_totals: cumulative counters and histogram buckets behind /metrics, which purge never lowers',
    statements: [
      // One row per exposed sample (a histogram's _bucket per le, its _sum, its _count; a counter), added to
      // by every worker and read alike by every API host. Starts at zero rather than from metric_points:
      // a backfill would count twice if the migration ran again, and Prometheus takes a new series from 0.
      // Labels compare byte for byte: under the table's case-insensitive collation GEO "a" and "A" would share a row.
      table(
        'metric_totals',
        `  name VARCHAR(64) CHARACTER SET ascii NOT NULL,
  labels VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  le VARCHAR(16) CHARACTER SET ascii NOT NULL DEFAULT '',
  value DOUBLE NOT NULL,
  PRIMARY KEY (name, labels, le)`,
      ),
    ],
  },
  {
    version: 10,
    name: 'retired deliveries: a file superseded by a forced re-delivery, or refused and quarantined, kept on record until archived and removed',
    statements: [
      // transactions keeps only the current delivery's file: a forced re-delivery blanks it, and a refused
      // one's file is no longer in the inbox. Shared by every central host, so any of them archives and
      // removes these files; `location` is `<geo>/<name>` below the inbox (superseded) or the quarantine.
      table(
        'retired_deliveries',
        `  txn_id BIGINT UNSIGNED NOT NULL,
  delivery INT UNSIGNED NOT NULL,
  geo_id INT UNSIGNED NOT NULL,
  cycle_start DATETIME NOT NULL,
  file_name VARCHAR(191) NOT NULL,
  file_size BIGINT UNSIGNED NOT NULL,
  file_sha256 CHAR(64) CHARACTER SET ascii NOT NULL,
  reason VARCHAR(16) NOT NULL,
  location VARCHAR(255) NOT NULL,
  retired_at DATETIME(3) NOT NULL,
  removed_at DATETIME(3) NULL,
  PRIMARY KEY (txn_id, delivery),
  KEY ix_retired_deliveries_removed (removed_at)`,
      ),
      // Files refused and quarantined before this version, found by the path their refusal names (a
      // quarantined file keeps its name, or gets `.txn-<id>-d<delivery>` after it); runs again harmlessly.
      `INSERT IGNORE INTO retired_deliveries (txn_id, delivery, geo_id, cycle_start, file_name, file_size, file_sha256, reason, location, retired_at)
       SELECT t.id, t.delivery, t.geo_id, t.cycle_start, t.file_name, t.file_size, t.file_sha256, 'quarantined',
              CONCAT(g.name, '/', SUBSTRING_INDEX(t.error, '/', -1)), t.updated_at
       FROM transactions t JOIN geos g ON g.id = t.geo_id
       WHERE t.state = 'refused' AND t.file_name IS NOT NULL AND t.file_size IS NOT NULL AND t.file_sha256 IS NOT NULL
         AND t.error LIKE '%moved to %' AND LEFT(SUBSTRING_INDEX(t.error, '/', -1), CHAR_LENGTH(t.file_name)) = t.file_name`,
    ],
  },
  {
    version: 11,
    name: 'geo schemas: the tables and column types of each GEO hour as loaded, and what changed since the hour before',
    statements: [
      // One row per distinct schema (a GEO's schema rarely changes, so the hours share it), by its sha256.
      table(
        'schema_versions',
        `  sha256 CHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  tables_json MEDIUMTEXT NOT NULL,
  created_at DATETIME(3) NOT NULL`,
      ),
      // changes_json: the schema changes from previous_cycle (the GEO's latest hour before this one with a
      // recorded schema) to this hour; '[]' when none or when there is no earlier hour.
      table(
        'geo_schemas',
        `  geo_id INT UNSIGNED NOT NULL,
  cycle_start DATETIME NOT NULL,
  schema_sha256 CHAR(64) CHARACTER SET ascii NOT NULL,
  previous_cycle DATETIME NULL,
  change_count INT UNSIGNED NOT NULL DEFAULT 0,
  changes_json MEDIUMTEXT NOT NULL,
  recorded_at DATETIME(3) NOT NULL,
  PRIMARY KEY (geo_id, cycle_start),
  KEY ix_geo_schemas_changes (cycle_start, change_count)`,
      ),
    ],
  },
  {
    version: 12,
    name: 'the web console: read-only viewer tokens, sign-in sessions, and the rows of each feed file sent',
    statements: [
      // Viewer tokens are stored as GEO tokens are: a SHA-256 of 256 random bits, never the token.
      table(
        'viewers',
        `  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(32) NOT NULL,
  token_hash CHAR(64) CHARACTER SET ascii NOT NULL,
  token_hint VARCHAR(16) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  last_signed_in_at DATETIME(3) NULL,
  UNIQUE KEY uq_viewers_name (name),
  UNIQUE KEY uq_viewers_token_hash (token_hash)`,
      ),
      // In MySQL so that any API host behind a balancer accepts a session another made; only a hash of the
      // session id is kept, so a read of this table signs nobody in. credential_tag ties an admin session to
      // the admin token it was made with: a new admin token ends the old sessions.
      table(
        'console_sessions',
        `  id_hash CHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  role VARCHAR(16) NOT NULL,
  viewer_id INT UNSIGNED NULL,
  credential_tag CHAR(16) CHARACTER SET ascii NULL,
  csrf_secret CHAR(64) CHARACTER SET ascii NOT NULL,
  source_address VARCHAR(45) NULL,
  created_at DATETIME(3) NOT NULL,
  expires_at DATETIME(3) NOT NULL,
  KEY ix_console_sessions_viewer (viewer_id),
  KEY ix_console_sessions_expires (expires_at)`,
      ),
      // A table beside feed_files rather than a column of it: CREATE TABLE IF NOT EXISTS runs again safely.
      table(
        'feed_file_rows',
        `  cycle_start DATETIME NOT NULL,
  name VARCHAR(191) NOT NULL,
  rows_count BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (cycle_start, name)`,
      ),
    ],
  },
];
