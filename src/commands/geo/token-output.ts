import { open, unlink } from 'node:fs/promises';
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
