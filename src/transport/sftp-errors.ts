// What ssh2 and ssh2-sftp-client report, turned into one-line errors that say what to do. Their errors
// carry an SFTP status (2 no such file, 3 permission denied, 4 failure), a socket code, or only a text.
import path from 'node:path';
import { configError, failedError, GanymedeError, messageOf, refusedError, unreachableError } from '../errors.js';

export interface SftpLogin {
  address: string;
  username: string;
  host: string;
  port: number;
  /** The key file's path, when the key came from one. */
  keyLabel: string | undefined;
  pinnedHostKey: string | undefined;
  /** The host key the server showed, if it got that far. */
  seenHostKey: string | undefined;
}

// Errors after which the session is gone and the same call may work on a new one.
const lostConnectionCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'ERR_NOT_CONNECTED']);
// ssh2-sftp-client reports a connection dropped mid-operation only in words, with a generic code.
const lostConnectionText = /Unexpected (end|close) event|No SFTP connection|No response from server|Timed out while waiting for handshake|Keepalive timeout|Connection lost|socket hang up|ECONNRESET/i;

export function isConnectionLost(error: unknown): boolean {
  const code = codeOf(error);
  return (typeof code === 'string' && lostConnectionCodes.has(code)) || lostConnectionText.test(messageOf(error));
}

export function isMissing(error: unknown): boolean {
  const code = codeOf(error);
  return code === 2 || code === 'ENOENT';
}

/** Why connect() failed. A wrong key comes back as text only: "All configured authentication methods failed". */
export function loginError(error: unknown, login: SftpLogin): GanymedeError {
  const { address, username, host, port, keyLabel, pinnedHostKey, seenHostKey } = login;
  const text = messageOf(error).replace(/^getConnection: /, '');
  const key = keyLabel ? ` ${keyLabel}` : '';
  if (pinnedHostKey !== undefined && seenHostKey !== undefined && seenHostKey !== pinnedHostKey) {
    return refusedError(
      `${address}: the server's host key is ${seenHostKey}, not the pinned ${pinnedHostKey}; not connecting`,
      "if the server's key was changed on purpose, pin the new fingerprint in the config; otherwise the connection may be intercepted",
    );
  }
  if (/authentication methods failed/i.test(text)) {
    return configError(`SFTP login as ${username}@${host}:${port} refused the private key${key}`, {
      hint: `check that its public key is in the authorized_keys of ${username} on ${host}, and that the URL names the right user`,
    });
  }
  if (/privateKey|private key|passphrase/i.test(text)) {
    return configError(`the private key${key} for ${address} cannot be used: ${text}`, { hint: 'give an unencrypted private key in OpenSSH or PEM format' });
  }
  if (isConnectionLost(error)) {
    return unreachableError(`${address} is unreachable: ${text}`, 'it is retried; if it keeps failing, check the host, port, firewall and that the SFTP server runs', error);
  }
  return failedError(`${address}: the SSH session could not be set up: ${text}`, 'check that the server offers SFTP to this user');
}

/** Why an operation on an open session failed; `action` reads "could not <action>". */
export function operationError(error: unknown, address: string, action: string, remotePath: string): GanymedeError {
  if (error instanceof GanymedeError) return error;
  const code = codeOf(error);
  if (isConnectionLost(error)) {
    return unreachableError(`${address}: could not ${action}: the connection was lost (${messageOf(error)})`, 'it is retried; if it keeps failing, check the network and the SFTP server', error);
  }
  if (code === 3 || code === 'EACCES') {
    return refusedError(`${address}: could not ${action}: permission denied on ${remotePath}`, 'check that the SFTP user may write there (owner and mode of the directory)');
  }
  if (isMissing(error)) {
    // Missing files are handled by each operation; what is left is a directory that is not there.
    return configError(`${address}: could not ${action}: ${path.posix.dirname(remotePath)} does not exist on the server`, {
      hint: 'create the directory, or fix the path in the location URL',
    });
  }
  return failedError(`${address}: could not ${action} (${remotePath}): ${messageOf(error)}`);
}

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}
