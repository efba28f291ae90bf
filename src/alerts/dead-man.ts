// The dead-man switch, as Healthchecks is for a cron job: each enabled GEO is expected every hour, and silence
// is the alarm. A GEO is judged by its last delivery ("last ping"): the hours due since the newest hour it
// delivered are what it owes; an earlier hour it missed but later hours made up for is history (`status` shows
// it), not an alarm that no delivery could ever clear. `check` and the webhook both read their problems here.
import type { Config } from '../config/schema.js';
import { cycleOf, formatCycle, hourMs } from '../cycle.js';
import type { Db } from '../state/db.js';
import { listExpectedGeos, listTransactionsSince, type ExpectedGeo, type HourTransaction } from '../state/expectations.js';
import { listHosts } from '../state/hosts.js';
import type { TxnState } from '../state/transactions.js';
import { formatAgo } from '../render/age.js';

export type ProblemKind = 'geo-silent' | 'hours-silent' | 'host-dead';

/** An hour owed: `opened` is the state of a transaction opened but never delivered, null when nothing was opened. */
export interface MissedHour {
  cycle: string;
  opened: Extract<TxnState, 'open' | 'agent_failed'> | null;
}

export interface Problem {
  /** The alert's identity: one per GEO, one for the silent hours, one per host, so a webhook fires once per outage. */
  key: string;
  kind: ProblemKind;
  level: 'warning' | 'critical';
  what: string;
  geo?: string;
  host?: string;
  /** Oldest first. */
  hours?: MissedHour[];
  /** geo-silent: the newest hour the GEO delivered within the look-back window; null if none. */
  lastDelivered?: string | null;
  /** hours-silent: the newest hour any GEO opened within the look-back window; null if none. */
  lastOpened?: string | null;
}

export interface SilenceRules {
  now: Date;
  /** centre.cycle_deadline_minutes: an hour is owed once its deadline has passed. */
  deadlineMinutes: number;
  criticalHours: number;
  lookbackHours: number;
}

/** Still open, or given up by the agent: nothing reached the centre. Every other state went through `delivered` (or an operator cancelled the hour). */
const notDelivered = new Set<TxnState>(['open', 'agent_failed']);

/** The newest hour whose deadline has passed. */
function lastDueHour(rules: SilenceRules): number {
  return cycleOf(new Date(rules.now.getTime() - rules.deadlineMinutes * 60_000)).getTime();
}

/** The oldest hour looked at: the window holds the lookbackHours newest hours due. */
export function lookbackStart(rules: SilenceRules): Date {
  return new Date(lastDueHour(rules) - (rules.lookbackHours - 1) * hourMs);
}

/** The first hour owed by a GEO expected since `since`: an hour that had begun before it was added is not. */
export function firstHourOwed(since: Date): number {
  return Math.ceil(since.getTime() / hourMs) * hourMs;
}

/** The hours whose deadline has passed, from `from` on, oldest first. */
function dueHours(from: number, rules: SilenceRules): number[] {
  const lastDue = lastDueHour(rules);
  const hours: number[] = [];
  for (let hour = Math.max(from, lookbackStart(rules).getTime()); hour <= lastDue; hour += hourMs) hours.push(hour);
  return hours;
}

/** "2026-01-01T10 opened but never delivered, 2026-01-01T11 to 2026-01-01T14 nothing opened": runs of one kind in one phrase. */
export function describeHours(hours: MissedHour[], phrase = (hour: MissedHour) => (hour.opened ? `opened but never delivered (${hour.opened})` : 'nothing opened')): string {
  const runs: Array<{ first: string; last: string; phrase: string }> = [];
  for (const hour of hours) {
    const previous = runs.at(-1);
    if (previous && previous.phrase === phrase(hour)) previous.last = hour.cycle;
    else runs.push({ first: hour.cycle, last: hour.cycle, phrase: phrase(hour) });
  }
  return runs.map((run) => [run.first === run.last ? run.first : `${run.first} to ${run.last}`, run.phrase].filter(Boolean).join(' ')).join(', ');
}

const hoursText = (count: number) => `${count} hour${count === 1 ? '' : 's'}`;

