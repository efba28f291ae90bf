import { ExitCode, type ExitCodeValue } from './exit-codes.js';

/**
 * An error already explained to the user: the entry point prints its one-line message (and hint)
 * and exits with its code. Anything that is not a GanymedeError is a bug and prints its stack.
 */
export class GanymedeError extends Error {
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  /** Extra lines printed after the message, e.g. every problem of a config file. */
  readonly details: readonly string[];
  /** Already reported on stdout (e.g. `check`): exit with the code, print nothing more. */
  readonly quiet: boolean;

  constructor(exitCode: ExitCodeValue, message: string, options: { hint?: string; details?: readonly string[]; cause?: unknown; quiet?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GanymedeError';
    this.exitCode = exitCode;
    this.hint = options.hint;
    this.details = options.details ?? [];
    this.quiet = options.quiet ?? false;
  }
}

export const usageError = (message: string, hint?: string) => new GanymedeError(ExitCode.usage, message, { hint });
export const configError = (message: string, options: { hint?: string; details?: readonly string[] } = {}) =>
  new GanymedeError(ExitCode.config, message, options);
export const unreachableError = (message: string, hint?: string, cause?: unknown) =>
  new GanymedeError(ExitCode.unreachable, message, { hint, cause });
export const refusedError = (message: string, hint?: string) => new GanymedeError(ExitCode.refused, message, { hint });
export const failedError = (message: string, hint?: string) => new GanymedeError(ExitCode.failed, message, { hint });
/** A transaction, GEO, cycle or host the command names does not exist: not a usage error, the command was right. */
export const notFoundError = (message: string, hint?: string) => new GanymedeError(ExitCode.notFound, message, { hint });
export const nothingToDo = (message: string) => new GanymedeError(ExitCode.nothingToDo, message);
export const alreadyRunning = (message: string) => new GanymedeError(ExitCode.alreadyRunning, message);

export function notAvailableYet(command: string, issue: string): GanymedeError {
  return new GanymedeError(ExitCode.notAvailableYet, `\`ganymede ${command}\` is not available yet in this version`, {
    hint: `it arrives with ${issue}; nothing was done`,
  });
}

/** The message of anything thrown, on one line. */
export function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
