// Commander wiring only: every command's flags and help, and a lazy import of the code that runs it,
// so `jupiter tick` never loads the MongoDB driver and starts fast from cron.
import { Command, Option } from 'commander';
import { renderExitCodeTable } from './exit-codes.js';
import { configError, GanymedeError } from './errors.js';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import type { GlobalOptions } from './commands/context.js';
import { printResult, say } from './output.js';

const version = '0.1.0';

function helpFor(command: Command, text: { what?: string; when: string; examples: string[] }): Command {
  return command.addHelpText(
    'after',
    `${text.what ? `\n${text.what}\n` : ''}\nWhen: ${text.when}\n\nExamples:\n${text.examples.map((example) => `  $ ${example}`).join('\n')}\n`,
  );
}

function globals(command: Command): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

async function loaded(command: Command, overrides: Record<string, unknown> = {}) {
  const { loadForCommand } = await import('./commands/context.js');
  return loadForCommand(globals(command), overrides);
}


const cycleFlag = () => new Option('--cycle <hour>', 'the UTC hour, YYYY-MM-DDTHH (e.g. 2026-11-24T20)');
const jsonFlag = () => new Option('--json', 'print the result as JSON on stdout, for scripts');

export function buildProgram(): Command {
  const program = new Command('ganymede')
    .description('Gathers the Cloud Control database of every GEO hourly into the MongoDB warehouse and feeds Glassbeam.')
    .version(version, '-V, --version')
    .option('-c, --config <path>', 'config file (default: $GANYMEDE_CONFIG, then /etc/ganymede/ganymede.json)')
    .addOption(new Option('--log-format <format>', 'log line format on stderr').choices(['text', 'json']))
    .addOption(new Option('--log-level <level>', 'least important log level shown').choices(['debug', 'info', 'warn', 'error']))
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Configuration: one JSON file, then GANYMEDE_* environment variables (mysql.url → GANYMEDE_MYSQL_URL), then flags.
Secrets come from *_file keys or the environment, never from flags. See README, "Configuration".

Exit codes:
${renderExitCodeTable()}
`,
    );

  // agent
  const agent = program.command('agent').description('what runs on each GEO server');
  helpFor(
    agent
      .command('run')
      .description("extract this GEO's Cloud Control database, encrypt, sign and deliver it for one hour")
      .addOption(cycleFlag())
      .option('--force', 'deliver again an hour that was already delivered')
      .option('--dry-run', 'list the tables with estimated rows and bytes; change nothing')
      .addOption(jsonFlag()),
    {
      what: "Opens the hour's transaction through the status API, streams a consistent snapshot through tar, gzip and OpenPGP\n(encrypted to the centre, signed by this GEO) to the central inbox, posts progress events, and closes the transaction.\nNo plaintext reaches the disk. An hour already delivered exits 10 (nothing to do) unless --force.",
      when: 'cron, hourly, on every GEO server (see crontab.example). A second run while one is going exits 11.',
      examples: ['ganymede agent run', 'ganymede agent run --cycle 2026-11-24T20 --force', 'ganymede agent run --dry-run'],
    },
  ).action(async (options: { cycle?: string; force?: boolean; dryRun?: boolean; json?: boolean }, command: Command) => {
    const config = await loaded(command);
    if (options.dryRun) {
      const { runAgentDryRun, describeAgentDryRun } = await import('./commands/agent/dry-run.js');
      printResult(await runAgentDryRun({ loaded: config, cycle: options.cycle }), options.json, describeAgentDryRun);
      return;
    }
    const { runAgent, describeAgentRun } = await import('./commands/agent/run.js');
    const result = await withStopSignal((signal) => runAgent({ loaded: config, cycle: options.cycle, force: options.force, signal }));
    printResult(result, options.json, describeAgentRun);
  });

  // jupiter
  const jupiter = program.command('jupiter').description('the central scheduler');
  helpFor(
    jupiter
      .command('tick')
      .description('launch every worker step that is due, then exit')
      .option('--dry-run', 'show what would be launched; launch nothing')
      .addOption(jsonFlag()),
    {
      what: 'Fails the attempts of workers whose lease expired (and schedules their retry), claims each due step with a lease\nwithin centre.max_workers, and starts `ganymede worker <step>` for it, detached, its output in the log dir. Quiet when idle.',
      when: 'cron, every minute, on one or several central hosts; any number of ticks at once launch each step once.',
      examples: ['ganymede jupiter tick', 'ganymede jupiter tick --dry-run'],
    },
  ).action(async (options: { dryRun?: boolean; json?: boolean }, command: Command) => {
    const config = await loaded(command);
    const [{ withStateDb }, { tick, describeTick }] = await Promise.all([import('./commands/context.js'), import('./commands/jupiter/tick.js')]);
    const { exits: _exits, ...result } = await withStateDb(config, (db) => tick({ loaded: config, db, dryRun: options.dryRun }));
    if (options.json || options.dryRun || result.launched.length > 0 || result.expired.length > 0) printResult(result, options.json, describeTick);
  });
  helpFor(
    jupiter
      .command('drain')
      .description('tick until nothing is runnable or running')
      .option('--timeout <seconds>', 'give up after this long (default 3600)', (value) => positiveNumber(value, '--timeout'))
      .addOption(jsonFlag()),
    {
      what: 'Each step starts as soon as the one before it finishes. Exits 0 when every transaction it saw is done, 6 otherwise.',
      when: 'by hand, in the demo and in tests.',
      examples: ['ganymede jupiter drain', 'ganymede jupiter drain --timeout 600 --json'],
    },
  ).action(async (options: { timeout?: number; json?: boolean }, command: Command) => {
    const config = await loaded(command);
    const [{ withStateDb }, { drain, describeDrain }] = await Promise.all([import('./commands/context.js'), import('./commands/jupiter/drain.js')]);
    const result = await withStopSignal((signal) => withStateDb(config, (db) => drain({ loaded: config, db, signal, timeoutMs: options.timeout === undefined ? undefined : options.timeout * 1000 })));
    printResult(result, options.json, describeDrain);
    if (!result.ok) {
      const unfinished = result.transactions.filter((txn) => txn.state !== 'done').length;
      const parts = [unfinished ? `${unfinished} transactions did not finish` : '', ...result.failedCycles.map((cycle) => `cycle ${cycle.cycle} failed: ${cycle.error ?? '?'}`)].filter(Boolean);
      throw new GanymedeError(ExitCode.failed, `drain: ${parts.join('; ')}`);
    }
  });

  // worker
  const worker = program.command('worker').description('one step of the central pipeline, as launched by the tick');
  const txnSteps: Array<[TxnStep, string]> = [
    ['decrypt', 'check, decrypt, verify the GEO signature and unpack a delivered file'],
    ['load', 'load the unpacked dump into a temporary MySQL schema and check it against the manifest'],
    ['etl', 'transform the temporary schema into the MongoDB warehouse'],
    ['clean', 'drop the temporary schema and work files'],
  ];
  for (const [step, description] of txnSteps) {
    helpFor(
      worker
        .command(step)
        .description(description)
        .requiredOption('--txn <id>', 'the transaction'),
      {
        what: 'Run by hand, it claims the step itself when it is pending or failed, exactly as a tick would.',
        when: 'launched by `jupiter tick`; by hand only to debug one transaction.',
        examples: [`ganymede worker ${step} --txn 42`],
      },
    ).action(async (options: { txn: string }, command: Command) => {
      const config = await loaded(command);
      const { parseTxnId } = await import('./commands/txn/show.js');
      const txnId = parseTxnId(options.txn);
      const { runWorkerStep } = await import('./worker/runtime.js');
      const work = await stepFunction(step);
      // The tick's lease comes in the environment (GANYMEDE_LEASE_TOKEN), never in argv.
      await withStopSignal((signal) => runWorkerStep({ loaded: config, step, txnId, leaseToken: config.leaseToken, signal }, work));
    });
  }
  for (const [step, description] of [
    ['feed', 'build the data feed of a cycle from the warehouse'],
    ['send', "send a cycle's feed to Glassbeam over SFTP"],
  ] as const) {
    helpFor(
      worker
        .command(step)
        .description(description)
        .addOption(cycleFlag().makeOptionMandatory())
        .option('--force', step === 'send' ? 'send again a cycle that was already sent' : 'build the feed of a fed cycle again'),
      {
        what: step === 'feed' ? 'Per collection a gzip file (NDJSON or CSV, full state or the changes, by config) and manifest.json; the same warehouse gives the same bytes.' : 'Each file under a .part name, renamed once complete and its size checked; the manifest last. A sent cycle is not sent again unless --force.',
        when: 'launched by `jupiter tick` once every GEO of the hour is in the warehouse; by hand to replay.',
        examples: [`ganymede worker ${step} --cycle 2026-11-24T20`],
      },
    ).action(async (options: { cycle: string; force?: boolean }, command: Command) => {
      const config = await loaded(command);
      const { runCycleStep } = await import('./worker/runtime.js');
      const work = step === 'feed' ? (await import('./commands/worker/feed.js')).feedStep : (await import('./commands/worker/send.js')).sendStep;
      if (options.force && !config.leaseToken) {
        const [{ withStateDb }, { resetCycleStep }, { parseCycle }] = await Promise.all([import('./commands/context.js'), import('./state/cycles.js'), import('./cycle.js')]);
        const cycleStart = parseCycle(options.cycle);
        const { auditCli } = await import('./commands/audit.js');
        if (cycleStart) {
          await withStateDb(config, async (db) => {
            if (await resetCycleStep(db, cycleStart, step)) await auditCli(db, `cycle.${step}.force`, `cycle:${options.cycle}`);
          });
        }
      }
      await withStopSignal((signal) => runCycleStep({ loaded: config, step, cycle: options.cycle, leaseToken: config.leaseToken, force: options.force, signal }, work));
    });
  }

  // archive
  const archive = helpFor(program.command('archive').description('back up the Ganymede schema and every agent dump to the archive store; list, restore, verify'), {
    what: 'Without a subcommand it runs `archive run`.',
    when: 'cron, hourly, on one central host (archive run); by hand for the rest.',
    examples: ['ganymede archive', 'ganymede archive list --geo emea', 'ganymede archive verify'],
  });
  helpFor(archive.command('run', { isDefault: true }).description('archive what is new: the Ganymede schema (if changed) and every agent file not archived yet').addOption(jsonFlag()), {
    what: 'The schema dump is consistent, compressed, signed and encrypted to the centre\'s key. Each object is recorded with size and sha256;\na file is uploaded once; a run that finds nothing new does nothing and prints nothing.',
    when: 'cron, hourly, on one central host. A second run while one is going exits 11.',
    examples: ['ganymede archive run'],
  }).action(async (options: { json?: boolean }, command: Command) => {
    const { runArchive, describeArchive } = await import('./commands/archive/run.js');
    const config = await loaded(command);
    const result = await withStopSignal((signal) => runArchive({ loaded: config, signal }));
    printResult(result, options.json, describeArchive);
  });
  helpFor(archive.command('list').description('what is in the archive').option('--cycle <hour>', 'agent dumps of this hour').option('--geo <name>', 'agent dumps of this GEO').addOption(jsonFlag()), {
    when: 'by hand, before a restore.',
    examples: ['ganymede archive list', 'ganymede archive list --geo emea --cycle 2026-11-24T20'],
  }).action(async (options: { cycle?: string; geo?: string; json?: boolean }, command: Command) => {
    const { runArchiveList, describeArchiveList } = await import('./commands/archive/manage.js');
    printResult(await runArchiveList({ loaded: await loaded(command), ...options }), options.json, describeArchiveList);
  });
  helpFor(
    archive
      .command('restore')
      .description('restore the Ganymede schema of a point in time, or a GEO\'s dump of an hour, into a named schema')
      .requiredOption('--into <schema>', 'the schema to create')
      .option('--geo <name>', 'a GEO (with --cycle): its dump of that hour')
      .option('--cycle <hour>', 'the hour of the GEO dump')
      .option('--at <time>', 'the Ganymede schema as archived at or before this time (default: the newest)')
      .option('--replace', 'drop the schema first if it exists')
      .addOption(jsonFlag()),
    {
      what: 'The object is checked against its recorded sha256, decrypted with the centre key, its signer verified (the GEO, or the centre),\nloaded, and every table verified against the dump\'s manifest.',
      when: 'by hand, after losing data or to inspect an old hour.',
      examples: ['ganymede archive restore --into ganymede_restored', 'ganymede archive restore --geo emea --cycle 2026-11-24T20 --into emea_2026112420'],
    },
  ).action(async (options: { into: string; geo?: string; cycle?: string; at?: string; replace?: boolean; json?: boolean }, command: Command) => {
    const { runArchiveRestore } = await import('./commands/archive/manage.js');
    const result = await runArchiveRestore({ loaded: await loaded(command), ...options });
    printResult(result, options.json, (r) => `restored ${r.objectKey} into ${r.schema}: ${r.tables} tables, ${r.rows} rows, verified; signed by ${r.signer}`);
  });
  helpFor(archive.command('prune').description('apply the archive retention and free the local inbox of archived files').option('--dry-run', 'say what would go; remove nothing').addOption(jsonFlag()), {
    what: 'Keeps every object for archive.hourly_days (14), then the first of each day for archive.daily_days (90). Local agent files\ngo archive.local_days (2) after their archived copy was recorded; a file not archived yet is never deleted.',
    when: 'cron, daily, on the host that runs the archive.',
    examples: ['ganymede archive prune --dry-run', 'ganymede archive prune'],
  }).action(async (options: { dryRun?: boolean; json?: boolean }, command: Command) => {
    const { runArchivePrune, describeArchivePrune } = await import('./commands/archive/prune.js');
    printResult(await runArchivePrune({ loaded: await loaded(command), dryRun: options.dryRun }), options.json, describeArchivePrune);
  });
  helpFor(archive.command('verify').description('restore drill: restore a sample into scratch schemas, verify checksums, drop them, report').addOption(jsonFlag()), {
    when: 'cron, daily, or by hand; exit 0 only when every sample restored and verified.',
    examples: ['ganymede archive verify'],
  }).action(async (options: { json?: boolean }, command: Command) => {
    const { runArchiveVerify, describeArchiveVerify } = await import('./commands/archive/manage.js');
    const result = await runArchiveVerify({ loaded: await loaded(command) });
    printResult(result, options.json, describeArchiveVerify);
    if (!result.ok) throw new GanymedeError(ExitCode.refused, `archive verify: ${result.checked.filter((item) => !item.ok).length} of ${result.checked.length} samples failed`);
  });

  // api
  helpFor(
    program
      .command('api')
      .description('serve the status API (configuration, transaction log, status events)')
      .option('--listen <host:port>', 'where to listen (default: api.listen, 127.0.0.1:8080)', listenAddress),
    {
      what: 'Agents open, report on and close their transactions through it with their GEO token; operators and tools use the admin token.\nSIGTERM or SIGINT stops it gracefully.',
      when: 'always, as a service (see scripts/ for a systemd unit).',
      examples: ['ganymede api', 'ganymede api --listen 0.0.0.0:8080'],
    },
  ).action(async (options: { listen?: string }, command: Command) => {
    const { runApiServe } = await import('./commands/api/serve.js');
    await runApiServe({ loaded: await loaded(command, { 'api.listen': options.listen }), listenFromFlag: options.listen !== undefined });
  });

  // db
  const db = program.command('db').description('the Ganymede MySQL database');
  helpFor(db.command('migrate').description('create the database if missing and apply missing migrations'), {
    what: 'Safe to run again (a no-op when up to date) and from two hosts at once (they take turns on a named lock).',
    when: 'at install and after every upgrade, before the new version runs.',
    examples: ['ganymede db migrate'],
  })
    .addOption(jsonFlag())
    .action(async (options: { json?: boolean }, command: Command) => {
      const { runDbMigrate, describeDbMigrate } = await import('./commands/db/migrate.js');
      printResult(await runDbMigrate({ loaded: await loaded(command) }), options.json, describeDbMigrate);
    });

  addGeoCommands(program);
  addCycleCommands(program);
  addKeyCommands(program);
  addTxnCommands(program);
  addHostCommands(program);

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
    const { runStatus, describeStatus } = await import('./commands/status.js');
    printResult(await runStatus({ loaded: await loaded(command), hours: options.hours }), options.json, describeStatus);
  });

  helpFor(program.command('check').description('for monitoring (Nagios/Icinga): late GEOs, failures, unsent cycles, archive and tick age, disk space').addOption(jsonFlag()), {
    what: 'One summary line first, then one line per finding. Exit codes follow the monitoring plugin convention, not the table\nabove: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the check could not run, e.g. the database is unreachable). Thresholds: check.* in config.',
    when: 'from the monitoring system, every few minutes.',
    examples: ['ganymede check', 'ganymede check --json'],
  }).action(async (options: { json?: boolean }, command: Command) => {
    const { runCheck, describeCheck, CheckStatus } = await import('./commands/check.js');
    let result;
    try {
      result = await runCheck({ loaded: await loaded(command) });
    } catch (error) {
      const [{ messageOf }, { redact }, { printable }] = await Promise.all([import('./errors.js'), import('./log.js'), import('./render/printable.js')]);
      process.stdout.write(`GANYMEDE UNKNOWN - the check could not run: ${printable(redact(messageOf(error)))}\n`);
      throw new GanymedeError(CheckStatus.unknown as ExitCodeValue, 'check: could not run');
    }
    printResult(result, options.json, describeCheck);
    if (result.status !== 'ok') throw new GanymedeError(CheckStatus[result.status] as ExitCodeValue, `check: ${result.status}`, { quiet: true });
  });

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
    const { runAudit, describeAudit } = await import('./commands/audit.js');
    printResult(await runAudit({ loaded: await loaded(command), ...options }), options.json, describeAudit);
  });

  const metrics = program.command('metrics').description('data points the steps record: duration, rows, bytes, documents written');
  const collect = (value: string, previous: string[] = []) => [...previous, value];
  helpFor(metrics.command('list').description('metric names with their dimensions').option('--name <name>', 'only this metric').option('--dim <key=value>', 'only series with this dimension (repeatable)', collect).addOption(jsonFlag()), {
    when: 'by hand, to see what can be asked of `metrics stats`.',
    examples: ['ganymede metrics list', 'ganymede metrics list --dim step=load'],
  }).action(async (options: { name?: string; dim?: string[]; json?: boolean }, command: Command) => {
    const { runMetricsList, describeMetricsList } = await import('./commands/metrics/index.js');
    printResult(await runMetricsList({ loaded: await loaded(command), ...options }), options.json, describeMetricsList);
  });
  helpFor(
    metrics
      .command('stats')
      .description('statistics of a metric per period')
      .requiredOption('--name <name>', 'the metric, e.g. step.duration')
      .option('--dim <key=value>', 'only series with this dimension (repeatable)', collect)
      .option('--period <duration>', 'period length: 5m, 1h, 1d', '1h')
      .option('--stat <list>', 'sum, min, max, avg, count, p50, p95 …', 'avg,max')
      .option('--since <duration>', 'how far back', '24h')
      .addOption(jsonFlag()),
    {
      what: 'Points are aggregated per minute (sum, min, max, count) as they are recorded; percentiles use the raw points.',
      when: 'by hand, e.g. to see whether loads are getting slower.',
      examples: ['ganymede metrics stats --name step.duration --dim step=load --period 1h --stat avg,max,p95 --since 24h'],
    },
  ).action(async (options: { name: string; dim?: string[]; period: string; stat: string; since: string; json?: boolean }, command: Command) => {
    const { runMetricsStats, describeMetricsStats } = await import('./commands/metrics/index.js');
    printResult(await runMetricsStats({ loaded: await loaded(command), ...options }), options.json, describeMetricsStats);
  });

  helpFor(program.command('purge').description('delete status events, metric points and finished attempts past their retention').option('--dry-run', 'say how much would be deleted; delete nothing').addOption(jsonFlag()), {
    what: 'Retention per kind in config (retention.*, 14 days by default). Deletes in small batches, so tables are never locked for long.',
    when: 'cron, daily, on one central host.',
    examples: ['ganymede purge', 'ganymede purge --dry-run'],
  }).action(async (options: { dryRun?: boolean; json?: boolean }, command: Command) => {
    const { runPurge, describePurge } = await import('./commands/purge.js');
    printResult(await runPurge({ loaded: await loaded(command), dryRun: options.dryRun }), options.json, describePurge);
  });

  const config = program.command('config').description('the configuration of this host');
  helpFor(config.command('check').description('connect to every configured server and report each one').addOption(jsonFlag()), {
    what: 'Checks the Ganymede MySQL, MongoDB, the API (and the token this host holds), the Cloud Control database and the SFTP\ntargets that the configuration names; prints target, address, result, latency and the error. Exit 0 when all pass.',
    when: 'after installing or changing a host, and whenever something cannot connect.',
    examples: ['ganymede config check', 'GANYMEDE_CONFIG=/etc/ganymede/geo.json ganymede config check --json'],
  }).action(async (options: { json?: boolean }, command: Command) => {
    const { runConfigCheck, describeConfigCheck } = await import('./commands/config/check.js');
    const result = await runConfigCheck({ loaded: await loaded(command) });
    printResult(result, options.json, describeConfigCheck);
    if (!result.ok) {
      const failed = result.rows.filter((row) => !row.ok).map((row) => row.target);
      throw new GanymedeError(ExitCode.unreachable, `config check: ${failed.length} target${failed.length === 1 ? '' : 's'} failed: ${failed.join(', ')}`);
    }
  });

  program.addHelpText('after', () => `\nEvery command (ganymede <command> --help tells more):\n${commandTree(program)}\n`);
  return program;
}

/** The leaves of the command tree with their descriptions, for the root help. */
function commandTree(program: Command): string {
  const leaves: Array<[string, string]> = [];
  const walk = (command: Command, prefix: string[]) => {
    for (const child of command.commands) {
      const path = [...prefix, child.name()];
      if (child.commands.length > 0) walk(child, path);
      else leaves.push([[...path, ...child.registeredArguments.map((argument) => `<${argument.name()}>`)].join(' '), child.description()]);
    }
  };
  walk(program, []);
  const width = Math.max(...leaves.map(([name]) => name.length));
  return leaves.map(([name, description]) => `  ${name.padEnd(width)}  ${description}`).join('\n');
}

type TxnStep = 'decrypt' | 'load' | 'etl' | 'clean';

async function stepFunction(step: TxnStep) {
  switch (step) {
    case 'decrypt':
      return (await import('./commands/worker/decrypt.js')).decryptStep;
    case 'load':
      return (await import('./commands/worker/load.js')).loadStep;
    case 'etl':
      return (await import('./commands/worker/etl.js')).etlStep;
    case 'clean':
      return (await import('./commands/worker/clean.js')).cleanStep;
  }
}

function positiveNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new GanymedeError(ExitCode.usage, `${flag} ${value}: expected a positive number`);
  return n;
}

/** A wrong --listen is a usage error (exit 2), where the same mistake in api.listen is a configuration error. */
function listenAddress(value: string): string {
  const match = /^(\[[0-9a-fA-F:]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) > 65_535) throw new GanymedeError(ExitCode.usage, `--listen ${value}: expected host:port with a port up to 65535, e.g. 127.0.0.1:8080 or [::1]:8080`);
  return value;
}

/**
 * Runs long work with an AbortSignal that the first SIGTERM or SIGINT fires, so the work can clean up
 * and report; a second signal exits at once.
 */
async function withStopSignal<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    controller.abort(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

function addGeoCommands(program: Command): void {
  const geo = program.command('geo').description('the GEOs (regional sites) the centre accepts deliveries from');
  helpFor(
    geo
      .command('add')
      .description('register a GEO and its OpenPGP signing key; prints its API token once')
      .argument('<name>', 'GEO name: lower-case letters, digits, _ or -')
      .requiredOption('--public-key <file>', "the GEO's armored public key (from `ganymede keys generate`)")
      .option('--token-file <file>', 'write the token to this new file (0600) instead of stdout')
      .addOption(jsonFlag()),
    {
      when: 'once per new GEO, on a central host.',
      examples: ['ganymede geo add emea --public-key emea.pub.asc --token-file emea.token'],
    },
  ).action(async (name: string, options: { publicKey: string; tokenFile?: string; json?: boolean }, command: Command) => {
    const { runGeoAdd } = await import('./commands/geo/add.js');
    const added = await runGeoAdd({ loaded: await loaded(command), name, publicKeyFile: options.publicKey, tokenFile: options.tokenFile });
    reportToken(added, options, `added GEO ${added.geo.name} (key ${added.geo.keyFingerprint})`);
  });
  helpFor(geo.command('list').description('list the GEOs').addOption(jsonFlag()), { when: 'by hand.', examples: ['ganymede geo list'] }).action(
    async (options: { json?: boolean }, command: Command) => {
      const { runGeoList, describeGeoList } = await import('./commands/geo/list.js');
      printResult(await runGeoList({ loaded: await loaded(command) }), options.json, describeGeoList);
    },
  );
  helpFor(geo.command('remove').description('remove a GEO that never delivered anything').argument('<name>'), {
    what: 'A GEO with transactions is kept for their history: disable it instead.',
    when: 'by hand, to undo a mistaken `geo add`.',
    examples: ['ganymede geo remove emea'],
  }).action(async (name: string, _options: unknown, command: Command) => {
    const { runGeoRemove } = await import('./commands/geo/remove.js');
    await runGeoRemove({ loaded: await loaded(command), name });
    say(`removed GEO ${name}`);
  });
  for (const enabled of [true, false]) {
    const verb = enabled ? 'enable' : 'disable';
    helpFor(geo.command(verb).description(enabled ? 'accept deliveries from a GEO again' : "refuse a GEO's token; its deliveries waiting at the centre go to quarantine; nothing is deleted").argument('<name>'), {
      what: enabled
        ? 'Its token works again. Hours refused while it was disabled are delivered again from the GEO: `ganymede agent run --cycle HOUR --force`.'
        : 'Its API token is refused at once. Each of its transactions not yet in the warehouse is refused when its next step starts ' +
          '(the next tick, or when a retry is due; a step already running finishes): the delivered file moves from the inbox to the ' +
          'quarantine dir. Nothing is deleted.',
      when: 'by hand; takes effect at once.',
      examples: [`ganymede geo ${verb} emea`],
    }).action(async (name: string, _options: unknown, command: Command) => {
      const { runGeoSetEnabled } = await import('./commands/geo/change.js');
      await runGeoSetEnabled({ loaded: await loaded(command), name, enabled });
      say(`GEO ${name} is ${enabled ? 'enabled' : 'disabled'}`);
    });
  }
  helpFor(
    geo
      .command('rotate-token')
      .description("give a GEO a new API token; the old one stops working at once")
      .argument('<name>')
      .option('--token-file <file>', 'write the token to this new file (0600) instead of stdout')
      .addOption(jsonFlag()),
    { when: 'when a token may have leaked, or on a schedule.', examples: ['ganymede geo rotate-token emea --token-file emea.token'] },
  ).action(async (name: string, options: { tokenFile?: string; json?: boolean }, command: Command) => {
    const { runGeoRotateToken } = await import('./commands/geo/change.js');
    const rotated = await runGeoRotateToken({ loaded: await loaded(command), name, tokenFile: options.tokenFile });
    reportToken(rotated, options, `new token for GEO ${name}; the old one no longer works`);
  });
  helpFor(
    geo
      .command('rotate-key')
      .description("replace a GEO's public signing key; files delivered from now on must carry the new key's signature")
      .argument('<name>')
      .requiredOption('--public-key <file>', 'the new armored public key')
      .option('--revoke-old-key', 'the old key may be compromised: refuse even the files it signed that were delivered before now'),
    {
      what:
        'The overlap: the old key stays on record as retired. It still verifies the files that were delivered before the rotation ' +
        '(by the server clock, when the agent closed the transaction) for as long as they wait in the queue, retries included; a file ' +
        'delivered after the rotation and signed with the old key is refused and quarantined. So do both in the same gap between two ' +
        'hourly runs: put the new private key in the GEO\'s agent.signing_key_file, and rotate here (a run in between signs with a key ' +
        'the centre does not know yet, or with one it has retired: that hour is refused and delivered again with --force). ' +
        'With --revoke-old-key there is no overlap; rotate the GEO\'s token too (`geo rotate-token`) if the old key may have leaked.',
      when: 'when a GEO gets a new key pair, or at once (with --revoke-old-key) when its private key may have leaked.',
      examples: ['ganymede geo rotate-key emea --public-key emea-2027.pub.asc', 'ganymede geo rotate-key emea --public-key emea-new.pub.asc --revoke-old-key'],
    },
  ).action(async (name: string, options: { publicKey: string; revokeOldKey?: boolean }, command: Command) => {
    const { runGeoRotateKey } = await import('./commands/geo/change.js');
    const geoRow = await runGeoRotateKey({ loaded: await loaded(command), name, publicKeyFile: options.publicKey, revokeOld: options.revokeOldKey });
    say(`GEO ${name} now signs with key ${geoRow.keyFingerprint}`);
    say(
      options.revokeOldKey
        ? 'the old key is revoked: files it signed are refused, even those already delivered'
        : 'the old key still counts for files delivered before now, and for nothing delivered later',
    );
  });
}

function reportToken(
  result: { geo: { name: string }; token: string; tokenWentTo: 'file' | 'stdout' },
  options: { tokenFile?: string; json?: boolean },
  message: string,
): void {
  say(message);
  if (result.tokenWentTo === 'file') {
    say(`its API token is in ${options.tokenFile} (shown nowhere else)`);
    if (options.json) printResult({ geo: result.geo, tokenFile: options.tokenFile }, true, () => '');
    return;
  }
  say('its API token follows; it is shown only this once:');
  printResult(options.json ? { geo: result.geo, token: result.token } : result.token, options.json, String);
}

function addCycleCommands(program: Command): void {
  const cycle = program.command('cycle').description('the hours: which GEOs are in, the feed and its delivery');
  helpFor(cycle.command('list').description('the latest cycles with their state').option('--limit <n>', 'how many (default 48)', (value) => positiveNumber(value, '--limit')).addOption(jsonFlag()), {
    when: 'by hand, or from scripts with --json.',
    examples: ['ganymede cycle list', 'ganymede cycle list --limit 24 --json'],
  }).action(async (options: { limit?: number; json?: boolean }, command: Command) => {
    const { runCycleList, describeCycleList } = await import('./commands/cycle/index.js');
    printResult(await runCycleList({ loaded: await loaded(command), limit: options.limit }), options.json, describeCycleList);
  });
  helpFor(cycle.command('show').description('one cycle: its transactions, who it waits for, what was sent').argument('<hour>', 'YYYY-MM-DDTHH').addOption(jsonFlag()), {
    when: 'by hand, when an hour is late or its feed did not arrive.',
    examples: ['ganymede cycle show 2026-11-24T20'],
  }).action(async (hour: string, options: { json?: boolean }, command: Command) => {
    const { runCycleShow, describeCycleShow } = await import('./commands/cycle/index.js');
    printResult(await runCycleShow({ loaded: await loaded(command), cycle: hour }), options.json, describeCycleShow);
  });
  helpFor(cycle.command('feed').description('feed a cycle now, even with GEOs missing').argument('<hour>', 'YYYY-MM-DDTHH').option('--allow-missing', 'go ahead without the GEOs not in the warehouse yet'), {
    what: 'The missing GEOs are listed in the feed manifest; when they arrive later they are in the next feed\'s changes.',
    when: 'by hand, when a GEO is late and Glassbeam should not wait.',
    examples: ['ganymede cycle feed 2026-11-24T20 --allow-missing'],
  }).action(async (hour: string, options: { allowMissing?: boolean }, command: Command) => {
    const { runCycleFeed } = await import('./commands/cycle/index.js');
    const result = await runCycleFeed({ loaded: await loaded(command), cycle: hour, allowMissing: options.allowMissing ?? false });
    say(`cycle ${result.cycle} will be fed by the next tick${result.missingGeos.length ? `, without ${result.missingGeos.join(', ')}` : ''}`);
  });
}

function addKeyCommands(program: Command): void {
  const keys = program.command('keys').description('OpenPGP keys');
  helpFor(
    keys
      .command('generate')
      .description('make an OpenPGP key pair: NAME.pub.asc and NAME.key.asc (0600) in DIR')
      .requiredOption('--name <name>', 'the key\'s name: "centre" or the GEO\'s name')
      .requiredOption('--out <dir>', 'where to write the two files (created 0700 if missing)')
      .option('--email <email>', 'an e-mail address for the key\'s user id')
      .addOption(jsonFlag()),
    {
      what: 'The centre needs one pair (agents encrypt to its public key); each GEO needs one (it signs with its private key).\nKeys are curve25519, readable by GnuPG 2.2+. Existing files are never overwritten.',
      when: 'at install: once for the centre, once per GEO.',
      examples: ['ganymede keys generate --name centre --out /etc/ganymede/keys', 'ganymede keys generate --name emea --out /etc/ganymede/keys'],
    },
  ).action(async (options: { name: string; out: string; email?: string; json?: boolean }) => {
    const { runKeysGenerate } = await import('./commands/keys/generate.js');
    const result = await runKeysGenerate({ name: options.name, outDir: options.out, email: options.email });
    printResult(result, options.json, (r) => `key ${r.name}: ${r.fingerprint}\n  public  ${r.publicKeyFile}\n  private ${r.privateKeyFile} (0600; keep it on this host)`);
  });
  helpFor(keys.command('rotate').description("give the centre a new key pair; agents take the new public key over by themselves").addOption(jsonFlag()), {
    what:
      'Puts a new private key in front of centre.private_key_file (rewritten in place, still 0600; the old keys stay in it) and ' +
      'publishes the new public key through the API, signed by the old key. Each agent fetches it at its next run, checks that ' +
      'signature against the key it trusts, and from then on encrypts to the new key (kept in its work dir); a key the API offers ' +
      'without a valid signature is ignored and reported. Decrypt tries every key in the file, so files encrypted to the old key ' +
      'before an agent switched are still opened; `ganymede keys list` shows the deliveries that may still need a retired key. The ' +
      'old keys stay in the file so that archived files can still be restored and read. Run it on one central host, then copy the ' +
      'file to the others: until a host has the newest key, its decrypt steps wait and retry (they never refuse a file for it). ' +
      'Safe to re-run after a crash: it finishes a rotation it began.\n' +
      'If the centre key may have leaked, the chain cannot help (whoever holds the old key can sign a successor too): rotate, then ' +
      'put the new public key (the file this prints) in every agent\'s agent.centre_public_key_file; an agent whose configured key ' +
      'changed drops any key it took over before.',
    when: 'on a schedule (yearly, say); after a leak, with the new public key given to every agent by hand.',
    examples: ['ganymede keys rotate', 'ganymede keys list'],
  }).action(async (options: { json?: boolean }, command: Command) => {
    const { runKeysRotate } = await import('./commands/keys/rotate.js');
    const result = await runKeysRotate({ loaded: await loaded(command) });
    printResult(result, options.json, (r) =>
      [
        `${r.resumed ? 'finished the interrupted rotation: ' : ''}the centre key is now ${r.to} (handed over by ${r.from})`,
        `  private ${r.privateKeyFile} (holds the old key too)`,
        `  public  ${r.publicKeyFile} (for new agents; running agents take it from the API)`,
      ].join('\n'),
    );
  });
  helpFor(keys.command('list').description('the centre keys: the current one, the retired ones, and the deliveries that may still need them').addOption(jsonFlag()), {
    when: 'after `keys rotate`, to see when no waiting delivery needs a retired key any more.',
    examples: ['ganymede keys list', 'ganymede keys list --json'],
  }).action(async (options: { json?: boolean }, command: Command) => {
    const { runKeysList, describeKeysList } = await import('./commands/keys/rotate.js');
    printResult(await runKeysList({ loaded: await loaded(command) }), options.json, describeKeysList);
  });
}

function addTxnCommands(program: Command): void {
  const txn = program.command('txn').description('the transaction log: one transaction per GEO per hour');
  helpFor(
    txn
      .command('list')
      .description('list transactions, newest hour first')
      .option('--geo <name>', 'only this GEO')
      .option('--state <state>', 'only this state (open, agent_failed, delivered, processing, done, failed, refused, cancelled)')
      .option('--from <hour>', 'from this UTC hour (YYYY-MM-DDTHH)')
      .option('--to <hour>', 'to this UTC hour (YYYY-MM-DDTHH)')
      .option('--limit <n>', 'at most n transactions (default 200)', (value) => {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1) throw configError(`--limit ${value}: expected a positive whole number`);
        return n;
      })
      .addOption(jsonFlag()),
    { when: 'by hand, or from scripts with --json.', examples: ['ganymede txn list --geo emea --state failed', 'ganymede txn list --from 2026-11-24T00 --json'] },
  ).action(async (options: { geo?: string; state?: string; from?: string; to?: string; limit?: number; json?: boolean }, command: Command) => {
    const { runTxnList, describeTxnList } = await import('./commands/txn/list.js');
    printResult(await runTxnList({ loaded: await loaded(command), ...options }), options.json, describeTxnList);
  });
  helpFor(txn.command('show').description('one transaction with its status events').argument('<id>').addOption(jsonFlag()), {
    when: 'by hand, to see what happened to one GEO\'s hour.',
    examples: ['ganymede txn show 42'],
  }).action(async (id: string, options: { json?: boolean }, command: Command) => {
    const { runTxnShow, describeTxnShow, parseTxnId } = await import('./commands/txn/show.js');
    printResult(await runTxnShow({ loaded: await loaded(command), id: parseTxnId(id) }), options.json, describeTxnShow);
  });
  helpFor(txn.command('retry').description('run a failed transaction again from its failed step').argument('<id>').addOption(jsonFlag()), {
    what: 'The failed step becomes due again with a fresh attempt count; the next tick launches it.',
    when: 'by hand, after fixing what made it fail.',
    examples: ['ganymede txn retry 42'],
  }).action(async (id: string, options: { json?: boolean }, command: Command) => {
    const [{ runTxnRetry }, { parseTxnId }] = await Promise.all([import('./commands/txn/change.js'), import('./commands/txn/show.js')]);
    const result = await runTxnRetry({ loaded: await loaded(command), id: parseTxnId(id) });
    printResult(result, options.json, (r) => `transaction ${r.transaction.id}: ${r.step} is due again; the next tick runs it`);
  });
  helpFor(txn.command('cancel').description('stop processing a transaction; its files are kept').argument('<id>').addOption(jsonFlag()), {
    what: 'Pending steps are cancelled; a running worker loses its lease and stops. Nothing is deleted.',
    when: 'by hand.',
    examples: ['ganymede txn cancel 42'],
  }).action(async (id: string, options: { json?: boolean }, command: Command) => {
    const [{ runTxnCancel }, { parseTxnId }] = await Promise.all([import('./commands/txn/change.js'), import('./commands/txn/show.js')]);
    const result = await runTxnCancel({ loaded: await loaded(command), id: parseTxnId(id) });
    printResult(result, options.json, (r) => `transaction ${r.transaction.id} cancelled (${r.stepsCancelled} steps stopped)`);
  });
}

function addHostCommands(program: Command): void {
  const hosts = helpFor(program.command('hosts').description('the central hosts sharing this Ganymede database: alive or dead, what runs where'), {
    what: 'Without a subcommand it runs `hosts list`.',
    when: 'by hand, when a host may be down or before adding or removing one.',
    examples: ['ganymede hosts', 'ganymede hosts --json', 'ganymede hosts forget centre-b'],
  });
  helpFor(hosts.command('list', { isDefault: true }).description('each central host: alive or dead, last seen, version, the steps running there').addOption(jsonFlag()), {
    what: 'Each host (its site.name) sends a heartbeat from every `jupiter tick` and every lease renewal of its workers; without one for\ncentre.host_dead_after_ms (default 3 min) it is dead. A dead host is not an error here (exit 0); `ganymede check` warns of it.',
    when: 'by hand, or from scripts with --json.',
    examples: ['ganymede hosts', 'ganymede hosts list --json'],
  }).action(async (options: { json?: boolean }, command: Command) => {
    const { runHostsList, describeHostsList } = await import('./commands/hosts.js');
    printResult(await runHostsList({ loaded: await loaded(command) }), options.json, describeHostsList);
  });
  helpFor(hosts.command('forget').description('remove a dead host from the list (a live one is refused)').argument('<name>', "the host's site.name"), {
    what: 'For a host taken out of service. Nothing else changes: steps it left running are retried elsewhere by a tick once their leases expire.\nIf it ever sends a heartbeat again it reappears.',
    when: 'by hand, after removing a central host for good.',
    examples: ['ganymede hosts forget centre-b'],
  }).action(async (name: string, _options: unknown, command: Command) => {
    const { runHostsForget } = await import('./commands/hosts.js');
    await runHostsForget({ loaded: await loaded(command), name });
    say(`forgot host ${name}`);
  });
}
