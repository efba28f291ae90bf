// One line per event on stderr, time-stamped, readable in a cron mail; `--log-format json` for shippers.
// Every line passes through the secret filter: values registered by the config loader never leave the process,
// nor does a password or secret-looking parameter in any URL; and control characters a GEO may have put in
// a value are shown as escapes, never sent raw to a terminal.
import { openSync, writeSync } from 'node:fs';
import { printable, terminalSafeJson } from './render/printable.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
export type LogFields = Record<string, string | number | boolean | null | undefined>;

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const minSecretLength = 4;

const secrets = new Set<string>();

/** Values that must never be printed: passwords, tokens, private keys. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= minSecretLength) secrets.add(value);
}

export function redact(text: string): string {
  let result = text;
  for (const secret of secrets) {
    if (result.includes(secret)) result = result.split(secret).join('***');
  }
  return redactUrlsIn(result);
}

/**
 * Query parameters that carry a secret: key, sig, temp_url_sig, X-Amz-Signature, X-Amz-Credential,
 * X-Amz-Security-Token, password, passwd, pwd, secret, client_secret, token, access_token, api_key …
 */
const secretParamName = /(?:^|[-_.])(?:key|sig|pwd)$|secret|passw|token|signature|credential|apikey/i;

/**
 * A URL as it may be shown: the password of its user info and the values of secret-looking query
 * parameters become ***. The user, host, path and other parameters stay, so the address is still useful.
 */
export function redactUrl(url: string): string {
  const withoutPassword = url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:\s]*):[^/?#@\s]*@/i, '$1:***@');
  return withoutPassword.replace(/([?&;])([^=&;#\s]+)=([^&;#\s]*)/g, (whole, separator: string, name: string, value: string) =>
    value !== '' && secretParamName.test(safeDecode(name)) ? `${separator}${name}=***` : whole,
  );
}

const safeDecode = (text: string) => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

/** Every URL inside a text (a log line, an error from a library that quotes the URL it was given). */
const urlInText = /[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
export function redactUrlsIn(text: string): string {
  return text.includes('://') ? text.replace(urlInText, redactUrl) : text;
}

interface LoggerSettings {
  format: LogFormat;
  level: LogLevel;
  write: (line: string) => void;
}

const settings: LoggerSettings = {
  format: 'text',
  level: 'info',
  write: (line) => process.stderr.write(line),
};

export function configureLogging(options: Partial<LoggerSettings>): void {
  Object.assign(settings, options);
}

let logFile: string | undefined;

/**
 * Log lines go to the end of `path` instead of stderr (`--log-file`), so that under cron stderr carries only
 * a failure's own lines, which cron mails, while the log keeps everything. Throws the open's error.
 */
export function logToFile(path: string): void {
  const fd = openSync(path, 'a', 0o640);
  logFile = path;
  // Synchronous: a process that exits right after its last line (process.exit) must not lose it.
  settings.write = (line) => void writeSync(fd, line);
}

/** The `--log-file` in use, if any. */
export function loggingToFile(): string | undefined {
  return logFile;
}

function formatValue(value: string | number | boolean | null): string {
  const text = String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/** The last lines this process wrote, for a failed worker to keep in MySQL (attempt-logs.ts). */
const recentLineCount = 40;
const recent: string[] = [];

export function recentLogLines(): string[] {
  return [...recent];
}

function emit(level: LogLevel, component: string, message: string, fields: LogFields): void {
  if (levelRank[level] < levelRank[settings.level]) return;
  const time = new Date().toISOString();
  const present = Object.entries(fields).filter((entry): entry is [string, string | number | boolean | null] => entry[1] !== undefined);
  let line: string;
  if (settings.format === 'json') {
    line = terminalSafeJson(redact(JSON.stringify({ time, level, component, message, ...Object.fromEntries(present) })));
  } else {
    const tail = present.map(([key, value]) => `${key}=${formatValue(value)}`).join(' ');
    // The whole line: the message and every value may hold what a GEO sent.
    line = printable(redact(`${time} ${level.toUpperCase().padEnd(5)} ${component}: ${message}${tail ? ` ${tail}` : ''}`));
  }
  settings.write(`${line}\n`);
  recent.push(line);
  if (recent.length > recentLineCount) recent.shift();
}

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines all carry these fields (txn, geo, step …). */
  child(fields: LogFields): Logger;
}

export function createLogger(component: string, base: LogFields = {}): Logger {
  const at = (level: LogLevel) => (message: string, fields: LogFields = {}) => emit(level, component, message, { ...base, ...fields });
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => createLogger(component, { ...base, ...fields }),
  };
}
