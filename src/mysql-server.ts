// Which server a connection talks to, read from its VERSION() text: MariaDB or MySQL, and the release.
// The load decides by it what a delivered table definition must become on the centre
// (definition-translation.ts), and the Ganymede database how an upsert names the row it inserts (state/upsert.ts).

export interface ServerIdentity {
  flavor: 'mariadb' | 'mysql';
  /** major, minor, patch */
  version: readonly [number, number, number];
  /** VERSION() as the server said it. */
  text: string;
}

/**
 * `10.11.6-MariaDB-0+deb12u1`, `5.5.5-10.11.6-MariaDB` (the prefix some proxies and old clients show),
 * `8.0.36`, `8.4.3-commercial`, or `mysql 8.0.36` / `mariadb 11.4.5` as tests write them. Anything without
 * "mariadb" in it is taken for MySQL (Percona Server and MySQL-compatible servers say only their MySQL version).
 */
export function parseServerVersion(text: string): ServerIdentity {
  const flavor = /mariadb/i.test(text) ? 'mariadb' : 'mysql';
  const numbers = /(\d+)\.(\d+)\.(\d+)/.exec(text.replace(/^5\.5\.5-/, ''));
  const version = numbers ? ([Number(numbers[1]), Number(numbers[2]), Number(numbers[3])] as const) : ([0, 0, 0] as const);
  return { flavor, version, text };
}

/** Whether the server is of `flavor` and at least `version` (`'10.10.1'`). */
export function isAtLeast(server: ServerIdentity, flavor: ServerIdentity['flavor'], version: string): boolean {
  if (server.flavor !== flavor) return false;
  const wanted = version.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const have = server.version[i]!;
    const want = wanted[i] ?? 0;
    if (have !== want) return have > want;
  }
  return true;
}

/** `MariaDB 10.11.19`, `MySQL 8.0.36`. */
export function describeServer(server: ServerIdentity): string {
  return `${server.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} ${server.version.join('.')}`;
}
