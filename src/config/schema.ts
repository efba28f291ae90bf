// The config file's shape: JSON with snake_case keys. Every key can also come from the environment as
// GANYMEDE_<PATH> (e.g. mysql.url → GANYMEDE_MYSQL_URL). Secrets are never literal values in the file:
// a `*_file` key names a file holding them, or the environment carries them (GANYMEDE_MYSQL_PASSWORD).
import { z } from 'zod';
import { mappingsSchema } from '../warehouse/mappings.js';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8080')
  // Only a well-formed host:port gets this check, so a malformed one is reported once.
  .refine((value) => !/:\d{1,5}$/.test(value) || Number(value.slice(value.lastIndexOf(':') + 1)) <= 65_535, 'the port must be at most 65535');
const mysqlUrl = z.string().regex(/^mysql:\/\/[^\s]+$/, 'expected mysql://user@host:port/database');
const mongodbUrl = z.string().regex(/^mongodb(\+srv)?:\/\/[^\s]+$/, 'expected mongodb://host:port');
const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/, 'expected http(s)://host:port');
const sftpUrl = z.string().regex(/^sftp:\/\/[^\s@]+@[^\s/]+(\/[^\s]*)?$/, 'expected sftp://user@host[:port]/path');
const inboxUrl = z
  .string()
  .regex(
    /^((sftp:\/\/[^\s@]+@[^\s/]+|file:\/\/)\/[^\s]*|(swift|s3):\/\/[^\s]+|api)$/,
    'expected api (upload through the pre-signed URLs the API hands out), sftp://user@host[:port]/path, file:///path, swift://container/prefix?… or s3://bucket/prefix?…',
  );
const storeUrl = z.string().regex(/^(file|sftp|swift|s3):\/\/[^\s]*$/, 'expected file://, sftp://, swift:// or s3:// URL');
const path = z.string().min(1, 'expected a path');
const positiveInt = z.number().int().positive();
const tableName = z.string().min(1).max(64);

export const secretKeys = [
  'mysql.password',
  'centre.scratch_mysql_password',
  'mongodb.password',
  'api.admin_token',
  'agent.token',
  'agent.source.password',
  'archive.secret',
  'agent.inbox_secret',
  'centre.inbox_secret',
  'centre.inbox_temp_url_key',
  'feed.store_secret',
  'archive.restore_password',
] as const;
export type SecretKey = (typeof secretKeys)[number];

