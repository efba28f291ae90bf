// One line per event on stderr, time-stamped, readable in a cron mail; `--log-format json` for shippers.
// Every line passes through the secret filter: values registered by the config loader never leave the process.

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
  return result;
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

function formatValue(value: string | number | boolean | null): string {
  const text = String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

function emit(level: LogLevel, component: string, message: string, fields: LogFields): void {
  if (levelRank[level] < levelRank[settings.level]) return;
  const time = new Date().toISOString();
  const present = Object.entries(fields).filter((entry): entry is [string, string | number | boolean | null] => entry[1] !== undefined);
  let line: string;
  if (settings.format === 'json') {
    line = JSON.stringify({ time, level, component, message, ...Object.fromEntries(present) });
  } else {
    const tail = present.map(([key, value]) => `${key}=${formatValue(value)}`).join(' ');
    line = `${time} ${level.toUpperCase().padEnd(5)} ${component}: ${message}${tail ? ` ${tail}` : ''}`;
  }
  settings.write(`${redact(line)}\n`);
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
