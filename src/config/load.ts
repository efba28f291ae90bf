// Reads the configuration once, at start: the file, then GANYMEDE_* environment, then flags. Every
// problem is collected and reported together, each with its key; secrets are read from their files
// (or the environment) here and registered so that no log line or error can print them.
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { configError } from '../errors.js';
import { registerSecret } from '../log.js';
import { configSchema, secretKeys, type Config, type SecretKey } from './schema.js';

export const defaultConfigPath = '/etc/ganymede/ganymede.json';
const envPrefix = 'GANYMEDE_';
/**
 * The lease `jupiter tick` claimed for the worker it starts: handed over in the environment, which only
 * the worker's user can read, never in argv, which /proc shows every user.
 */
export const leaseTokenEnv = 'GANYMEDE_LEASE_TOKEN';
/** Environment variables that are not settings: where the file is, the worker's lease, and the test rig's own. */
const envNotSettings = [/^GANYMEDE_CONFIG$/, new RegExp(`^${leaseTokenEnv}$`), /^GANYMEDE_TEST_/];
/** Files that hold private material besides the secrets: checked for existence and mode at start. */
const privateFileKeys = ['agent.signing_key_file', 'agent.sftp_key_file', 'centre.private_key_file', 'centre.inbox_key_file', 'glassbeam.key_file', 'archive.key_file', 'feed.store_key_file', 'api.tls.key_file', 'api.client_key_file'];

export interface LoadConfigOptions {
  /** --config; else GANYMEDE_CONFIG; else /etc/ganymede/ganymede.json if it exists. null: no file at all. */
  configPath?: string | null | undefined;
  env?: NodeJS.ProcessEnv;
  /** Settings from flags, by dotted key (`api.listen`); they win over file and environment. */
  overrides?: Record<string, unknown>;
}

export interface LoadedConfig {
  config: Config;
  /** The file read, if any. */
  path: string | undefined;
  secret(key: SecretKey): string | undefined;
  /** Where each secret came from, for `config check`: an environment variable or a file, never the value. */
  secretSource(key: SecretKey): string | undefined;
  /** A worker started by `jupiter tick`: the lease it was given (GANYMEDE_LEASE_TOKEN); run by hand, none. */
  leaseToken: string | undefined;
}

type LeafKind = 'string' | 'number' | 'boolean' | 'list' | 'json';

/** Every settable key of the schema with the kind of value the environment must parse into. */
function leafKeys(schema: z.ZodType, prefix: string[] = [], out = new Map<string, LeafKind>()): Map<string, LeafKind> {
  let def = (schema as unknown as { def: { type: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType> } }).def;
  while (def.innerType) def = (def.innerType as unknown as { def: typeof def }).def;
  if (def.type === 'object' && def.shape) {
    for (const [key, child] of Object.entries(def.shape)) leafKeys(child, [...prefix, key], out);
  } else {
    const kind: LeafKind =
      def.type === 'number' ? 'number' : def.type === 'boolean' ? 'boolean' : def.type === 'array' ? 'list' : def.type === 'record' ? 'json' : 'string';
    out.set(prefix.join('.'), kind);
  }
  return out;
}

const settableKeys = leafKeys(configSchema);
export const envNameOf = (key: string) => envPrefix + key.replace(/\./g, '_').toUpperCase();

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    node = (next && typeof next === 'object' && !Array.isArray(next) ? next : (node[part] = {})) as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

export function getPath(source: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined), source);
}

function parseEnvValue(kind: LeafKind, raw: string): unknown {
  switch (kind) {
    case 'number':
      return /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw;
    case 'boolean':
      return ['1', 'true', 'yes'].includes(raw.toLowerCase()) ? true : ['0', 'false', 'no'].includes(raw.toLowerCase()) ? false : raw;
    case 'list':
      return raw.split(',').map((item) => item.trim()).filter(Boolean);
    case 'json':
      try {
        return JSON.parse(raw);
      } catch {
        return raw;
      }
    default:
      return raw;
  }
}

