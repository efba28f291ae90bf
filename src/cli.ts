// The program: global options, the root help, and the list of command groups. Each group's commander wiring
// (flags, help, action) sits beside its code in src/commands/<group>/register.ts, the folderless top-level
// commands in src/commands/register.ts. A register module imports only commander and light helpers; every
// action imports its command lazily, so a run loads only what it runs and `jupiter tick` starts fast from
// cron (it never loads the MongoDB driver: test/commands/tick-modules.test.ts). Exit codes are decided in main.ts.
import { Command, Option } from 'commander';
import { renderExitCodeTable } from './exit-codes.js';
import { registerAgent } from './commands/agent/register.js';
import { registerApi } from './commands/api/register.js';
import { registerArchive } from './commands/archive/register.js';
import { registerConfig } from './commands/config/register.js';
import { registerCycle } from './commands/cycle/register.js';
import { registerDb } from './commands/db/register.js';
import { registerGeo } from './commands/geo/register.js';
import { registerHosts } from './commands/hosts/register.js';
import { registerJupiter } from './commands/jupiter/register.js';
import { registerKeys } from './commands/keys/register.js';
import { registerMetrics } from './commands/metrics/register.js';
import { registerAudit, registerCheck, registerLookup, registerPurge, registerStatus } from './commands/register.js';
import { registerTxn } from './commands/txn/register.js';
import { registerViewer } from './commands/viewer/register.js';
import { registerWorker } from './commands/worker/register.js';

const version = '0.1.0';

/** In the order `ganymede --help` lists them. */
const groups: Array<(program: Command) => void> = [
  registerAgent,
  registerJupiter,
  registerWorker,
  registerArchive,
  registerApi,
  registerDb,
  registerGeo,
  registerCycle,
  registerKeys,
  registerTxn,
  registerHosts,
  registerViewer,
  registerStatus,
  registerCheck,
  registerAudit,
  registerLookup,
  registerMetrics,
  registerPurge,
  registerConfig,
];

export function buildProgram(): Command {
  const program = new Command('ganymede')
    .description('Gathers the Cloud Control database of every GEO hourly into the MongoDB warehouse and feeds Glassbeam.')
    .version(version, '-V, --version')
    .option('-c, --config <path>', 'config file (default: $GANYMEDE_CONFIG, then /etc/ganymede/ganymede.json)')
    .addOption(new Option('--log-format <format>', 'log line format on stderr').choices(['text', 'json']))
    .addOption(new Option('--log-level <level>', 'least important log level shown').choices(['debug', 'info', 'warn', 'error']))
    .option('--log-file <path>', 'append log lines to this file instead of stderr; a failure is also said on stderr, for cron to mail')
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

  for (const register of groups) register(program);
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
