// GET /metrics in the Prometheus text format: transactions by state, last success per GEO and step,
// step duration histograms, running workers, archive age, central hosts alive and dead, and the API's own
// request counts and latency.
import type mysql from 'mysql2/promise';
import type { Db } from '../state/db.js';
import { countHosts, defaultHostDeadAfterMs } from '../state/hosts.js';

const durationBucketsSeconds = [1, 5, 15, 60, 300, 900, 3600];

/** The API's own counters, kept in memory since the process started. */
export class RequestStats {
  private readonly counts = new Map<string, number>();
  private readonly latency = { sum: 0, count: 0, buckets: [0.005, 0.025, 0.1, 0.5, 2].map((le) => ({ le, n: 0 })) };

  record(method: string, status: number, seconds: number): void {
    const key = `${method}|${status}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.latency.sum += seconds;
    this.latency.count++;
    for (const bucket of this.latency.buckets) if (seconds <= bucket.le) bucket.n++;
  }

  lines(): string[] {
    const out = ['# HELP ganymede_api_requests_total API requests by method and status.', '# TYPE ganymede_api_requests_total counter'];
    for (const [key, n] of [...this.counts].sort()) {
      const [method, status] = key.split('|');
      out.push(`ganymede_api_requests_total{method="${method}",status="${status}"} ${n}`);
    }
    out.push('# HELP ganymede_api_request_duration_seconds API request latency.', '# TYPE ganymede_api_request_duration_seconds histogram');
    for (const bucket of this.latency.buckets) out.push(`ganymede_api_request_duration_seconds_bucket{le="${bucket.le}"} ${bucket.n}`);
    out.push(`ganymede_api_request_duration_seconds_bucket{le="+Inf"} ${this.latency.count}`);
    out.push(`ganymede_api_request_duration_seconds_sum ${this.latency.sum}`, `ganymede_api_request_duration_seconds_count ${this.latency.count}`);
    return out;
  }
}

const label = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export async function renderMetrics(db: Db, stats: RequestStats, hostDeadAfterMs = defaultHostDeadAfterMs): Promise<string> {
  const query = async (sql: string) => (await db.query<mysql.RowDataPacket[]>(sql))[0];
  const out: string[] = [];
  out.push('# HELP ganymede_transactions Transactions by state.', '# TYPE ganymede_transactions gauge');
  for (const row of await query('SELECT state, COUNT(*) AS n FROM transactions GROUP BY state ORDER BY state')) out.push(`ganymede_transactions{state="${label(row.state)}"} ${row.n}`);
  out.push('# HELP ganymede_last_success_timestamp_seconds When each GEO last finished each step.', '# TYPE ganymede_last_success_timestamp_seconds gauge');
  for (const row of await query(
    `SELECT g.name AS geo, s.name AS step, UNIX_TIMESTAMP(MAX(s.finished_at)) AS at FROM steps s JOIN transactions t ON t.id = s.txn_id JOIN geos g ON g.id = t.geo_id
     WHERE s.state = 'done' GROUP BY g.name, s.name ORDER BY g.name, s.name`,
  )) {
    out.push(`ganymede_last_success_timestamp_seconds{geo="${label(row.geo)}",step="${row.step}"} ${Number(row.at)}`);
  }
  out.push('# HELP ganymede_workers_running Worker steps running now.', '# TYPE ganymede_workers_running gauge');
  const running = await query("SELECT name, COUNT(*) AS n FROM steps WHERE state = 'running' GROUP BY name");
  for (const step of ['decrypt', 'load', 'etl', 'clean', 'feed', 'send']) out.push(`ganymede_workers_running{step="${step}"} ${Number(running.find((row) => row.name === step)?.n ?? 0)}`);
  out.push('# HELP ganymede_step_duration_seconds Step durations over the last 24 hours.', '# TYPE ganymede_step_duration_seconds histogram');
  const durations = await query(
    // Dimensions are parsed here rather than with JSON_EXTRACT, which MySQL 5.6 lacks.
    "SELECT dimensions, value FROM metric_points WHERE name = 'step.duration' AND at > UTC_TIMESTAMP() - INTERVAL 1 DAY",
  );
  const bySteps = new Map<string, number[]>();
  for (const row of durations) {
    const step = String((JSON.parse(String(row.dimensions)) as { step?: string }).step ?? 'unknown');
    bySteps.set(step, [...(bySteps.get(step) ?? []), Number(row.value) / 1000]);
  }
  for (const [step, values] of [...bySteps].sort()) {
    for (const le of durationBucketsSeconds) out.push(`ganymede_step_duration_seconds_bucket{step="${label(step)}",le="${le}"} ${values.filter((v) => v <= le).length}`);
    out.push(`ganymede_step_duration_seconds_bucket{step="${label(step)}",le="+Inf"} ${values.length}`);
    out.push(`ganymede_step_duration_seconds_sum{step="${label(step)}"} ${values.reduce((a, b) => a + b, 0)}`);
    out.push(`ganymede_step_duration_seconds_count{step="${label(step)}"} ${values.length}`);
  }
  const archive = await query("SELECT UNIX_TIMESTAMP(MAX(archived_at)) AS at FROM archive_records WHERE state = 'archived'");
  out.push('# HELP ganymede_archive_age_seconds Seconds since the last object was archived (absent: never).', '# TYPE ganymede_archive_age_seconds gauge');
  if (archive[0]?.at) out.push(`ganymede_archive_age_seconds ${Math.max(0, Math.round(Date.now() / 1000 - Number(archive[0].at)))}`);
  const hosts = await countHosts(db, hostDeadAfterMs);
  out.push('# HELP ganymede_hosts_alive Central hosts with a heartbeat within centre.host_dead_after_ms.', '# TYPE ganymede_hosts_alive gauge', `ganymede_hosts_alive ${hosts.alive}`);
  out.push('# HELP ganymede_hosts_dead Central hosts without one (until `ganymede hosts forget`).', '# TYPE ganymede_hosts_dead gauge', `ganymede_hosts_dead ${hosts.dead}`);
  out.push(...stats.lines());
  return `${out.join('\n')}\n`;
}
