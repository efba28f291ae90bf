// Runs the built CLI (bin/ganymede → dist/) as a user would, and returns what the user sees.
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

export const ganymedeBin = fileURLToPath(new URL('../../bin/ganymede', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ganymede …args` with only the given GANYMEDE_* environment (the caller's ones are dropped). */
export async function runCli(args: string[], env: Record<string, string> = {}, options: { timeoutMs?: number } = {}): Promise<CliRun> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('GANYMEDE_')));
  const result = await execa(ganymedeBin, args, {
    env: { ...base, NO_COLOR: '1', ...env },
    extendEnv: false,
    reject: false,
    timeout: options.timeoutMs ?? 60_000,
    stdin: 'ignore',
  });
  return { code: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}