export const configSchema = z.strictObject({
  site: z
    .strictObject({
      name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (1-64)').optional(),
      data_dir: path.default('/var/lib/ganymede'),
    })
    .prefault({}),
  logging: z
    .strictObject({
      format: z.enum(['text', 'json']).default('text'),
      level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    })
    .prefault({}),
  mysql: z
    .strictObject({
      url: mysqlUrl.optional(),
      password_file: path.optional(),
      pool_size: positiveInt.max(64).default(4),
      connect_timeout_ms: positiveInt.default(10_000),
    })
    .prefault({}),
  mongodb: z
    .strictObject({
      url: mongodbUrl.optional(),
      database: z.string().regex(/^[^\s./\\"$]{1,63}$/, 'a MongoDB database name').default('ganymede'),
      password_file: path.optional(),
      connect_timeout_ms: positiveInt.default(10_000),
      /** Every warehouse write waits for this many members (journaled); the environment gives numbers as text. */
      write_concern: z
        .union([z.literal('majority'), positiveInt, z.string().regex(/^[1-9]\d*$/).transform(Number)], {
          error: 'expected "majority" or a number of replica set members (1, 2, …)',
        })
        .default('majority'),
      /** How long a write waits for write_concern before it fails as "unreachable" (and is retried). */
      write_concern_timeout_ms: positiveInt.default(60_000),
    })
    .prefault({}),
  api: z
    .strictObject({
      listen: hostPort.default('127.0.0.1:8080'),
      url: httpUrl.default('http://127.0.0.1:8080'),
      admin_token_file: path.optional(),
      max_body_bytes: positiveInt.max(64 * 1024 * 1024).default(1024 * 1024),
      /** Agents and tools: the CA that signed the API's certificate, and their own client certificate for mTLS. */
      ca_file: path.optional(),
      client_cert_file: path.optional(),
      client_key_file: path.optional(),
      /** Allow plain http:// to a non-loopback API address (on purpose only). */
      allow_insecure: z.boolean().default(false),
      /** Failed authentications per source address before 429; 0 turns the limit off. */
      auth_failure_limit: z.number().int().min(0).max(10_000).default(10),
      /** Failed authentications from all addresses together per window before every wrong token gets 429; 0 turns it off. */
      auth_failure_global_limit: z.number().int().min(0).max(1_000_000).default(100),
      auth_failure_window_ms: positiveInt.min(1_000).default(60_000),
      tls: z
        .strictObject({
          cert_file: path.optional(),
          key_file: path.optional(),
          client_ca_file: path.optional(),
          admin_client_cert_name: z.string().min(1).max(191).optional(),
        })
        .prefault({}),
      max_events_per_request: positiveInt.max(10_000).default(500),
      /** Stored events per transaction; later ones are dropped (the reply counts them) and one note says so. */
      max_events_per_txn: positiveInt.max(1_000_000).default(5_000),
      /** Events one GEO may store per minute; past it 429 with Retry-After. */
      max_events_per_geo_per_minute: positiveInt.max(1_000_000).default(1_200),
      request_timeout_ms: positiveInt.default(15_000),
      /** How long a web console sign-in lasts, in hours, before the browser is asked for a token again. */
      console_session_hours: z.number().positive().max(24 * 30).default(12),
    })
    .prefault({}),
  agent: z
    .strictObject({
      geo: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, _ - (1-32)').optional(),
      token_file: path.optional(),
      source: z
        .strictObject({
          url: mysqlUrl.optional(),
          password_file: path.optional(),
          include: z.array(tableName).default([]),
          exclude: z.array(tableName).default([]),
        })
        .prefault({}),
      signing_key_file: path.optional(),
      centre_public_key_file: path.optional(),
      inbox: inboxUrl.optional(),
      /**
       * zstd (the zstd tool, -1, on the other core: several times faster than zlib; apt-get install zstd) or
       * gzip (zlib, for a host without the tool). The centre opens either, told apart by the magic bytes.
       */
      compression: z.enum(['gzip', 'zstd']).default('zstd'),
      sftp_key_file: path.optional(),
      /** The central SFTP server's host key: `SHA256:…` as ssh-keygen -l prints it, or a known_hosts line. */
      inbox_host_key: z.string().min(8).optional(),
      /** Mode of the delivered file on an sftp:// inbox: "0640" for a per-GEO chrooted account the centre reads through a group. */
      inbox_file_mode: z.enum(['0600', '0640']).default('0600'),
      /** A swift:// or s3:// inbox written with the GEO's own credentials: the key, password or secret access key. */
      inbox_secret_file: path.optional(),
      /** For an s3:// inbox whose URL has no KEY_ID@. */
      inbox_access_key_id: z.string().optional(),
      work_dir: path.optional(),
      /**
       * How long `agent run` waits for a status API that is down (a deploy, a restart) before it gives up on
       * opening its hour, and again before it keeps a delivered file's close for the next run. Never past the
       * top of the next clock hour, when the next run may start. Minutes; fractions allowed, 0 waits not at all.
       */
      api_patience_minutes: z.number().min(0).max(60).default(20),
    })
    .prefault({}),
  centre: z
    .strictObject({
      /**
       * Where GEOs deliver, as a URL (file://, sftp://, swift://, s3://; src/inbox/store.ts); inbox_dir is the
       * local case and stays the default. A swift:// or s3:// inbox lets the API hand out pre-signed uploads.
       */
      inbox: storeUrl.optional(),
      /** For an sftp:// inbox: the SSH key, and the server's host key (`SHA256:…` or a known_hosts line). */
      inbox_key_file: path.optional(),
      inbox_host_key: z.string().min(8).optional(),
      /** For swift:// (key, password or API key) and s3:// (secret access key); or GANYMEDE_CENTRE_INBOX_SECRET. */
      inbox_secret_file: path.optional(),
      /** For s3:// when the URL has no KEY_ID@. */
      inbox_access_key_id: z.string().optional(),
      /** swift://: the account's Temp-URL-Key (X-Account-Meta-Temp-URL-Key) that upload URLs are signed with. */
      inbox_temp_url_key_file: path.optional(),
      /** swift://: sha256, or sha1 for a cluster whose /info lists no other (older Cloud Files). */
      inbox_temp_url_digest: z.enum(['sha1', 'sha256']).default('sha256'),
      /** How long a pre-signed upload URL works (S3 allows at most 7 days). */
      inbox_upload_ttl_ms: positiveInt.min(60_000).max(604_800_000).default(3_600_000),
      inbox_dir: path.optional(),
      work_dir: path.optional(),
      quarantine_dir: path.optional(),
      log_dir: path.optional(),
      private_key_file: path.optional(),
      max_workers: positiveInt.max(256).default(4),
      max_workers_per_step: z.partialRecord(z.enum(['decrypt', 'load', 'etl', 'clean', 'feed', 'send']), positiveInt).default({}),
      lease_ms: positiveInt.min(1_000).default(60_000),
      lease_grace_ms: positiveInt.default(30_000),
      max_attempts: positiveInt.max(100).default(5),
      retry_base_ms: positiveInt.default(30_000),
      /**
       * The server and user that load delivered dumps into temporary schemas: a user of its own, with rights on
       * `gmd\_%` schemas only (README, "Least privilege"), so nothing a GEO delivers can reach the Ganymede database.
       */
      scratch_mysql_url: mysqlUrl.optional(),
      scratch_mysql_password_file: path.optional(),
      cycle_deadline_minutes: positiveInt.default(45),
      /** How many hours back a GEO's token may open an hour it has no transaction for; older needs the admin token. */
      max_backfill_hours: positiveInt.default(72),
      /** The most a delivered file may unpack to: past it, decrypt refuses it as it streams. */
      max_unpacked_bytes: positiveInt.default(64 * 1024 ** 3),
      /**
       * …and at most this many times its own size (applied past 256 MiB): zstd -1 and gzip on a MySQL dump
       * reach ~5-10×, very repetitive tables several tens; a decompression bomb reaches thousands.
       */
      max_unpack_ratio: z.number().positive().default(200),
      /** `archive restore` (which unpacks to a local disk) starts only if site.data_dir keeps this much free after the expected unpacked size. */
      min_free_bytes: z.number().int().nonnegative().default(1024 ** 3),
      /** A central host is dead after this long without a heartbeat (its ticks and its workers' lease renewals). */
      host_dead_after_ms: positiveInt.min(1_000).default(180_000),
    })
    .prefault({}),
  glassbeam: z
    .strictObject({
      url: sftpUrl.optional(),
      key_file: path.optional(),
      /** Glassbeam's host key: `SHA256:…` or a known_hosts line. */
      host_key: z.string().min(8).optional(),
    })
    .prefault({}),
  alerts: z
    .strictObject({
      /** Called (POST, JSON) once per new failure and once on its recovery; failed calls are retried by later ticks. */
      webhook_url: httpUrl.optional(),
      timeout_ms: positiveInt.max(30_000).default(3_000),
    })
    .prefault({}),
  retention: z
    .strictObject({
      events_days: positiveInt.default(14),
      metrics_days: positiveInt.default(14),
      attempts_days: positiveInt.default(14),
      change_log_days: positiveInt.default(30),
      batch_rows: positiveInt.max(100_000).default(5_000),
    })
    .prefault({}),
  check: z
    .strictObject({
      failed_window_hours: positiveInt.default(24),
      send_deadline_minutes: positiveInt.default(90),
      archive_max_age_minutes: positiveInt.default(150),
      tick_max_age_minutes: positiveInt.default(5),
      disk_warning_percent: z.number().min(0).max(100).default(15),
      disk_critical_percent: z.number().min(0).max(100).default(5),
      /** A GEO that has delivered nothing for this many hours past their deadline is CRITICAL (one hour: WARNING). */
      geo_critical_hours: positiveInt.default(2),
      /** How far back check and the alerts look for hours not delivered: bounds their queries. */
      lookback_hours: positiveInt.max(24 * 31).default(24),
      /** A GEO hour within lookback_hours whose schema differs from the GEO's hour before is a WARNING. */
      warn_on_schema_change: z.boolean().default(false),
    })
    .prefault({}),
  feed: z
    .strictObject({
      format: z.enum(['ndjson', 'csv']).default('ndjson'),
      mode: z.enum(['full', 'changes']).default('full'),
      /** After centre.cycle_deadline_minutes: feed without the late GEOs (true) or keep waiting (false). */
      partial_after_deadline: z.boolean().default(false),
      dir: path.optional(),
      /**
       * Where the feed's files live, `<cycle>/<file>` below it: a store every central host reads, so any
       * host sends what another built. Default file://<dir, or data_dir/feed>. Credentials as archive.*.
       */
      store: storeUrl.optional(),
      store_key_file: path.optional(),
      store_host_key: z.string().min(8).optional(),
      /** For swift:// and s3://; or GANYMEDE_FEED_STORE_SECRET. */
      store_secret_file: path.optional(),
      store_access_key_id: z.string().optional(),
    })
    .prefault({}),
  warehouse: z
    .strictObject({
      mappings: mappingsSchema,
    })
    .prefault({}),
  archive: z
    .strictObject({
      url: storeUrl.optional(),
      /** For sftp:// stores: the SSH key, and the server's host key (`SHA256:…` or a known_hosts line). */
      key_file: path.optional(),
      host_key: z.string().min(8).optional(),
      /** For swift:// (key, password or API key) and s3:// (secret access key); or GANYMEDE_ARCHIVE_SECRET. */
      secret_file: path.optional(),
      /** For s3:// when the URL has no KEY_ID@. */
      access_key_id: z.string().optional(),
      /** `archive restore --to mysql://…`: the password of that URL's user (or GANYMEDE_ARCHIVE_RESTORE_PASSWORD). */
      restore_password_file: path.optional(),
      /** `archive prune`: every object for this many days, then the first of each day for daily_days. */
      hourly_days: positiveInt.default(14),
      daily_days: positiveInt.default(90),
      /** `archive prune`: agent files stay in the local inbox this long after they were archived. */
      local_days: positiveInt.default(2),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