function readConfigFile(path: string, explicit: boolean, problems: string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return {};
    problems.push(`config file ${path}: ${code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'permission denied' : (error as Error).message}`);
    return {};
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    problems.push(`config file ${path}: must hold one JSON object`);
  } catch (error) {
    problems.push(`config file ${path}: not valid JSON (${(error as Error).message})`);
  }
  return {};
}

/** A private file must exist and be readable by its owner only. */
function checkPrivateFile(key: string, path: string, problems: string[]): boolean {
  try {
    const stat = statSync(path);
    if (!stat.isFile()) {
      problems.push(`${key}: ${path} is not a file`);
      return false;
    }
    if ((stat.mode & 0o077) !== 0) {
      problems.push(`${key}: ${path} is readable by group or others (mode ${(stat.mode & 0o777).toString(8)}); run chmod 600 ${path}`);
      return false;
    }
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(`${key}: ${path} ${code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : (error as Error).message}`);
    return false;
  }
}

export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const explicitPath = options.configPath === null ? undefined : (options.configPath ?? env.GANYMEDE_CONFIG);
  const path = explicitPath ?? defaultConfigPath;
  const raw = options.configPath === null ? {} : readConfigFile(path, explicitPath !== undefined, problems);
  const fileRead = options.configPath !== null && (Object.keys(raw).length > 0 || explicitPath !== undefined) ? path : undefined;

  for (const key of secretKeys) {
    if (getPath(raw, key) !== undefined) {
      problems.push(`${key}: secrets are not written in the config file; use ${key}_file (a file readable only by its owner) or ${envNameOf(key)}`);
      // Dropped so that schema validation does not report the same key a second time as unknown.
      delete (getPath(raw, key.split('.').slice(0, -1).join('.')) as Record<string, unknown>)[key.split('.').at(-1)!];
    }
  }

  const secretValues = new Map<SecretKey, { value: string; source: string }>();
  const secretEnvNames = new Map(secretKeys.map((key) => [envNameOf(key), key]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(envPrefix) || value === undefined || envNotSettings.some((pattern) => pattern.test(name))) continue;
    const secretKey = secretEnvNames.get(name);
    if (secretKey) {
      if (value === '') problems.push(`${name}: is set but empty`);
      else secretValues.set(secretKey, { value, source: `environment ${name}` });
      continue;
    }
    const key = [...settableKeys.keys()].find((candidate) => envNameOf(candidate) === name);
    if (!key) {
      problems.push(`${name}: not a Ganymede setting (see README, "Configuration")`);
      continue;
    }
    setPath(raw, key, parseEnvValue(settableKeys.get(key)!, value));
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) if (value !== undefined) setPath(raw, key, value);

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const at = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') {
        for (const unknown of issue.keys) problems.push(`${at ? `${at}.` : ''}${unknown}: unknown key`);
      } else {
        problems.push(`${at || '(top level)'}: ${issue.message}`);
      }
    }
  }
  const config = parsed.success ? parsed.data : undefined;

  if (config) {
    config.site.name ??= hostname();
    for (const urlKey of ['mysql.url', 'centre.scratch_mysql_url', 'agent.source.url', 'mongodb.url', 'glassbeam.url', 'agent.inbox', 'archive.url', 'centre.inbox', 'feed.store']) {
      const value = getPath(config, urlKey);
      if (typeof value === 'string' && /^[a-z0-9+]+:\/\/[^/@\s]*:[^/@\s]*@/i.test(value)) {
        problems.push(`${urlKey}: contains a password; remove it from the URL and use the matching *_file key or environment variable`);
      }
    }
    if (config.centre.inbox !== undefined && config.centre.inbox_dir !== undefined) {
      problems.push('centre.inbox_dir: set together with centre.inbox; keep one (centre.inbox_dir is the same as centre.inbox file:///dir)');
    }
    if (/^[a-z0-9+]+:\/\/[^/@\s]*:[^/@\s]*@/i.test(config.api.url)) {
      problems.push('api.url: contains a password; remove it from the URL: agents and tools authenticate with their token (agent.token_file, api.admin_token_file)');
    }
    // fetch() refuses a URL with user info, so a login there would fail every alert besides sitting in the config in clear.
    if (config.alerts.webhook_url && /^[a-z0-9+.-]+:\/\/[^/?#\s]*@/i.test(config.alerts.webhook_url)) {
      problems.push('alerts.webhook_url: contains a login (user:password@), which URLs must not; give the URL without it; a receiver that needs a secret takes it in its path (as Slack and Teams do; logs show only the origin), and GANYMEDE_ALERTS_WEBHOOK_URL keeps such a URL out of the config file');
    }
    for (const key of secretKeys) {
      if (secretValues.has(key)) continue;
      const file = getPath(config, `${key}_file`);
      if (typeof file !== 'string' || !checkPrivateFile(`${key}_file`, file, problems)) continue;
      const value = readFileSync(file, 'utf8').trim();
      if (value === '') problems.push(`${key}_file: ${file} is empty`);
      else secretValues.set(key, { value, source: `file ${file}` });
    }
    for (const key of privateFileKeys) {
      const file = getPath(config, key);
      if (typeof file === 'string') checkPrivateFile(key, file, problems);
    }
  }
  for (const { value } of secretValues.values()) registerSecret(value);
  const leaseToken = env[leaseTokenEnv] || undefined;
  registerSecret(leaseToken);

  if (problems.length > 0 || !config) {
    throw configError(`the configuration has ${problems.length} problem${problems.length === 1 ? '' : 's'}${fileRead ? ` (${fileRead})` : ''}`, {
      details: problems,
      hint: 'fix them and run `ganymede config check`',
    });
  }
  return {
    config,
    path: fileRead,
    secret: (key) => secretValues.get(key)?.value,
    secretSource: (key) => secretValues.get(key)?.source,
    leaseToken,
  };
}

