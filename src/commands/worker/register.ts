// `ganymede worker <step>`'s wiring, one subcommand per step the tick launches; each imports its step lazily.
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { printResult } from '../../output.js';
import { cycleFlag, helpFor, jsonFlag, loaded } from '../options.js';
import { withStopSignal } from '../stop-signal.js';

export function registerWorker(program: Command): void {
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
        .requiredOption('--txn <id>', 'the transaction')
        .option('--dry-run', 'say whether the step would run now, and which attempt; claim and change nothing')
        .addOption(jsonFlag()),
      {
        what: 'Run by hand, it claims the step itself when it is pending or failed, exactly as a tick would.',
        when: 'launched by `jupiter tick`; by hand only to debug one transaction.',
        examples: [`ganymede worker ${step} --txn 42`],
      },
    ).action(async (options: { txn: string; json?: boolean; dryRun?: boolean }, command: Command) => {
      const config = await loaded(command);
      const { parseTxnId } = await import('../txn/show.js');
      const txnId = parseTxnId(options.txn);
      const { runWorkerStep, describeWorkerStep, planWorkerStep, describeWorkerStepPlan } = await import('../../worker/runtime.js');
      if (options.dryRun) {
        printResult(await planWorkerStep({ loaded: config, step, txnId }), options.json, describeWorkerStepPlan);
        return;
      }
      const work = await stepFunction(step);
      // The tick's lease comes in the environment (GANYMEDE_LEASE_TOKEN), never in argv.
      const result = await withStopSignal((signal) => runWorkerStep({ loaded: config, step, txnId, leaseToken: config.leaseToken, signal }, work));
      // Launched by a tick, the log line "done" says it; run by hand or by a script, the result is printed.
      if (options.json || !config.leaseToken) printResult({ ...result, txnId }, options.json, describeWorkerStep);
    });
  }
  for (const [step, description] of [
    ['feed', 'build the data feed of a cycle from the warehouse'],
    ['send', "send a cycle's feed to Glassbeam over SFTP"],
  ] as const) {
    const stepCommand = helpFor(
      worker
        .command(step)
        .description(description)
        .addOption(cycleFlag().makeOptionMandatory())
        .option('--force', step === 'send' ? 'send again a cycle that was already sent' : 'run the feed of a fed cycle again; of a sent one, keep what was sent (checked) without sending')
        .option('--dry-run', 'say whether the step would run now, and which attempt; claim and change nothing')
        .addOption(jsonFlag()),
      {
        what: step === 'feed'
          ? 'Per collection a gzip file (NDJSON or CSV, full state or the changes, by config) and manifest.json; the same warehouse gives the same bytes.\n' +
            'An hour already sent is replayed as it was sent: --force checks the stored feed against what Glassbeam got and keeps it (send it again with `worker send --force`); --force --rebuild builds it from the warehouse as it is now. A replay is never sent on its own.'
          : 'Each file under a .part name, renamed once complete and its size checked; the manifest last. A sent cycle is not sent again unless --force.',
        when: 'launched by `jupiter tick` once every GEO of the hour is in the warehouse; by hand to replay.',
        examples: step === 'feed'
          ? ['ganymede worker feed --cycle 2026-11-24T20', 'ganymede worker feed --cycle 2026-11-24T20 --force && ganymede worker send --cycle 2026-11-24T20 --force']
          : [`ganymede worker send --cycle 2026-11-24T20`],
      },
    );
    if (step === 'feed') stepCommand.option('--rebuild', 'with --force, for an hour already sent: build it from the warehouse as it is now (other bytes than were sent)');
    stepCommand.action(async (options: { cycle: string; force?: boolean; rebuild?: boolean; json?: boolean; dryRun?: boolean }, command: Command) => {
      const config = await loaded(command);
      const { runCycleStep, describeWorkerStep, planWorkerStep, describeWorkerStepPlan } = await import('../../worker/runtime.js');
      if (options.dryRun) {
        if (options.force) throw usageError('--dry-run with --force: say which', 'a forced run resets the step first; --dry-run alone says what would happen without it');
        if (options.rebuild) throw usageError('--dry-run with --rebuild: say which', '--dry-run alone says what would happen without it');
        printResult(await planWorkerStep({ loaded: config, step, cycle: options.cycle }), options.json, describeWorkerStepPlan);
        return;
      }
      if (options.rebuild && !options.force) throw usageError('--rebuild needs --force', 'it is for an hour already sent: ganymede worker feed --cycle H --force --rebuild');
      const work = step === 'feed' ? (await import('./feed.js')).feedStep : (await import('./send.js')).sendStep;
      if (options.force && !config.leaseToken) {
        const [{ withStateDb }, { resetCycleStep }, { parseCycle }] = await Promise.all([import('../context.js'), import('../../state/cycles.js'), import('../../cycle.js')]);
        const cycleStart = parseCycle(options.cycle);
        const { auditCli } = await import('../audit.js');
        if (cycleStart) {
          await withStateDb(config, async (db) => {
            if (await resetCycleStep(db, cycleStart, step)) await auditCli(db, `cycle.${step}.force`, `cycle:${options.cycle}`);
          });
        }
      }
      const result = await withStopSignal((signal) => runCycleStep({ loaded: config, step, cycle: options.cycle, leaseToken: config.leaseToken, force: options.force, rebuild: options.rebuild, signal }, work));
      if (options.json || !config.leaseToken) printResult({ ...result, cycle: options.cycle }, options.json, describeWorkerStep);
    });
  }
}

type TxnStep = 'decrypt' | 'load' | 'etl' | 'clean';

async function stepFunction(step: TxnStep) {
  switch (step) {
    case 'decrypt':
      return (await import('./decrypt.js')).decryptStep;
    case 'load':
      return (await import('./load.js')).loadStep;
    case 'etl':
      return (await import('./etl.js')).etlStep;
    case 'clean':
      return (await import('./clean.js')).cleanStep;
  }
}
