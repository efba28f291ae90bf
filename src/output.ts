// Results go to stdout: JSON for scripts (--json), text for people. Messages and logs go to stderr.
// Text for people is made printable here, at the boundary: every string of a result is escaped before
// it is described, so no describe function has to remember it (src/render/printable.ts says why).
import { redact } from './log.js';
import { printableLayout, printableValues, terminalSafeJson } from './render/printable.js';

let printedJson = false;

/** Whether a JSON result went to stdout already: a failure after it (drain, config check) adds no second document. */
export function jsonResultPrinted(): boolean {
  return printedJson;
}

export function printResult<T>(result: T, json: boolean | undefined, describe: (result: T) => string): void {
  if (json) printedJson = true;
  const text = json
    ? terminalSafeJson(JSON.stringify(result, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2))
    : describe(printableValues(result));
  if (text) process.stdout.write(`${json ? text : printableLayout(redact(text))}\n`);
}

/** A line for the person at the terminal (stderr), kept out of stdout so pipelines stay clean. */
export function say(message: string): void {
  process.stderr.write(`${printableLayout(redact(message))}\n`);
}
