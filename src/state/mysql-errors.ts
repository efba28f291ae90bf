// Turns mysql2's errors into one-line errors that say what failed and what to do.
import { ExitCode } from '../exit-codes.js';
import { GanymedeError, messageOf } from '../errors.js';

const unreachableCodes = new Set([
  'ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNRESET', 'EPIPE', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN', 'ER_LOCK_WAIT_TIMEOUT', 'ENETUNREACH',
]);

/** What a mysql2 error means to an operator, for the server named `what` (e.g. "the Ganymede database"). */
export function describeMysqlError(error: unknown, what: string, address: string, settingsHint: string, missingDatabaseHint = 'run `ganymede db migrate` to create it'): GanymedeError {
  if (error instanceof GanymedeError) return error;
  const code = (error as { code?: string }).code ?? '';
  const message = messageOf(error);
  if (unreachableCodes.has(code) || /connect ETIMEDOUT|timeout/i.test(message)) {
    return new GanymedeError(ExitCode.unreachable, `cannot reach ${what} at ${address}: ${code || message}`, {
      hint: `is the server running and reachable from here? check ${settingsHint}`,
      cause: error,
    });
  }
  if (code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR' || code === 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR') {
    return new GanymedeError(ExitCode.config, `${what} at ${address} refused the login: ${message}`, {
      hint: `check the user in ${settingsHint} and its password file`,
      cause: error,
    });
  }
  if (code === 'ER_BAD_DB_ERROR') {
    return new GanymedeError(ExitCode.config, `${what} at ${address}: ${message}`, { hint: missingDatabaseHint, cause: error });
  }
  return new GanymedeError(ExitCode.failed, `${what} at ${address} answered an error: ${message}`, { cause: error });
}
