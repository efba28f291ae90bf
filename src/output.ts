// Results go to stdout: JSON for scripts (--json), text for people. Messages and logs go to stderr.
import { redact } from './log.js';

export function printResult<T>(result: T, json: boolean | undefined, describe: (result: T) => string): void {
  const text = json
    ? JSON.stringify(result, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2)
    : describe(result);
  if (text) process.stdout.write(`${json ? text : redact(text)}\n`);
}

/** A line for the person at the terminal (stderr), kept out of stdout so pipelines stay clean. */
export function say(message: string): void {
  process.stderr.write(`${redact(message)}\n`);
}
