import { constants } from 'node:fs';
import { access, lstat, open, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { configError } from '../../errors.js';

/**
 * A new API token leaves the process exactly once: into a new 0600 file when one is named, otherwise on
 * stdout for the operator to copy. The file is created before the token is, so a file that cannot be
 * written never leaves a GEO with a token nobody has.
 */
export async function withTokenOutput<T extends { token: string }>(
  tokenFile: string | undefined,
  produce: () => Promise<T>,
): Promise<T & { tokenWentTo: 'file' | 'stdout' }> {
  if (!tokenFile) return { ...(await produce()), tokenWentTo: 'stdout' };
  let handle;
  try {
    handle = await open(tokenFile, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw configError(`cannot write the token file ${tokenFile}: ${code === 'EEXIST' ? 'it exists already' : code ?? (error as Error).message}`, {
      hint: 'remove it or name another file; nothing was changed',
    });
  }
  try {
    const produced = await produce();
    await handle.writeFile(`${produced.token}\n`);
    await handle.close();
    return { ...produced, tokenWentTo: 'file' };
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(tokenFile).catch(() => undefined);
    throw error;
  }
}

/**
 * `--dry-run`: whether `withTokenOutput` could create the token file, checked without creating it; the same
 * error a real run would give (the file exists, or its directory is not there or not writable).
 */
export async function checkTokenFile(tokenFile: string | undefined): Promise<void> {
  if (!tokenFile) return;
  const refuse = (why: string) => configError(`cannot write the token file ${tokenFile}: ${why}`, { hint: 'remove it or name another file; nothing was changed' });
  if (await lstat(tokenFile).then(() => true, () => false)) throw refuse('it exists already');
  try {
    await access(dirname(resolve(tokenFile)), constants.W_OK | constants.X_OK);
  } catch (error) {
    throw refuse((error as NodeJS.ErrnoException).code ?? (error as Error).message);
  }
}
