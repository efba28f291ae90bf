// The entry point and the one error boundary: a GanymedeError prints its message and exits with its
// code; a usage error from commander exits 2; anything else is a bug and prints its stack.
import { isMainThread } from 'node:worker_threads';
import { type Command, CommanderError } from 'commander';
import { buildProgram } from './cli.js';
import { GanymedeError, messageOf } from './errors.js';
import { ExitCode, exitCodeTable } from './exit-codes.js';
import { jsonResultPrinted } from './output.js';
import { createLogger, loggingToFile, redact } from './log.js';
import { printable, terminalSafeJson } from './render/printable.js';

/** Each line on its own: a message may quote a delivered name, whose newline or ESC must not pass for ours. */
const printableLines = (lines: string[]) => lines.map((line) => printable(redact(line))).join('\n');

function printError(error: GanymedeError): void {
  const lines = [`ganymede: ${error.message}`, ...error.details.map((detail) => `  - ${detail}`)];
  if (error.hint) lines.push(`  hint: ${error.hint}`);
  if (!loggingToFile()) {
    process.stderr.write(`${printableLines(lines)}\n`);
    return;
  }
  // The log file tells the whole story; stderr, which cron mails, has only a failure: "nothing to do" and
  // "already running" are not one.
  const notFailed = error.exitCode === ExitCode.nothingToDo || error.exitCode === ExitCode.alreadyRunning;
  createLogger('ganymede')[notFailed ? 'info' : 'error'](lines.map((line) => line.trim()).join(' '));
  if (!notFailed) process.stderr.write(`${printableLines(lines)}\n`);
}

/**
 * With --json a script reads stdout: every GanymedeError gives it a result too — "nothing to do" (10) and
 * "already running" (11) as much as a failure — while stderr keeps the line for people and cron.
 */
function printJsonError(error: GanymedeError): void {
  const name = exitCodeTable.find((row) => row.code === error.exitCode)?.name ?? 'failed';
  const body = { ok: false, exitCode: error.exitCode, outcome: name, message: redact(error.message), ...(error.hint ? { hint: redact(error.hint) } : {}), ...(error.details.length ? { details: error.details.map(redact) } : {}) };
  process.stdout.write(`${terminalSafeJson(JSON.stringify(body, null, 2))}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  let jsonRequested = false;
  program.hook('preAction', (_program, action) => {
    jsonRequested = action.opts().json === true;
  });
  for (const command of [program, ...allSubcommands(program)]) {
    command.exitOverride();
    command.configureOutput({ outputError: (text, write) => write(`ganymede: ${text.replace(/^error: /, '')}`) });
    command.showHelpAfterError(`  hint: see \`${commandPath(command)} --help\``);
  }
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return ExitCode.ok;
      // Also 'commander.help': a command group called without its subcommand; the help was shown on stderr.
      return ExitCode.usage;
    }
    if (error instanceof GanymedeError) {
      // A quiet error has printed its own result already (`check`).
      if (jsonRequested && !error.quiet && !jsonResultPrinted()) printJsonError(error);
      if (!error.quiet) printError(error);
      return error.exitCode;
    }
    process.stderr.write(`${printableLines([`ganymede: internal error: ${messageOf(error)}`, ...((error as Error)?.stack ?? '').split('\n')])}\n`);
    process.stderr.write('ganymede: this is a bug; please report it with the lines above\n');
    return ExitCode.internal;
  }
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

function allSubcommands(command: ReturnType<typeof buildProgram>): ReturnType<typeof buildProgram>[] {
  return command.commands.flatMap((child) => [child, ...allSubcommands(child)]);
}

// Run when executed (bin/ganymede imports the built file); not when a test imports main(), and never in
// the agent's worker threads, which share process.argv and may load the chunk this code is bundled into.
const invokedDirectly = process.argv[1] !== undefined && /(?:^|[\\/])(?:main\.(?:js|ts)|ganymede)$/.test(process.argv[1]);
if (isMainThread && (invokedDirectly || process.env.GANYMEDE_RUN_MAIN === '1')) {
  main(process.argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${printable(redact(`ganymede: internal error: ${messageOf(error)}`))}\n`);
      process.exit(ExitCode.internal);
    },
  );
}
