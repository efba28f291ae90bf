// A host-wide lock held by a listening Unix socket in Linux's abstract namespace: the kernel frees it
// the moment the holder dies (kill -9, OOM, reboot), so there is no stale lock file to clean up and no
// race between two runs deciding a lock is stale. Cron runs of the same job on one host take it.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { alreadyRunning } from './errors.js';

export interface HostLock {
  release(): Promise<void>;
}

function socketName(name: string, scope: string): string {
  const digest = createHash('sha256').update(`${name}\0${scope}`).digest('hex').slice(0, 32);
  return `\0ganymede-${name}-${digest}`;
}

/**
 * Takes the lock `name` (scoped, e.g. by work dir, so two installations on one host do not block each
 * other) or throws the "already running" error. The lock never keeps the process alive.
 */
export async function acquireHostLock(name: string, scope: string, what: string): Promise<HostLock> {
  const server: Server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? alreadyRunning(`${what} is already running on this host; this run does nothing`) : error);
    });
    server.listen(socketName(name, scope), () => resolve());
  });
  server.unref();
  return {
    release: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
