// The centre's inbox as a store: centre.inbox (file://, sftp://, swift://, s3://), or centre.inbox_dir as
// the local case. The one seam everything that reads or writes deliveries at the centre goes through:
// a delivery of GEO `emea` named `f` is the object `emea/f` (deliveryObjectName), whatever the store.
import { join } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import { openConfiguredStore, parseLocation, type Location } from '../transport/location.js';
import type { Transport } from '../transport/transport.js';

export { deliveryObjectName } from './delivery-name.js';

/** centre.inbox, else file://<centre.inbox_dir>, else file://<data_dir>/inbox. */
export function inboxUrl(loaded: LoadedConfig): string {
  const { centre, site } = loaded.config;
  if (centre.inbox !== undefined) return centre.inbox;
  return `file://${centre.inbox_dir ?? join(site.data_dir, 'inbox')}`;
}

/** The inbox's location, parsed (no I/O): which store, container or bucket, prefix. */
export function inboxLocation(loaded: LoadedConfig): Location {
  return parseLocation(inboxUrl(loaded));
}

/** Whether GEOs deliver into an object store (and the API can hand out pre-signed uploads). */
export function isObjectStoreInbox(loaded: LoadedConfig): boolean {
  const { scheme } = inboxLocation(loaded);
  return scheme === 'swift' || scheme === 's3';
}

/**
 * The inbox as a Transport, with transient failures retried: list() what GEOs delivered, stat() and get()
 * (a stream, never a full local copy) a delivery by its object name, remove() one. Opening connects to
 * nothing; a missing key or secret is a config error here, at once.
 */
export async function openInboxStore(loaded: LoadedConfig, log?: Logger): Promise<Transport> {
  const { centre, mysql } = loaded.config;
  return openConfiguredStore(
    inboxUrl(loaded),
    { keyFile: centre.inbox_key_file, hostKey: centre.inbox_host_key, secret: loaded.secret('centre.inbox_secret'), accessKeyId: centre.inbox_access_key_id, connectTimeoutMs: mysql.connect_timeout_ms },
    (line) => log?.warn(line),
  );
}
