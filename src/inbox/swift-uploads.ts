// Pre-signed uploads into a swift:// inbox. A file up to segment_bytes is one TempURL PUT of its object.
// A larger one goes up as segments, each with its own TempURL, into `<container>_segments` (where the
// Swift transport keeps them too), and the API then PUTs the Static Large Object manifest itself: the
// tempurl middleware drops every query parameter but its own, so `?multipart-manifest=put` cannot travel
// in a TempURL (a manifest PUT through one stores the JSON as a plain object).
//
// Segment names follow from the delivery (object, sha256, size, segment size): asking again gives the same
// names with fresh signatures, so an agent whose URLs expired half way carries on where it was.
import { refusedError } from '../errors.js';
import { authenticate, type SwiftSession } from '../transport/swift-auth.js';
import { describeSwift, type SwiftLocation } from '../transport/swift-config.js';
import { send, statusError } from '../transport/swift-http.js';
import { tempUrl, type TempUrlDigest } from '../transport/swift-tempurl.js';
import type { Transport } from '../transport/transport.js';
import type { InboxUploads, UploadedFile } from './uploads.js';
import type { UploadPlan } from './upload-plan.js';

// Swift's default max_manifest_segments, and Cloud Files' limit (as the Swift transport).
const maxSegments = 1_000;

export interface SwiftUploadSettings {
  /** The store's key, password or API key: to log in for the storage URL and to write manifests. */
  secret: string;
  tempUrlKey: string | undefined;
  digest: TempUrlDigest;
  ttlMs: number;
}

export class SwiftInboxUploads implements InboxUploads {
  readonly maxBytes: number;
  readonly unavailable: string | undefined;
  private session: Promise<SwiftSession> | undefined;
  private containersReady: Promise<void> | undefined;

  constructor(
    private readonly location: SwiftLocation,
    /** The inbox as a transport: the same store, for stat(). */
    private readonly transport: Transport,
    private readonly settings: SwiftUploadSettings,
  ) {
    this.maxBytes = location.segmentBytes * maxSegments;
    this.unavailable = settings.tempUrlKey
      ? undefined
      : "the centre cannot sign uploads: centre.inbox is swift:// but centre.inbox_temp_url_key_file is not set on the API's host";
  }

  async plan(objectName: string, file: UploadedFile): Promise<UploadPlan> {
    const session = await this.login();
    await this.ensureContainers();
    const expiresAtS = Math.floor((Date.now() + this.settings.ttlMs) / 1000);
    const sign = (container: string, name: string) =>
      tempUrl({ storageUrl: session.storageUrl, container, objectName: name, method: 'PUT', expiresAtS, key: this.settings.tempUrlKey!, digest: this.settings.digest });
    const segments = this.segmentsOf(objectName, file);
    return {
      target: `${describeSwift(this.location)}/${objectName}`,
      expiresAt: new Date(expiresAtS * 1000).toISOString(),
      checksumHeader: 'etag',
      parts: segments.length === 0 ? [{ url: sign(this.location.container, this.fullName(objectName)), size: file.size }] : segments.map((segment) => ({ url: sign(this.segmentContainer(), segment.name), size: segment.size })),
    };
  }

  async complete(objectName: string, file: UploadedFile): Promise<void> {
    const segments = this.segmentsOf(objectName, file);
    if (segments.length > 0) await this.putManifest(objectName, segments);
    const stored = await this.transport.stat(objectName);
    if (!stored) throw refusedError(`${describeSwift(this.location)}: there is no ${objectName}: it was not uploaded`, 'upload it through the URLs the API handed out, then complete');
    if (stored.size !== file.size) throw refusedError(`${describeSwift(this.location)}: ${objectName} holds ${stored.size} bytes, not the ${file.size} announced`, 'upload it again');
  }

  /** The segments of a file past segment_bytes, none for one that fits a single PUT. */
  private segmentsOf(objectName: string, file: UploadedFile): Array<{ name: string; size: number }> {
    const segmentBytes = this.location.segmentBytes;
    if (file.size <= segmentBytes) return [];
    const base = `${this.fullName(objectName)}/${file.sha256}/${file.size}/${segmentBytes}`;
    const count = Math.ceil(file.size / segmentBytes);
    return Array.from({ length: count }, (_, index) => ({
      name: `${base}/${String(index).padStart(8, '0')}`,
      size: index < count - 1 ? segmentBytes : file.size - segmentBytes * (count - 1),
    }));
  }

  /** The manifest makes the object appear, whole, in one step; Swift checks every segment's size first. */
  private async putManifest(objectName: string, segments: Array<{ name: string; size: number }>): Promise<void> {
    const action = `join the ${segments.length} segments of ${objectName}`;
    const manifest = segments.map((segment) => ({ path: `/${this.segmentContainer()}/${segment.name}`, size_bytes: segment.size }));
    const response = await this.call('PUT', `${this.pathOf(this.location.container, this.fullName(objectName))}?multipart-manifest=put`, action, {
      headers: { 'Content-Type': 'application/octet-stream' },
      body: JSON.stringify(manifest),
    });
    if (response.ok) return void (await response.arrayBuffer());
    // Swift answers 400 naming each segment that is missing or of another size.
    if (response.status === 400) {
      const body = (await response.text().catch(() => '')).replace(/\s+/g, ' ').trim().slice(0, 300);
      throw refusedError(`${describeSwift(this.location)}: could not ${action}: ${body || 'HTTP 400'}`, 'upload every segment through the URLs the API handed out, then complete');
    }
    throw await statusError(response, describeSwift(this.location), action);
  }

  private ensureContainers(): Promise<void> {
    this.containersReady ??= (async () => {
      for (const container of [this.location.container, this.segmentContainer()]) {
        const head = await this.call('HEAD', encodeURIComponent(container), `look up container ${container}`);
        if (head.ok) continue;
        if (head.status !== 404) throw await statusError(head, describeSwift(this.location), `look up container ${container}`);
        const created = await this.call('PUT', encodeURIComponent(container), `create container ${container}`);
        if (!created.ok) throw await statusError(created, describeSwift(this.location), `create container ${container}`);
        await created.arrayBuffer();
      }
    })();
    this.containersReady.catch(() => (this.containersReady = undefined));
    return this.containersReady;
  }

  /** A request with the centre's token; an expired token is renewed once. */
  private async call(method: string, path: string, action: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      const session = await this.login();
      const response = await send(describeSwift(this.location), action, `${session.storageUrl}/${path}`, { method, headers: { ...init.headers, 'X-Auth-Token': session.token }, body: init.body });
      if (response.status !== 401 || attempt > 1) return response;
      await response.arrayBuffer();
      this.session = undefined;
    }
  }

  private login(): Promise<SwiftSession> {
    const current = this.session;
    if (current) {
      // A token near its end is renewed before it is used for a signature's storage URL or a manifest.
      return current.then((session) => (session.expiresAtMs !== undefined && session.expiresAtMs - 60_000 < Date.now() ? ((this.session = undefined), this.login()) : session));
    }
    const fresh = authenticate(this.location, this.settings.secret);
    this.session = fresh;
    fresh.catch(() => (this.session = undefined));
    return fresh;
  }

  private segmentContainer(): string {
    return `${this.location.container}_segments`;
  }

  private fullName(objectName: string): string {
    return this.location.prefix ? `${this.location.prefix}/${objectName}` : objectName;
  }

  private pathOf(container: string, name: string): string {
    return [container, ...name.split('/')].map(encodeURIComponent).join('/');
  }
}
