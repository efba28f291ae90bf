// SFTP servers this host's config names, and their host keys: `config check` warns of each server whose key
// is not pinned (accepted whatever it is, so a man in the middle would be too), and `config pin-host-keys`
// fetches each one's key, shows its fingerprint and writes the pin into the config file once confirmed.
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import type { LoadedConfig } from '../../config/load.js';
import { configError, messageOf, unreachableError } from '../../errors.js';
import { fingerprintOfKey } from '../../transport/sftp.js';

export interface SftpTarget {
  /** The setting holding the server's URL, e.g. `glassbeam.url`. */
  urlKey: string;
  /** The setting its pin goes to, e.g. `glassbeam.host_key`. */
  pinKey: string;
  host: string;
  port: number;
  pinned: boolean;
}

const sftpSettings: Array<[urlKey: string, pinKey: string]> = [
  ['glassbeam.url', 'glassbeam.host_key'],
  ['agent.inbox', 'agent.inbox_host_key'],
  ['centre.inbox', 'centre.inbox_host_key'],
  ['feed.store', 'feed.store_host_key'],
  ['archive.url', 'archive.host_key'],
];

const valueAt = (config: object, key: string): unknown => key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], config);

export function sftpTargets(loaded: LoadedConfig): SftpTarget[] {
  return sftpSettings.flatMap(([urlKey, pinKey]) => {
    const url = valueAt(loaded.config, urlKey);
    if (typeof url !== 'string' || !url.startsWith('sftp://')) return [];
    const parsed = new URL(url);
    return [{ urlKey, pinKey, host: parsed.hostname, port: Number(parsed.port || 22), pinned: valueAt(loaded.config, pinKey) !== undefined }];
  });
}

/** The server's host key fingerprint, read in the handshake: the login is never attempted. */
export async function fetchHostKey(host: string, port: number, timeoutMs: number): Promise<string> {
  // Through ssh2-sftp-client (a dependency, left outside the bundle), which hands hostVerifier to ssh2.
  const { default: SftpClient } = await import('ssh2-sftp-client');
  const client = new SftpClient('ganymede-host-key');
  let fingerprint: string | undefined;
  try {
    await client.connect({
      host,
      port,
      username: 'ganymede-host-key-probe',
      readyTimeout: timeoutMs,
      retries: 0,
      // Refusing the key ends the handshake before any login: all that was wanted is the key.
      hostVerifier: (key: Buffer) => {
        fingerprint = fingerprintOfKey(key);
        return false;
      },
    });
  } catch (error) {
    if (!fingerprint) throw unreachableError(`cannot read the host key of ${host}:${port}: ${messageOf(error)}`, 'is the SFTP server up and reachable from here?');
  } finally {
    await client.end().catch(() => undefined);
  }
  if (!fingerprint) throw unreachableError(`${host}:${port} showed no host key`, 'is it an SSH server?');
  return fingerprint;
}

export interface PinPlan {
  configFile: string;
  pins: Array<{ pinKey: string; urlKey: string; address: string; fingerprint: string }>;
}

export async function planHostKeyPins(loaded: LoadedConfig, timeoutMs: number): Promise<PinPlan> {
  if (!loaded.path) throw configError('there is no config file to write the pins to', { hint: 'pass --config FILE, or set GANYMEDE_CONFIG' });
  const pins = [];
  for (const target of sftpTargets(loaded).filter((candidate) => !candidate.pinned)) {
    pins.push({ pinKey: target.pinKey, urlKey: target.urlKey, address: `${target.host}:${target.port}`, fingerprint: await fetchHostKey(target.host, target.port, timeoutMs) });
  }
  return { configFile: loaded.path, pins };
}

/** Writes the pins into the config file: the same JSON with the keys added, replaced in one rename, its mode kept. */
export function writeHostKeyPins(plan: PinPlan): void {
  const config = JSON.parse(readFileSync(plan.configFile, 'utf8')) as Record<string, unknown>;
  for (const pin of plan.pins) {
    const parts = pin.pinKey.split('.');
    let node = config;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts.at(-1)!] = pin.fingerprint;
  }
  const temporary = `${plan.configFile}.pinning`;
  writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: statSync(plan.configFile).mode & 0o777 });
  renameSync(temporary, plan.configFile);
}

export function describePinPlan(plan: PinPlan, written: boolean): string {
  if (plan.pins.length === 0) return 'every SFTP server of the configuration has its host key pinned; nothing to do';
  const lines = plan.pins.map((pin) => `${pin.pinKey}: ${pin.fingerprint}  (${pin.urlKey} ${pin.address})`);
  lines.push(written
    ? `pinned in ${plan.configFile}`
    : 'not written: compare each fingerprint with the server\'s own (ssh-keygen -l -f /etc/ssh/ssh_host_ed25519_key.pub there), then run again with --yes');
  return lines.join('\n');
}
