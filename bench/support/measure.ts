// Runs one child under GNU time (Debian package `time`) and reports its wall time, peak RSS and CPU.
// %M is the peak resident set of the largest process waited for: for a Node CLI, that process; for a
// shell pipeline, its biggest member. %U/%S add up every process of the pipeline.
import { readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { execa } from 'execa';

export const gnuTime = '/usr/bin/time';

export interface Measured {
  wallMs: number;
  peakRssKb: number;
  userS: number;
  systemS: number;
  stdout: string;
  stderr: string;
}

export interface MeasureOptions {
  env?: Record<string, string>;
  /** Replaces the environment instead of adding to it. */
  extendEnv?: boolean;
  /** Where GNU time writes its one line (kept apart from the child's stderr). */
  reportFile: string;
  timeoutMs?: number;
}

export function requireGnuTime(): void {
  if (!existsSync(gnuTime)) throw new Error(`${gnuTime} is missing: install the Debian package "time" (apt-get install time)`);
}

export async function measure(label: string, command: string, args: string[], options: MeasureOptions): Promise<Measured> {
  const started = performance.now();
  const result = await execa(gnuTime, ['-o', options.reportFile, '-f', 'rss-kb=%M user-s=%U system-s=%S', command, ...args], {
    env: options.env,
    extendEnv: options.extendEnv ?? true,
    reject: false,
    stdin: 'ignore',
    timeout: options.timeoutMs ?? 3_600_000,
  });
  const wallMs = performance.now() - started;
  const report = await readFile(options.reportFile, 'utf8').catch(() => '');
  await rm(options.reportFile, { force: true });
  if (result.exitCode !== 0) {
    throw new Error(`${label} failed (exit ${result.exitCode ?? result.signal}):\n${String(result.stderr).slice(-4000)}`);
  }
  const field = (name: string) => Number(new RegExp(`${name}=([0-9.]+)`).exec(report)?.[1] ?? NaN);
  return {
    wallMs,
    peakRssKb: field('rss-kb'),
    userS: field('user-s'),
    systemS: field('system-s'),
    stdout: String(result.stdout),
    stderr: String(result.stderr),
  };
}
