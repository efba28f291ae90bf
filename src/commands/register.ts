// The wiring of the top-level commands without a folder of their own: status, check, audit, lookup, purge.
import type { Command } from 'commander';
import { GanymedeError } from '../errors.js';
import type { ExitCodeValue } from '../exit-codes.js';
import { printResult } from '../output.js';
import { helpFor, jsonFlag, loaded, positiveNumber } from './options.js';

export function registerStatus(program: Command): void {
  helpFor(
    program
      .command('status')
      .description('a GEO × hour matrix of the last hours, what runs and what failed')
      .option('--hours <n>', 'how many hours (default 24)', (value) => positiveNumber(value, '--hours'))
      .addOption(jsonFlag()),
    {
      what: 'Each cell is one GEO\'s hour: # done, d/l/e/c running (its step), ! late, x failed, . missing, - not due yet.\nBelow: what runs now, what failed (reason, attempts, next retry, log), and the last feed and send.',
      when: 'by hand, or from monitoring with --json.',
      examples: ['ganymede status', 'ganymede status --hours 6 --json'],
    },
  ).action(async (options: { hours?: number; json?: boolean }, command: Command) => {
    const { runStatus, describeStatus } = await import('./status.js');
    printResult(await runStatus({ loaded: await loaded(command), hours: options.hours }), options.json, describeStatus);
  });
}

export function registerCheck(program: Command): void {
  helpFor(program.command('check').description('for monitoring (Nagios/Icinga): late GEOs, failures, unsent cycles, archive and tick age, disk space').addOption(jsonFlag()), {
    what: 'One summary line first, then one line per finding. Exit codes follow the monitoring plugin convention, not the table\nabove: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the check could not run, e.g. the database is unreachable). Thresholds: check.* in config.',
    when: 'from the monitoring system, every few minutes.',
    examples: ['ganymede check', 'ganymede check --json'],
  }).action(async (options: { json?: boolean }, command: Command) => {
    const { runCheck, describeCheck, CheckStatus } = await import('./check.js');
    let result;
    try {
      result = await runCheck({ loaded: await loaded(command) });
    } catch (error) {
      const [{ messageOf }, { redact }, { printable }] = await Promise.all([import('../errors.js'), import('../log.js'), import('../render/printable.js')]);
      process.stdout.write(`GANYMEDE UNKNOWN - the check could not run: ${printable(redact(messageOf(error)))}\n`);
      throw new GanymedeError(CheckStatus.unknown as ExitCodeValue, 'check: could not run');
    }
    printResult(result, options.json, describeCheck);
    if (result.status !== 'ok') throw new GanymedeError(CheckStatus[result.status] as ExitCodeValue, `check: ${result.status}`, { quiet: true });
  });
}

export function registerAudit(program: Command): void {
  helpFor(
    program
      .command('audit')
      .description('who did what, when and from where: every admin action through the API or the CLI')
      .option('--actor <actor>', 'admin-token, geo:<name> or os:<user>')
      .option('--action <action>', 'e.g. geo.rotate-token')
      .option('--target <target>', 'e.g. geo:emea, txn:42')
      .option('--limit <n>', 'at most n entries (default 200)', (value) => positiveNumber(value, '--limit'))
      .addOption(jsonFlag()),
    { when: 'by hand, or from a security review.', examples: ['ganymede audit', 'ganymede audit --target geo:emea --json'] },
  ).action(async (options: { actor?: string; action?: string; target?: string; limit?: number; json?: boolean }, command: Command) => {
    const { runAudit, describeAudit } = await import('./audit.js');
    printResult(await runAudit({ loaded: await loaded(command), ...options }), options.json, describeAudit);
  });
}

export function registerLookup(program: Command): void {
  helpFor(
    program
      .command('lookup')
      .description('one document of the warehouse as it is now, and with --history every cycle it changed in')
      .argument('<collection>', 'the warehouse collection, e.g. accounts')
      .argument('<id>', "the document's _id, <geo>:<key> (e.g. emea:42); with --geo, the key alone (42)")
      .option('--geo <name>', 'the GEO: ID is then the key part alone')
      .option('--history', 'also every change-log entry of the document, oldest first, with the old and new value of each changed field')
      .option('--limit <n>', 'with --history: at most the newest n entries (default 1000)', (value) => positiveNumber(value, '--limit'))
      .addOption(jsonFlag()),
    {
      what:
        'Reads MongoDB (mongodb.url) only. The document is shown with its stored field names; a name escaped for MongoDB (README,\n' +
        '"Field names") is followed by its source name, and --json gives it in `sourceNames`. Values are Extended JSON in --json\n' +
        '({"$numberDecimal": "12.50"}, {"$date": …}); the text cuts long ones. The change log keeps a value of up to 1 KiB (64 KiB per\n' +
        'entry); a larger one shows as its size and sha256, a field in GridFS as its reference. A document that is gone exits 7,\n' +
        'unless --history finds its entries: then its history is printed (exit 0).',
      when: 'by hand, to see what the warehouse holds for one row and when and how it changed.',
      examples: ['ganymede lookup accounts emea:42', 'ganymede lookup accounts 42 --geo emea --history', 'ganymede lookup instances emea:7 --history --json'],
    },
  ).action(async (collection: string, id: string, options: { geo?: string; history?: boolean; limit?: number; json?: boolean }, command: Command) => {
    const { runLookup, describeLookup } = await import('./lookup.js');
    printResult(await runLookup({ loaded: await loaded(command), collection, id, geo: options.geo, history: options.history, limit: options.limit }), options.json, describeLookup);
  });
}

export function registerPurge(program: Command): void {
  helpFor(program.command('purge').description('delete status events, metric points, finished attempts and fed warehouse change-log entries past their retention').option('--dry-run', 'say how much would be deleted; delete nothing').addOption(jsonFlag()), {
    what: 'Retention per kind in config (retention.*: 14 days by default; the warehouse change log 30, retention.change_log_days, only entries already fed unless feed.mode is full). Deletes in small batches, so nothing is locked for long.',
    when: 'cron, daily, on one central host.',
    examples: ['ganymede purge', 'ganymede purge --dry-run'],
  }).action(async (options: { dryRun?: boolean; json?: boolean }, command: Command) => {
    const { runPurge, describePurge } = await import('./purge.js');
    printResult(await runPurge({ loaded: await loaded(command), dryRun: options.dryRun }), options.json, describePurge);
  });
}
