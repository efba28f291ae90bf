// Text from outside (a GEO's host name, fail reasons, event messages, file and table names) reaches the
// operator's terminal and cron mail; a raw ESC or BEL in it could clear the screen and print a fake
// "all done", a bidi override could reverse what a line says. Every output boundary (results, messages,
// errors, log lines) shows such characters as visible escapes instead: `\x1b`, `\n`, `\u202e`.
// Backslashes are left alone: a Windows path stays readable, and an escape is only ever shown, never read back.

/**
 * C0 controls (tab and newline too: one field must stay on its line and in its table column), DEL, C1
 * controls, the bidi marks, embeddings, overrides and isolates, and the line and paragraph separators.
 */
const unprintable = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(char: string): string {
  const code = char.charCodeAt(0);
  return named[char] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
}

/** One value from outside, as it may be printed: every control and bidi character as a visible escape. */
export function printable(text: string): string {
  return text.replace(unprintable, escapeOne);
}

// Our own colour codes (chalk's SGR sequences) and line breaks are layout; any other control is escaped.
const ownLayout = /(\u001b\[[0-9;]*m|\n)|[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * Text this program composed (a result described for people, a message): its line breaks and colours
 * stay, anything else unprintable is escaped. Values from outside go through `printable` first (see
 * `printableValues`), so that a newline or colour code inside one cannot pass for ours.
 */
export function printableLayout(text: string): string {
  return text.replace(ownLayout, (match, layout: string | undefined) => layout ?? escapeOne(match));
}

/**
 * Every string in a result (arrays and plain objects walked; dates, buffers and other objects kept), made
 * printable before a describe function lays it out.
 */
export function printableValues<T>(value: T): T {
  if (typeof value === 'string') return printable(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => printableValues(item)) as T;
  if (value !== null && typeof value === 'object') {
    const prototype = Object.getPrototypeOf(value) as unknown;
    if (prototype !== Object.prototype && prototype !== null) return value;
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, printableValues(item)])) as T;
  }
  return value;
}

// JSON.stringify escapes C0 controls but writes DEL, C1 controls and bidi characters raw.
const rawInJson = /[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * JSON text safe on a terminal and still the same JSON: those characters can only occur inside strings,
 * where `\uXXXX` stands for exactly the same character.
 */
export function terminalSafeJson(json: string): string {
  return json.replace(rawInJson, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
