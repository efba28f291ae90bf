// The alert webhook: one POST per new failure (a failed transaction or cycle, a silent GEO or hour, a dead
// host) and one per recovery. It never holds the pipeline up: each call is bounded by alerts.timeout_ms,
// and what could not be delivered is retried by the next tick.
import type { LoadedConfig } from '../config/load.js';
import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { Db } from '../state/db.js';
import { markAlertNotified, updateAlerts } from '../state/alerts.js';
import { findDeadManProblems } from './dead-man.js';

export async function notifyAlerts(loaded: LoadedConfig, db: Db, log: Logger, now = new Date()): Promise<{ sent: number; failed: number }> {
  const { webhook_url: url, timeout_ms: timeoutMs } = loaded.config.alerts;
  if (!url) return { sent: 0, failed: 0 };
  // The same dead-man problems `check` reports, each under a key of its own (one per GEO, not per hour), so an
  // outage is announced once when it starts, however many ticks and hours it lasts, and once when it ends.
  const deadMan = await findDeadManProblems(db, loaded.config, now);
  const pending = await updateAlerts(db, new Map(deadMan.map((problem) => [problem.key, `${problem.level.toUpperCase()}: ${problem.what}`])));
  let sent = 0;
  let failed = 0;
  for (const alert of pending) {
    const body = { source: 'ganymede', site: loaded.config.site.name, event: alert.firing ? 'failure' : 'recovery', key: alert.key, detail: alert.detail, at: alert.changedAt.toISOString() };
    let delivered = false;
    try {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
      delivered = response.ok;
      if (!delivered) log.warn(`alert webhook answered ${response.status} for ${alert.key}; the next tick tries again`);
    } catch (error) {
      log.warn(`alert webhook unreachable for ${alert.key}: ${messageOf(error)}; the next tick tries again`);
    }
    await markAlertNotified(db, alert.key, alert.firing, delivered);
    if (delivered) sent++;
    else {
      failed++;
      // One unreachable webhook is enough to know: the rest wait for the next tick instead of each timing out.
      break;
    }
  }
  return { sent, failed };
}
