// The config files of the rig's one-node Swift. Every server runs with workers = 0 (one process, no fork),
// so stopping it is one kill by pid; swift_dir points each at this rig's own swift.conf and rings.
import path from 'node:path';

export interface SwiftConfigInput {
  dir: string;
  /** The user the servers run as (they "drop privileges" to it, even as root). */
  user: string;
  memcachedPort: number;
  accountPort: number;
  containerPort: number;
  objectPort: number;
  proxyPort: number;
  account: string;
  tempauthUser: string;
  key: string;
}

/** File name → contents, all written into `dir`. */
export function swiftConfigs(input: SwiftConfigInput): Record<string, string> {
  const common = (port: number) => [
    '[DEFAULT]',
    'bind_ip = 127.0.0.1',
    `bind_port = ${port}`,
    'workers = 0',
    `user = ${input.user}`,
    `swift_dir = ${input.dir}`,
    `devices = ${path.join(input.dir, 'devices')}`,
    // The device dir is a plain directory, not a mount point.
    'mount_check = false',
    // Swift tries a taken port for 30 s by default; the rig would rather pick other ports at once.
    'bind_timeout = 2',
    'log_level = WARNING',
    '',
  ];
  const backend = (name: string, port: number) =>
    [...common(port), '[pipeline:main]', `pipeline = ${name}-server`, '', `[app:${name}-server]`, `use = egg:swift#${name}`, ''].join('\n');
  return {
    'swift.conf': [
      '[swift-hash]',
      'swift_hash_path_suffix = ganymede-test-rig',
      'swift_hash_path_prefix = ganymede-test-rig',
      '',
      '[storage-policy:0]',
      'name = Policy-0',
      'default = yes',
      '',
    ].join('\n'),
    'account-server.conf': backend('account', input.accountPort),
    'container-server.conf': backend('container', input.containerPort),
    // An object PUT or DELETE updates the container's listing from the object server, which waits 1 s for it
    // and gives up on the container server after 0.5 s to connect or 3 s to answer, leaving the update to an
    // object-updater the rig does not run. On two cores shared with a second suite that happened: the
    // listing missed an object for good. Here the update is waited for, as a healthy cluster's listing is.
    'object-server.conf': backend('object', input.objectPort).replace(
      '[pipeline:main]',
      ['container_update_timeout = 60', 'conn_timeout = 10', 'node_timeout = 60', '', '[pipeline:main]'].join('\n'),
    ),
    'proxy-server.conf': [
      ...common(input.proxyPort),
      '[pipeline:main]',
      // tempurl and s3api before the auth middleware (each authorizes its own signed requests); slo after it,
      // for S3 multipart uploads and Static Large Objects.
      'pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats tempurl s3api tempauth copy slo dlo proxy-logging proxy-server',
      '',
      '[app:proxy-server]',
      'use = egg:swift#proxy',
      'account_autocreate = true',
      // One node and nothing to fail over to: never shun it after errors (e.g. while a test stops a server).
      'error_suppression_limit = 1000000',
      '',
      '[filter:tempauth]',
      'use = egg:swift#tempauth',
      `user_${input.account}_${input.tempauthUser} = ${input.key} .admin`,
      '',
      '[filter:cache]',
      'use = egg:swift#memcache',
      `memcache_servers = 127.0.0.1:${input.memcachedPort}`,
      '',
      '[filter:s3api]',
      'use = egg:swift#s3api',
      'location = us-east-1',
      '',
      ...['catch_errors', 'gatekeeper', 'healthcheck', 'proxy-logging', 'listing_formats', 'tempurl', 'copy', 'slo', 'dlo'].flatMap((name) => [
        `[filter:${name}]`,
        `use = egg:swift#${name.replace('-', '_')}`,
        '',
      ]),
    ].join('\n'),
  };
}
