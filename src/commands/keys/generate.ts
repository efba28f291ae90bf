// `ganymede keys generate --name NAME --out DIR`: an OpenPGP key pair, armored; the private file 0600.
import { constants, type Stats } from 'node:fs';
import { access, lstat, mkdir, open, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
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

const keyFiles = (options: KeysGenerateOptions) => {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(options.name)) throw usageError(`"${options.name}" is not a key name: use letters, digits, _ . - (1-64)`);
  return { publicKeyFile: join(options.outDir, `${options.name}.pub.asc`), privateKeyFile: join(options.outDir, `${options.name}.key.asc`) };
};

export interface KeysGeneratePlan {
  dryRun: true;
  name: string;
  publicKeyFile: string;
  privateKeyFile: string;
  /** --out does not exist yet: a run would create it (0700). */
  createsDir: boolean;
}

/** `--dry-run`: the name, --out and the two files checked as a run checks them; no key is made, nothing written. */
export async function planKeysGenerate(options: KeysGenerateOptions): Promise<KeysGeneratePlan> {
  const { publicKeyFile, privateKeyFile } = keyFiles(options);
  // The nearest part of --out that exists must be a directory this user may write in (mkdir -p follows links).
  const outDir = resolve(options.outDir);
  const { path: existing, stats } = await nearestExisting(outDir).catch((error: unknown) => {
    throw outDirError(error, options);
  });
  if (!stats.isDirectory()) throw outDirError(Object.assign(new Error('not a directory'), { code: existing === outDir ? 'EEXIST' : 'ENOTDIR' }), options);
  const createsDir = existing !== outDir;
  await access(existing, constants.W_OK | constants.X_OK).catch((error: unknown) => {
    throw createsDir ? outDirError(error, options) : configError(`cannot write keys into ${options.outDir}: ${(error as NodeJS.ErrnoException).code ?? 'not writable'}`);
  });
  for (const path of [privateKeyFile, publicKeyFile]) {
    if (await lstat(path).then(() => true, () => false)) {
      throw configError(`a key named ${options.name} exists already in ${options.outDir}`, { hint: 'keys are never overwritten: pick another name or directory' });
    }
  }
  return { dryRun: true, name: options.name, publicKeyFile, privateKeyFile, createsDir };
}

/** `path` itself or its nearest parent that exists, with what it is. */
async function nearestExisting(path: string): Promise<{ path: string; stats: Stats }> {
  for (let at = path; ; at = dirname(at)) {
    const stats = await stat(at).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw error;
    });
    if (stats) return { path: at, stats };
  }
}

export function describeKeysGeneratePlan(plan: KeysGeneratePlan): string {
  return `dry run: would make a key pair ${plan.name} (curve25519): ${plan.privateKeyFile} (0600) and ${plan.publicKeyFile}${plan.createsDir ? `, creating ${dirname(plan.privateKeyFile)} (0700)` : ''}; nothing was written`;
}

export async function runKeysGenerate(options: KeysGenerateOptions): Promise<KeysGenerateResult> {
  const { publicKeyFile, privateKeyFile } = keyFiles(options);
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
