// `ganymede txn …`'s wiring (list, show, retry, cancel); each action imports its command lazily.
import type { Command } from 'commander';
import { configError } from '../../errors.js';
import { printResult } from '../../output.js';
import { helpFor, jsonFlag, loaded } from '../options.js';

export function registerTxn(program: Command): void {
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
    const { runTxnList, describeTxnList } = await import('./list.js');
    printResult(await runTxnList({ loaded: await loaded(command), ...options }), options.json, describeTxnList);
  });
  helpFor(txn.command('show').description('one transaction with its status events').argument('<id>').addOption(jsonFlag()), {
    when: 'by hand, to see what happened to one GEO\'s hour.',
    examples: ['ganymede txn show 42'],
  }).action(async (id: string, options: { json?: boolean }, command: Command) => {
    const { runTxnShow, describeTxnShow, parseTxnId } = await import('./show.js');
    printResult(await runTxnShow({ loaded: await loaded(command), id: parseTxnId(id) }), options.json, describeTxnShow);
  });
  helpFor(txn.command('retry').description('run a failed transaction again from its failed step').argument('<id>').option('--dry-run', 'say which step would be due again; change nothing').addOption(jsonFlag()), {
    what: 'The failed step becomes due again with a fresh attempt count; the next tick launches it.',
    when: 'by hand, after fixing what made it fail.',
    examples: ['ganymede txn retry 42 --dry-run', 'ganymede txn retry 42'],
  }).action(async (id: string, options: { json?: boolean; dryRun?: boolean }, command: Command) => {
    const [{ runTxnRetry }, { parseTxnId }] = await Promise.all([import('./change.js'), import('./show.js')]);
    const result = await runTxnRetry({ loaded: await loaded(command), id: parseTxnId(id), dryRun: options.dryRun });
    printResult(result, options.json, (r) => r.dryRun
      ? `dry run: would make ${r.step} of transaction ${r.transaction.id} due again with a fresh attempt count; nothing was changed`
      : `transaction ${r.transaction.id}: ${r.step} is due again; the next tick runs it`);
  });
  helpFor(txn.command('cancel').description('stop processing a transaction and drop its scratch schema; its files are kept').argument('<id>').option('--dry-run', 'say which steps would stop and which schemas would go; change nothing').addOption(jsonFlag()), {
    what: 'Pending steps are cancelled; a running worker loses its lease and stops. The scratch schema is dropped; the delivered file\nstays in the inbox. Run again on a cancelled transaction, it drops a schema still there (nothing to do, 10, when there is none).',
    when: 'by hand.',
    examples: ['ganymede txn cancel 42'],
  }).action(async (id: string, options: { json?: boolean; dryRun?: boolean }, command: Command) => {
    const [{ runTxnCancel }, { parseTxnId }] = await Promise.all([import('./change.js'), import('./show.js')]);
    const result = await runTxnCancel({ loaded: await loaded(command), id: parseTxnId(id), dryRun: options.dryRun });
    printResult(result, options.json, (r) => r.dryRun
      ? `dry run: would cancel transaction ${r.transaction.id} (${r.stepsCancelled} steps stopped${r.schemasDropped.length > 0 ? `, ${r.schemasDropped.join(', ')} dropped` : ''}); nothing was changed`
      : `transaction ${r.transaction.id} cancelled (${r.stepsCancelled} steps stopped`
      + `${r.schemasDropped.length > 0 ? `, ${r.schemasDropped.join(', ')} dropped` : ''})`);
  });
}
