// The one table of exit codes. README and `ganymede --help` print it from here.
// "Nothing to do" and "already running" are not failures: scripts can tell them apart, nothing should page.

export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  config: 3,
  unreachable: 4,
  refused: 5,
  failed: 6,
  notFound: 7,
  nothingToDo: 10,
  alreadyRunning: 11,
  notAvailableYet: 12,
} as const;

export type ExitCodeName = keyof typeof ExitCode;
export type ExitCodeValue = (typeof ExitCode)[ExitCodeName];

export const exitCodeTable: ReadonlyArray<{ code: ExitCodeValue; name: ExitCodeName; meaning: string }> = [
  { code: ExitCode.ok, name: 'ok', meaning: 'success' },
  { code: ExitCode.internal, name: 'internal', meaning: 'internal error: a bug, reported with a stack trace' },
  { code: ExitCode.usage, name: 'usage', meaning: 'usage error: a wrong command, flag or argument' },
  { code: ExitCode.config, name: 'config', meaning: 'configuration error: fix the config file, environment or key files' },
  { code: ExitCode.unreachable, name: 'unreachable', meaning: 'a dependency is unreachable (MySQL, MongoDB, API, SFTP, store); retry later' },
  { code: ExitCode.refused, name: 'refused', meaning: 'data or request refused: corrupt, tampered, unauthorised or conflicting' },
  { code: ExitCode.failed, name: 'failed', meaning: 'the work failed for another reason named in the message (or a check failed)' },
  { code: ExitCode.notFound, name: 'notFound', meaning: 'no such transaction, GEO, cycle, host, archived file or warehouse document: check the name or id' },
  { code: ExitCode.nothingToDo, name: 'nothingToDo', meaning: 'nothing to do (e.g. this hour is already delivered); not a failure' },
  { code: ExitCode.alreadyRunning, name: 'alreadyRunning', meaning: 'another run holds the lock; not a failure' },
  { code: ExitCode.notAvailableYet, name: 'notAvailableYet', meaning: 'this command is not available yet in this version' },
];

export function renderExitCodeTable(): string {
  return exitCodeTable.map((row) => `  ${String(row.code).padStart(2)}  ${row.meaning}`).join('\n');
}
