// Small TCP helpers of the test rig: a free port for a server of our own, and a MySQL connection that
// breaks on cue (a proxy in front of the rig's server) for the tests of a source that fails mid-run.
import net from 'node:net';
import { testMysqlUrl } from './mysql.js';

export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface FaultyMysqlOptions {
  /** Cuts both sides once the server has sent more than this many bytes: a connection lost mid-result. */
  cutAfterServerBytes?: number;
  /** From the first client bytes holding this text on, nothing more reaches the server: a hung query. */
  swallowFrom?: string;
}

export interface FaultyMysql {
  port: number;
  /** Whether `swallowFrom` was seen, i.e. the connection now hangs. */
  swallowing(): boolean;
  /** From now on nothing passes either way on any connection, open or new: a link cut silently. */
  hang(): void;
  close(): void;
}

/** A proxy to the rig's MySQL that fails as told. */
export async function startFaultyMysql(options: FaultyMysqlOptions): Promise<FaultyMysql> {
  const target = new URL(testMysqlUrl);
  let swallowing = false;
  let hung = false;
  const proxy = net.createServer((client) => {
    if (hung) return;
    const server = net.connect(Number(target.port || 3306), target.hostname);
    let fromServer = 0;
    server.on('data', (chunk: Buffer) => {
      fromServer += chunk.length;
      if (options.cutAfterServerBytes !== undefined && fromServer > options.cutAfterServerBytes) {
        server.destroy();
        client.destroy();
      } else if (!hung) client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => {
      if (options.swallowFrom !== undefined && chunk.includes(options.swallowFrom)) swallowing = true;
      if (!swallowing && !hung) server.write(chunk);
    });
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
    client.on('close', () => server.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as net.AddressInfo).port,
    swallowing: () => swallowing,
    hang: () => {
      hung = true;
    },
    close: () => proxy.close(),
  };
}
