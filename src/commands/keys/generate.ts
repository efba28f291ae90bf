// `ganymede keys generate --name NAME --out DIR`: an OpenPGP key pair, armored; the private file 0600.
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { configError, usageError } from '../../errors.js';

export interface KeysGenerateOptions {
  name: string;
  outDir: string;
  email?: string | undefined;
}

export interface KeysGenerateResult {
  name: string;
  fingerprint: string;
  publicKeyFile: string;
  privateKeyFile: string;
}

export async function runKeysGenerate(options: KeysGenerateOptions): Promise<KeysGenerateResult> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(options.name)) throw usageError(`"${options.name}" is not a key name: use letters, digits, _ . - (1-64)`);
  const publicKeyFile = join(options.outDir, `${options.name}.pub.asc`);
  const privateKeyFile = join(options.outDir, `${options.name}.key.asc`);
  await mkdir(options.outDir, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
    throw outDirError(error, options);
  });
  // Both files are claimed before the keys exist, so an existing key is never overwritten nor left half replaced.
  const claimed: string[] = [];
  const handles = [];
  try {
    for (const [path, mode] of [[privateKeyFile, 0o600], [publicKeyFile, 0o644]] as const) {
      handles.push(await open(path, 'wx', mode));
      claimed.push(path);
    }
    const { generateKeyPair } = await import('../../openpgp/keys.js');
    const pair = await generateKeyPair({ name: `ganymede ${options.name}`, email: options.email });
    await handles[0]!.writeFile(pair.privateKeyArmored);
    await handles[1]!.writeFile(pair.publicKeyArmored);
    return { name: options.name, fingerprint: pair.fingerprint, publicKeyFile, privateKeyFile };
  } catch (error) {
    await Promise.all(handles.map((handle) => handle.close().catch(() => undefined)));
    handles.length = 0;
    await Promise.all(claimed.map((path) => unlink(path).catch(() => undefined)));
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw configError(`a key named ${options.name} exists already in ${options.outDir}`, { hint: 'keys are never overwritten: pick another name or directory' });
    if (code) throw configError(`cannot write keys into ${options.outDir}: ${code}`);
    throw error;
  } finally {
    await Promise.all(handles.map((handle) => handle.close().catch(() => undefined)));
  }
}

/** --out names a directory; a file there (or on the way to it) is left alone and named. */
function outDirError(error: unknown, options: KeysGenerateOptions): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EEXIST' || code === 'ENOTDIR') {
    return usageError(
      `--out ${options.outDir}: ${code === 'EEXIST' ? 'is a file, not a directory' : 'a part of this path is a file, not a directory'}; nothing was written`,
      `--out is the directory that receives ${options.name}.key.asc and ${options.name}.pub.asc (made if missing): give another path, or move that file away`,
    );
  }
  if (code) return configError(`cannot create the key directory ${options.outDir}: ${code}`, { hint: 'check the path and that this user may write there' });
  return error;
}