/** Fails with every missing key at once when a command needs settings the config lacks. */
export function requireSettings(loaded: LoadedConfig, keys: readonly string[], forWhat: string): void {
  const missing = keys.filter((key) => {
    const secret = secretKeys.find((candidate) => candidate === key);
    return secret ? loaded.secret(secret) === undefined : getPath(loaded.config, key) === undefined;
  });
  if (missing.length === 0) return;
  throw configError(`${forWhat} needs ${missing.length === 1 ? 'a setting' : 'settings'} the configuration lacks`, {
    details: missing.map((key) => {
      const secret = secretKeys.find((candidate) => candidate === key);
      return secret ? `${key}: set ${key}_file or ${envNameOf(key)}` : `${key}: not set (config file or ${envNameOf(key)})`;
    }),
    // Without a file, every setting looks "not set": say first that no file was read, and which one was looked for.
    hint: loaded.path
      ? `read ${loaded.path}; see README, "Configuration"`
      : `no config file was read (${defaultConfigPath} does not exist and neither --config nor GANYMEDE_CONFIG names one); see README, "Configuration"`,
  });
}

/** Directories with their defaults under site.data_dir. */
export function centreDirs(config: Config) {
  const base = config.site.data_dir;
  return {
    inbox: config.centre.inbox_dir ?? localInboxDir(config.centre.inbox) ?? join(base, 'inbox'),
    work: config.centre.work_dir ?? join(base, 'work'),
    quarantine: config.centre.quarantine_dir ?? join(base, 'quarantine'),
    logs: config.centre.log_dir ?? join(base, 'log'),
  };
}

/** The directory of a file:// centre.inbox, which is what centre.inbox_dir says; undefined for any other store. */
function localInboxDir(url: string | undefined): string | undefined {
  if (!url?.startsWith('file://')) return undefined;
  try {
    return fileURLToPath(url).replace(/(.)\/+$/, '$1');
  } catch {
    return undefined;
  }
}

export function agentWorkDir(config: Config): string {
  return config.agent.work_dir ?? join(config.site.data_dir, 'agent');
}
