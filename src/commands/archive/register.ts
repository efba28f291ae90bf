// `ganymede archive …`'s wiring (run, list, restore, prune, verify); each action imports its command lazily.
import type { Command } from 'commander';
import { GanymedeError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { printResult } from '../../output.js';
import { helpFor, jsonFlag, loaded } from '../options.js';
import { withStopSignal } from '../stop-signal.js';

export function registerArchive(program: Command): void {
  const archive = helpFor(program.command('archive').description('back up the Ganymede schema and every agent dump to the archive store; list, restore, verify'), {
    what: 'Without a subcommand it runs `archive run`.',
    when: 'cron, hourly, on one central host (archive run); by hand for the rest.',
    examples: ['ganymede archive', 'ganymede archive list --geo emea', 'ganymede archive verify'],
  });
  helpFor(archive.command('run', { isDefault: true }).description('archive what is new: the Ganymede schema (if changed) and every agent file not archived yet, superseded and quarantined ones too').option('--dry-run', 'list what would be archived; read MySQL only, change nothing').addOption(jsonFlag()), {
    what: 'The schema dump is consistent, compressed, signed and encrypted to the centre\'s key. Each object is recorded with size and sha256;\na file is uploaded once; a run that finds nothing new does nothing and prints nothing. Agent files: every delivered one (agent/),\nevery one a forced re-delivery superseded (superseded/), each checked against the size and sha256 its agent reported, and every\nrefused one from quarantine (quarantine/), as found.',
    when: 'cron, hourly, on one central host. A second run while one is going exits 11.',
    examples: ['ganymede archive run', 'ganymede archive run --dry-run'],
  }).action(async (options: { json?: boolean; dryRun?: boolean }, command: Command) => {
    const { runArchive, describeArchive, planArchive, describeArchivePlan } = await import('./run.js');
    const config = await loaded(command);
    if (options.dryRun) {
      printResult(await planArchive({ loaded: config }), options.json, describeArchivePlan);
      return;
    }
    const result = await withStopSignal((signal) => runArchive({ loaded: config, signal }));
    printResult(result, options.json, describeArchive);
  });
  helpFor(archive.command('list').description('what is in the archive').option('--cycle <hour>', 'agent files of this hour').option('--geo <name>', 'agent files of this GEO').addOption(jsonFlag()), {
    when: 'by hand, before a restore.',
    examples: ['ganymede archive list', 'ganymede archive list --geo emea --cycle 2026-11-24T20'],
  }).action(async (options: { cycle?: string; geo?: string; json?: boolean }, command: Command) => {
    const { runArchiveList, describeArchiveList } = await import('./manage.js');
    printResult(await runArchiveList({ loaded: await loaded(command), ...options }), options.json, describeArchiveList);
  });
  helpFor(
    archive
      .command('restore')
      .description('restore the Ganymede schema of a point in time, or a GEO\'s Cloud Control database of an hour (tables, views, routines, triggers, events), into a named schema')
      .option('--into <schema>', 'the schema to create on the scratch MySQL')
      .option('--to <url>', 'or mysql://user@host:port/database on another server (password: archive.restore_password_file or GANYMEDE_ARCHIVE_RESTORE_PASSWORD)')
      .option('--geo <name>', 'a GEO (with --cycle): its dump of that hour')
      .option('--cycle <hour>', 'the hour of the GEO dump')
      .option('--at <time>', 'the Ganymede schema as archived at or before this time (default: the newest)')
      .option('--definer <user@host>', 'create every view, routine, trigger and event with this definer instead of the GEO\'s')
      .option('--replace', 'drop the schema first if it exists')
      .option('--dry-run', 'open and check the dump and the target; list what would be created, in order; create nothing')
      .addOption(jsonFlag()),
    {
      what:
        'The object is checked against its recorded sha256, decrypted with the centre key, its signer verified (the GEO, or the centre),\nloaded, and every table verified against the dump\'s manifest. A GEO\'s dump then gets its views, routines, triggers and events\n(functions and procedures, views over views in order, triggers after the data, events), each created with the sql_mode and\ncharacter set it was recorded with. They are the GEO\'s own code, run on the target: see README, "Restoring a GEO\'s database".\nDefiners the target does not know are reported before anything is created.',
      when: 'by hand, after losing data or to inspect an old hour.',
      examples: [
        'ganymede archive restore --into ganymede_restored',
        'ganymede archive restore --geo emea --cycle 2026-11-24T20 --into emea_2026112420',
        'ganymede archive restore --geo emea --cycle 2026-11-24T20 --to mysql://admin@db2:3306/cloudcontrol --definer app@localhost --dry-run',
      ],
    },
  ).action(async (options: { into?: string; to?: string; geo?: string; cycle?: string; at?: string; definer?: string; replace?: boolean; dryRun?: boolean; json?: boolean }, command: Command) => {
    const { runArchiveRestore, describeArchiveRestore } = await import('./manage.js');
    const result = await runArchiveRestore({ loaded: await loaded(command), ...options });
    printResult(result, options.json, describeArchiveRestore);
  });
  helpFor(archive.command('prune').description('apply the archive retention and free the inbox and quarantine of archived files').option('--dry-run', 'say what would go; remove nothing').addOption(jsonFlag()), {
    what: 'Keeps every object for archive.hourly_days (14), then the first of each day for archive.daily_days (90). Agent files in the\ninbox (delivered or superseded) and in quarantine go archive.local_days (2) after their archived copy was recorded, in a local\ninbox directory or the inbox store alike; a file not archived yet is never deleted.',
    when: 'cron, daily, on the host that runs the archive.',
    examples: ['ganymede archive prune --dry-run', 'ganymede archive prune'],
  }).action(async (options: { dryRun?: boolean; json?: boolean }, command: Command) => {
    const { runArchivePrune, describeArchivePrune } = await import('./prune.js');
    printResult(await runArchivePrune({ loaded: await loaded(command), dryRun: options.dryRun }), options.json, describeArchivePrune);
  });
  helpFor(archive.command('verify').description('restore drill: restore a sample into scratch schemas, verify checksums, drop them, report').addOption(jsonFlag()), {
    when: 'cron, daily, or by hand; exit 0 only when every sample restored and verified.',
    examples: ['ganymede archive verify'],
  }).action(async (options: { json?: boolean }, command: Command) => {
    const { runArchiveVerify, describeArchiveVerify } = await import('./manage.js');
    const result = await runArchiveVerify({ loaded: await loaded(command) });
    printResult(result, options.json, describeArchiveVerify);
    if (!result.ok) throw new GanymedeError(ExitCode.refused, `archive verify: ${result.checked.filter((item) => !item.ok).length} of ${result.checked.length} samples failed`);
  });
}
