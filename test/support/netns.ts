// Network namespaces for the cluster test: each central host its own namespace, joined to the root namespace by
// a veth pair with link-local addresses (169.254.x.y/30) the rig chose itself and checked were unused. The shared
// servers stay on 127.0.0.1 in the root namespace; a TCP relay in the test process listens on each pair's root
// end and forwards to them, so taking one pair down cuts that host off from everything (silently: no reset, as a
// pulled cable). Only the addresses of namespaces made here are ever used; remove() deletes them all, even after a
// failure (a leftover namespace or link is also removed by name on the next `ip netns del`).
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';

export interface Relay {
  /** The port on the pair's root address that forwards to the target. */
  port: number;
  close(): void;
}

export interface NetnsHost {
  /** The namespace's name, unique per run (it carries the pid). */
  name: string;
  /** The root namespace's end of the pair: where this host reaches the relays. */
  rootAddress: string;
  /** The namespace's own end. */
  hostAddress: string;
  /** The command prefix that runs a program inside the namespace. */
  exec(command: string[]): string[];
  /** A relay on rootAddress to 127.0.0.1:targetPort (one per target; the same again is the same relay). */
  relay(targetPort: number): Promise<Relay>;
  /** Takes the pair's root end down: every connection of the host hangs, new ones fail. */
  cut(): void;
  restore(): void;
  /** The pids of every process running inside the namespace. */
  pids(): number[];
}

export interface NetnsRig {
  hosts: NetnsHost[];
  /** Closes the relays, kills what still runs in the namespaces, deletes links and namespaces. */
  remove(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Why namespaces cannot be made here (not root, no `ip`, or the kernel refuses), or undefined when they can. */
export function namespacesUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  const probe = `gmdprobe${process.pid}`;
  const added = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (added.error) return `\`ip\` cannot be run (${added.error.message}); install iproute2`;
  if (added.status !== 0) return `\`ip netns add\` failed: ${added.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

/** A third octet of 169.254.x.0 with no address of this machine in it, so no pair of another rig or system is touched. */
function freeLinkLocalOctet(): number {
  const used = new Set([...ip('-o', '-4', 'addr', 'show').matchAll(/inet 169\.254\.(\d+)\./g)].map((match) => Number(match[1])));
  for (let offset = 0; offset < 200; offset++) {
    const octet = 20 + ((process.pid + offset) % 200);
    if (!used.has(octet)) return octet;
  }
  throw new Error('test rig: no free 169.254.x.0/24 for the namespaces');
}

/** `count` namespaces, each with a veth pair to the root namespace and its loopback up. */
export function createNetns(count: number): NetnsRig {
  const octet = freeLinkLocalOctet();
  const made: Array<{ ns?: string; link?: string }> = [];
  const relays: Relay[] = [];
  const remove = () => {
    process.off('exit', remove);
    for (const relay of relays) relay.close();
    for (const { ns, link } of made.splice(0).reverse()) {
      if (ns) {
        for (const pid of listPids(ns)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      // Deleting either end of a veth pair deletes both; the namespace goes once nothing runs in it.
      if (link) spawnSync('ip', ['link', 'del', link]);
      if (ns) spawnSync('ip', ['netns', 'del', ns]);
    }
  };
  // A test process that exits without after() (--test-force-exit, an uncaught error) must not leave namespaces.
  process.once('exit', remove);
  try {
    const hosts = Array.from({ length: count }, (_, index) => {
      const name = `gmd${process.pid}h${index}`;
      const rootLink = `gv${process.pid}r${index}`;
      const hostLink = `gv${process.pid}h${index}`;
      const rootAddress = `169.254.${octet}.${index * 4 + 1}`;
      const hostAddress = `169.254.${octet}.${index * 4 + 2}`;
      ip('netns', 'add', name);
      made.push({ ns: name });
      ip('link', 'add', rootLink, 'type', 'veth', 'peer', 'name', hostLink);
      made.push({ link: rootLink });
      ip('link', 'set', hostLink, 'netns', name);
      ip('addr', 'add', `${rootAddress}/30`, 'dev', rootLink);
      ip('link', 'set', rootLink, 'up');
      ip('netns', 'exec', name, 'ip', 'addr', 'add', `${hostAddress}/30`, 'dev', hostLink);
      ip('netns', 'exec', name, 'ip', 'link', 'set', hostLink, 'up');
      ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
      const own = new Map<number, Promise<Relay>>();
      const host: NetnsHost = {
        name,
        rootAddress,
        hostAddress,
        exec: (command) => ['ip', 'netns', 'exec', name, ...command],
        relay(targetPort) {
          let relay = own.get(targetPort);
          if (!relay) {
            relay = startRelay(rootAddress, targetPort).then((started) => (relays.push(started), started));
            own.set(targetPort, relay);
          }
          return relay;
        },
        cut: () => void ip('link', 'set', rootLink, 'down'),
        restore: () => void ip('link', 'set', rootLink, 'up'),
        pids: () => listPids(name),
      };
      return host;
    });
    return { hosts, remove };
  } catch (error) {
    remove();
    throw error;
  }
}

function listPids(ns: string): number[] {
  const listed = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  return listed.status === 0 ? listed.stdout.split(/\s+/).filter(Boolean).map(Number) : [];
}

/** A plain TCP relay: each connection on address:<port> is piped to 127.0.0.1:targetPort. */
export function startRelay(address: string, targetPort: number): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const target = net.connect(targetPort, '127.0.0.1');
    for (const socket of [client, target]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => (client.destroy(), target.destroy()));
    }
    client.pipe(target);
    target.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => {
      server.unref();
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () => {
          server.close();
          for (const socket of sockets) socket.destroy();
        },
      });
    });
  });
}

/** Pids of live processes whose command line holds `marker` (a host's config path): a host's processes without namespaces. */
export function pidsWithArgument(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(marker)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}
