// What every group's register.ts shares: help layout, the common flags and parsers, and the config loader (imported lazily, so wiring stays light).
import { type Command, Option } from 'commander';
import { GanymedeError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { GlobalOptions } from './context.js';

export function helpFor(command: Command, text: { what?: string; when: string; examples: string[] }): Command {
  return command.addHelpText(
    'after',
    `${text.what ? `\n${text.what}\n` : ''}\nWhen: ${text.when}\n\nExamples:\n${text.examples.map((example) => `  $ ${example}`).join('\n')}\n`,
  );
}

function globals(command: Command): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

export async function loaded(command: Command, overrides: Record<string, unknown> = {}) {
  const { loadForCommand } = await import('./context.js');
  return loadForCommand(globals(command), overrides);
}

export const cycleFlag = () => new Option('--cycle <hour>', 'the UTC hour, YYYY-MM-DDTHH (e.g. 2026-11-24T20)');
export const jsonFlag = () => new Option('--json', 'print the result as JSON on stdout, for scripts');

export function positiveNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new GanymedeError(ExitCode.usage, `${flag} ${value}: expected a positive number`);
  return n;
}
