// The central hosts of the cluster test: each a config of its own (site.name, data dir) made from the centre
// fixture's, run in its own network namespace where the shared servers (MySQL, Swift, MongoDB, the API, the
// Glassbeam sshd) are reached through relays on the root end of its veth pair; or, without namespaces, on
// loopback as separate site dirs. Each host ticks in a loop as cron would, until stopped.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { Centre } from '../support/centre-fixture.js';
import { ganymedeBin, type CliRun } from '../support/cli.js';
import { writePrivateFile } from '../support/ganymede.js';
import { pidsWithArgument, type NetnsHost } from '../support/netns.js';

export interface ClusterHost {
  name: string;
  configPath: string;
  dataDir: string;
  namespace: NetnsHost | undefined;
  /** `ganymede --config <host's> …args`, inside the host's namespace when it has one. */
  run(args: string[], timeoutMs: number): Promise<CliRun>;
  /** Every process of this host: the namespace's, or those running with its config on loopback. */
  pids(): number[];
  /** Starts ticking in a loop (a pause between ticks, as cron's minute); each tick's result goes to onTick. */
  startTicking(onTick: (host: string, tick: CliRun, startedAtMs: number) => void): void;
  /** Ends the loop after the tick under way (or at once, with the tick killed, when `kill`). */
  stopTicking(kill?: boolean): Promise<void>;
}

const tickTimeoutMs = 60_000;
// Not shorter: three hosts each starting a tick process every 0.4 s kept both cores busy with ticks alone, and
// the workers they launched, starved, missed their leases (CI). A step waits at most this for the next tick.
const tickPauseMs = 1500;

/** Every 127.0.0.1:<port> of the config (also inside URL-encoded query values), through `namespace`'s relays. */
async function relayed(configText: string, namespace: NetnsHost): Promise<string> {
  const pattern = /127\.0\.0\.1(:|%3A)(\d+)/gi;
  const ports = [...new Set([...configText.matchAll(pattern)].map((match) => Number(match[2])))];
  const relays = new Map(await Promise.all(ports.map(async (port) => [port, (await namespace.relay(port)).port] as const)));
  return configText.replace(pattern, (_, colon: string, port: string) => `${namespace.rootAddress}${colon}${relays.get(Number(port))}`);
}

export async function makeHost(centre: Centre, name: string, namespace: NetnsHost | undefined): Promise<ClusterHost> {
  const text = readFileSync(centre.configPath, 'utf8');
  const config = JSON.parse(namespace ? await relayed(text, namespace) : text) as { site: Record<string, unknown>; api: Record<string, unknown> };
  const dataDir = join(centre.dir, name);
  config.site = { ...config.site, name, data_dir: dataDir };
  delete config.api.listen;
  const configPath = writePrivateFile(join(centre.dir, `${name}.json`), `${JSON.stringify(config, null, 2)}\n`);
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('GANYMEDE_'))), NO_COLOR: '1' };
  const run = async (args: string[], timeoutMs: number): Promise<CliRun> => {
    const command = [ganymedeBin, '--config', configPath, ...args];
    const [file, ...rest] = namespace ? namespace.exec(command) : command;
    const child = execa(file!, rest, { env, extendEnv: false, reject: false, timeout: timeoutMs, stdin: 'ignore' });
    current = child;
    const result = await child;
    return { code: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
  };
  let current: ReturnType<typeof execa> | undefined;
  let ticking = false;
  let loop: Promise<void> = Promise.resolve();
  return {
    name,
    configPath,
    dataDir,
    namespace,
    run,
    pids: () => (namespace ? namespace.pids() : pidsWithArgument(configPath)),
    startTicking(onTick) {
      ticking = true;
      loop = (async () => {
        while (ticking) {
          const startedAtMs = Date.now();
          onTick(name, await run(['jupiter', 'tick'], tickTimeoutMs), startedAtMs);
          if (ticking) await sleep(tickPauseMs);
        }
      })();
    },
    async stopTicking(kill = false) {
      ticking = false;
      if (kill) current?.kill('SIGKILL');
      await loop;
    },
  };
}
