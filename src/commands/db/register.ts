// `ganymede db migrate`'s wiring and a lazy import of the migration runner.
import type { Command } from 'commander';
import { printResult } from '../../output.js';
import { helpFor, jsonFlag, loaded } from '../options.js';

export function registerDb(program: Command): void {
  const db = program.command('db').description('the Ganymede MySQL database');
  helpFor(db.command('migrate').description('create the database if missing and apply missing migrations'), {
    what: 'Safe to run again (a no-op when up to date) and from two hosts at once (they take turns on a named lock).',
    when: 'at install and after every upgrade, before the new version runs.',
    examples: ['ganymede db migrate --dry-run', 'ganymede db migrate'],
  })
    .option('--dry-run', 'say whether the database would be created and which migrations would be applied; change nothing')
    .addOption(jsonFlag())
    .action(async (options: { json?: boolean; dryRun?: boolean }, command: Command) => {
      const { runDbMigrate, describeDbMigrate } = await import('./migrate.js');
      printResult(await runDbMigrate({ loaded: await loaded(command), dryRun: options.dryRun }), options.json, describeDbMigrate);
    });
}
