// Pre-signed uploads into the centre's object-store inbox, for the API: no GEO holds a store credential;
// the API signs, for one open transaction, a PUT of exactly that GEO's delivery object (a Swift TempURL or
// an S3 pre-signed PUT; Swift segments past its single-PUT limit), and joins and checks it when the agent
// says it is uploaded. The store's own credential and the Temp-URL-Key stay on the centre's hosts.
import type { LoadedConfig } from '../config/load.js';
import { openTransport } from '../transport/location.js';
import type { S3Transport } from '../transport/s3.js';
import { inboxLocation, inboxUrl } from './store.js';
import type { UploadPlan } from './upload-plan.js';

export interface UploadedFile {
  name: string;
  size: number;
  sha256: string;
}

export interface InboxUploads {
  /** The largest file this store takes through pre-signed uploads. */
  readonly maxBytes: number;
  /** Why uploads cannot be signed here (a setting missing), to tell the agent; undefined when they can. */
  readonly unavailable: string | undefined;
  plan(objectName: string, file: UploadedFile): Promise<UploadPlan>;
  /** After the agent's PUTs: joins segments into the object and checks it is there, whole (refused otherwise). */
  complete(objectName: string, file: UploadedFile): Promise<void>;
}

/**
 * The uploads of centre.inbox when it is swift:// or s3://, undefined for any other inbox. Connects to
 * nothing yet; a missing store credential is a config error now, at the API's start.
 */
export async function openInboxUploads(loaded: LoadedConfig): Promise<InboxUploads | undefined> {
  const location = inboxLocation(loaded);
  if (location.scheme !== 'swift' && location.scheme !== 's3') return undefined;
  const { centre } = loaded.config;
  const secret = loaded.secret('centre.inbox_secret');
  // The same checks and messages as the transports' (the secret file, the access key id).
  const transport = await openTransport(inboxUrl(loaded), { secret, accessKeyId: centre.inbox_access_key_id });
  const ttlMs = centre.inbox_upload_ttl_ms;
  if (location.scheme === 's3') {
    const { S3InboxUploads } = await import('./s3-uploads.js');
    return new S3InboxUploads(location, transport as S3Transport, { accessKeyId: (location.accessKeyId ?? centre.inbox_access_key_id)!, secret: secret!, ttlMs });
  }
  const tempUrlKey = loaded.secret('centre.inbox_temp_url_key');
  const { SwiftInboxUploads } = await import('./swift-uploads.js');
  return new SwiftInboxUploads(location, transport, { secret: secret!.replace(/[\r\n]+$/, ''), tempUrlKey, digest: centre.inbox_temp_url_digest, ttlMs });
}
