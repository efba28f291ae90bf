// A TCP relay in front of the rig's Swift that counts the bytes each way: the store's own address for the
// tests of a server-side copy, which must show that a file's bytes did not pass through the client.
// Swift's tempauth builds the storage URL from the Host a login came to, so a client that logs in through
// the relay sends everything after through it too.
import net from 'node:net';

export interface CountingProxy {
  /** `http://127.0.0.1:<port>`: the store's proxy, through the relay. */
  url: string;
  /** Bytes the clients sent to the store (request lines, headers and bodies) since the last reset. */
  sent(): number;
  /** Bytes the store sent back since the last reset. */
  received(): number;
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const { hostname, port } = new URL(target);
  let sent = 0;
  let received = 0;
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const server = net.connect(Number(port), hostname);
    for (const socket of [client, server]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      received += chunk.length;
      client.write(chunk);
    });
    client.on('end', () => server.end());
    server.on('end', () => client.end());
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`,
    sent: () => sent,
    received: () => received,
    reset: () => {
      sent = 0;
      received = 0;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => relay.close(resolve));
    },
  };
}