/** Each GEO owing hours, then the hours no GEO opened at all; pure, so the rules are testable without a clock. */
export function findSilences(geos: ExpectedGeo[], transactions: HourTransaction[], rules: SilenceRules): Problem[] {
  const problems: Problem[] = [];
  const level = (count: number) => (count >= rules.criticalHours ? 'critical' : 'warning') as Problem['level'];
  const lastOf = (items: HourTransaction[]) => items.reduce<number | null>((newest, txn) => Math.max(newest ?? 0, txn.cycleStart.getTime()), null);
  const last = (verb: string, hour: number | null) => (hour === null ? `nothing ${verb} in the last ${rules.lookbackHours} h` : `last ${verb} ${formatCycle(new Date(hour))}`);
  // Grouped once: with 200 GEOs a filter per GEO would walk every transaction 200 times.
  const byGeo = new Map<number, HourTransaction[]>();
  for (const txn of transactions) (byGeo.get(txn.geoId) ?? byGeo.set(txn.geoId, []).get(txn.geoId)!).push(txn);
  for (const geo of geos) {
    const own = byGeo.get(geo.id) ?? [];
    const lastDelivered = lastOf(own.filter((txn) => !notDelivered.has(txn.state)));
    const byHour = new Map(own.map((txn) => [txn.cycleStart.getTime(), txn.state]));
    const owed = dueHours(firstHourOwed(geo.expectedSince), rules).filter((hour) => lastDelivered === null || hour > lastDelivered);
    if (owed.length === 0) continue;
    const hours = owed.map((hour) => ({ cycle: formatCycle(new Date(hour)), opened: (byHour.get(hour) ?? null) as MissedHour['opened'] }));
    problems.push({
      key: `geo-silent:${geo.name}`,
      kind: 'geo-silent',
      level: level(hours.length),
      what: `GEO ${geo.name}: ${hoursText(hours.length)} not delivered by their deadline (${rules.deadlineMinutes} min): ${describeHours(hours)}; ${last('delivered', lastDelivered)}`,
      geo: geo.name,
      hours,
      lastDelivered: lastDelivered === null ? null : formatCycle(new Date(lastDelivered)),
    });
  }
  if (geos.length > 0) {
    const lastOpened = lastOf(transactions);
    const firstOwed = Math.min(...geos.map((geo) => firstHourOwed(geo.expectedSince)));
    const silent = dueHours(firstOwed, rules).filter((hour) => lastOpened === null || hour > lastOpened);
    if (silent.length > 0) {
      const hours = silent.map((hour) => ({ cycle: formatCycle(new Date(hour)), opened: null }));
      problems.push({
        key: 'hours-silent',
        kind: 'hours-silent',
        level: level(hours.length),
        what: `${hoursText(hours.length)} with no transaction from any GEO: ${describeHours(hours, () => '')}; ${last('opened', lastOpened)}: are the agents' cron jobs running, can they reach the API?`,
        hours,
        lastOpened: lastOpened === null ? null : formatCycle(new Date(lastOpened)),
      });
    }
  }
  return problems;
}

/** The dead-man problems of the whole centre at `now`: silent GEOs, silent hours, and central hosts without a heartbeat. */
export async function findDeadManProblems(db: Db, config: Config, now: Date): Promise<Problem[]> {
  const rules: SilenceRules = { now, deadlineMinutes: config.centre.cycle_deadline_minutes, criticalHours: config.check.geo_critical_hours, lookbackHours: config.check.lookback_hours };
  const geos = await listExpectedGeos(db);
  const transactions = await listTransactionsSince(db, lookbackStart(rules));
  const problems = findSilences(geos, transactions, rules);
  // A central host gone quiet: its own work is retried elsewhere, but the operator should know (`hosts forget` once it is gone for good).
  for (const host of (await listHosts(db, config.centre.host_dead_after_ms, now)).filter((candidate) => !candidate.alive)) {
    problems.push({
      key: `host-dead:${host.name}`,
      kind: 'host-dead',
      level: 'warning',
      what: `host ${host.name} is dead: its last heartbeat was ${formatAgo(host.lastSeenAgoMs)} (limit ${Math.round(config.centre.host_dead_after_ms / 1000)} s)`,
      host: host.name,
    });
  }
  return problems;
}
