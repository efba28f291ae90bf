// OpenStack Swift, Rackspace Cloud Files among them: the archive's object store, over plain fetch().
//
// No `.part` dance here: a Swift object PUT is atomic by nature (readers see the old object until the new
// one is whole, and a PUT that breaks off leaves nothing), and so is the manifest PUT that makes a Static
// Large Object out of its segments. Every PUT carries the MD5 of its body as ETag, so the server refuses
// (422) what did not arrive intact; the MD5 comes from a first pass over the source (see object-parts.ts).
// Files over segment_bytes (5 GiB by default, Swift's limit for one object) go up as segments in the
// container `<container>_segments`, as the swift client does, plus a manifest with each segment's MD5.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { failedError, unreachableError } from '../errors.js';
import { changedSourceError, digestForUpload, hexOf, PartReader, requestBody, type SourceDigest } from './object-parts.js';
import { authenticate, type SwiftSession } from './swift-auth.js';
import { describeSwift, type SwiftLocation } from './swift-config.js';
import { causeCode, networkError, send, statusError } from './swift-http.js';
import {
  checkName,
  checkPrefix,
  CountedSource,
  isPartName,
  quietly,
  type PutOptions,
  type PutResult,
  type PutSource,
  type Transport,
  type TransportEntry,
  type TransportStat,
} from './transport.js';

export interface SwiftTransportOptions extends Omit<SwiftLocation, 'scheme'> {
  /** The key (v1), password or API key (v2); never shown in a message. */
  secret: string;
}

// A token this close to its end is renewed before use rather than let expire half way through a PUT.
const tokenMarginMs = 5 * 60_000;
const listPageSize = 10_000;
// Swift's default max_manifest_segments, and Cloud Files' limit.
const maxSegments = 1_000;
const octetStream = 'application/octet-stream';

/** A segment as `?multipart-manifest=get` lists it: `name` is `/container/object`. */
interface ManifestSegment {
  name: string;
}

export class SwiftTransport implements Transport {
  private session: SwiftSession | undefined;
  private loggingIn: Promise<SwiftSession> | undefined;
  private readonly containers = new Map<string, Promise<void>>();

  constructor(private readonly options: SwiftTransportOptions) {}

  describe(): string {
    return describeSwift(this.options);
  }

  /**
   * Reads the source twice: once for the MD5s, once to send. It must give the same bytes both times
   * (a file does); if it does not, the store's MD5 check refuses the upload and nothing is stored.
   */
  async put(name: string, source: PutSource, options?: PutOptions): Promise<PutResult> {
    const objectName = this.objectName(checkName(name));
    const digest = await digestForUpload(
      source,
      { address: this.describe(), name, partBytes: this.options.segmentBytes, maxParts: maxSegments, partsWord: 'segments', setting: 'segment_bytes' },
      options,
    );
    await this.ensureContainer(this.options.container);
    const oldSegments = await this.segmentsOf(objectName, `look up ${name}`);
    const reader = new PartReader(new CountedSource(source), digest.size);
    try {
      if (digest.parts.length <= 1) await this.upload(this.pathOf(this.options.container, objectName), reader, digest.size, hexOf(digest.md5), name, `store ${name}`);
      else await this.putLargeObject(objectName, reader, digest, name);
    } catch (error) {
      if (reader.counted.sourceError !== undefined) throw reader.counted.sourceError;
      throw error;
    } finally {
      await reader.close();
    }
    // The new manifest names new segments; the ones of the object it replaced are nobody's now.
    if (oldSegments.length > 0) await quietly(() => this.deleteSegments(oldSegments));
    return { size: digest.size };
  }

  async stat(name: string): Promise<TransportStat | undefined> {
    checkName(name);
    const response = await this.call('HEAD', this.pathOf(this.options.container, this.objectName(name)), `look up ${name}`);
    if (response.status === 404) return undefined;
    if (!response.ok) throw await statusError(response, this.describe(), `look up ${name}`);
    return { size: Number(response.headers.get('content-length') ?? 0), modifiedAt: modifiedAtOf(response.headers) };
  }

  async list(prefix = ''): Promise<TransportEntry[]> {
    checkPrefix(prefix);
    const root = this.options.prefix ? `${this.options.prefix}/` : '';
    const entries: TransportEntry[] = [];
    for (let marker = ''; ; ) {
      const query = new URLSearchParams({ format: 'json', limit: String(listPageSize), prefix: root + prefix, marker });
      const response = await this.call('GET', `${encodeURIComponent(this.options.container)}?${query}`, prefix ? `list ${prefix}` : 'list');
      if (response.status === 404) return [];
      if (!response.ok) throw await statusError(response, this.describe(), prefix ? `list ${prefix}` : 'list');
      const page = (await response.json()) as Array<{ name: string; bytes: number; last_modified: string }>;
      for (const object of page) {
        const name = object.name.slice(root.length);
        // Swift's listing times are UTC without a zone.
        if (!isPartName(name)) entries.push({ name, size: object.bytes, modifiedAt: new Date(`${object.last_modified}Z`) });
      }
      if (page.length < listPageSize) break;
      marker = page.at(-1)!.name;
    }
    // Swift sorts by UTF-8 bytes; the other transports sort as JavaScript compares strings.
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async get(name: string): Promise<Readable> {
    checkName(name);
    const response = await this.call('GET', this.pathOf(this.options.container, this.objectName(name)), `read ${name}`);
    if (response.status === 404) {
      await response.arrayBuffer();
      throw failedError(`${this.describe()}: there is no ${name} to read`, 'check the name, or whether it was removed');
    }
    if (!response.ok) throw await statusError(response, this.describe(), `read ${name}`);
    return response.body ? Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>) : Readable.from([]);
  }

  async remove(name: string): Promise<void> {
    const path = this.pathOf(this.options.container, this.objectName(checkName(name)));
    const head = await this.call('HEAD', path, `remove ${name}`);
    if (head.status === 404) return;
    if (!head.ok) throw await statusError(head, this.describe(), `remove ${name}`);
    // A plain DELETE of a Static Large Object would leave its segments behind.
    const isLarge = head.headers.get('x-static-large-object')?.toLowerCase() === 'true';
    const response = await this.call('DELETE', isLarge ? `${path}?multipart-manifest=delete` : path, `remove ${name}`, { headers: { Accept: 'application/json' } });
    if (response.status === 404) return;
    if (!response.ok) throw await statusError(response, this.describe(), `remove ${name}`);
    if (!isLarge) return void (await response.arrayBuffer());
    // The bulk-delete answer is 200 even when a part failed; its body tells.
    const result = (await response.json().catch(() => ({}))) as { 'Response Status'?: string; Errors?: unknown[][] };
    if (result.Errors?.length) {
      throw failedError(`${this.describe()}: could not remove ${name}: ${result['Response Status'] ?? ''} ${result.Errors.map((entry) => entry.join(' ')).join('; ')}`.trim());
    }
  }

  /**
   * A copy Swift makes (X-Copy-From), within one account: both logins must lead to the same storage URL.
   * A Static Large Object (a large pre-signed upload) is copied as its content, never as its manifest: a
   * copied manifest would still name the source's segments, which go when the source goes (and which a GEO
   * holding their upload URLs could rewrite). One request copies at most segment_bytes: Swift copies no more
   * than max_file_size (5 GiB by default) at once and answers only when it is done, which fetch waits for
   * 5 minutes at most. Past it each range of segment_bytes is copied (X-Copy-From with Range) into
   * `<container>_segments`, as put() stores segments, and a manifest of those is put.
   */
  async copyFrom(source: Transport, sourceName: string, name: string): Promise<PutResult | undefined> {
    const origin = source.unwrap?.() ?? source;
    if (!(origin instanceof SwiftTransport)) return undefined;
    checkName(sourceName);
    const objectName = this.objectName(checkName(name));
    const [here, there] = await Promise.all([this.currentSession(), origin.currentSession()]);
    if (here.storageUrl !== there.storageUrl) return undefined;
    const sourcePath = origin.pathOf(origin.options.container, origin.objectName(sourceName));
    const from = `${origin.describe()}/${sourceName}`;
    const head = await this.call('HEAD', sourcePath, `look up ${from}`);
    // Another user of the account, who may not read the source's container: each store's own login streams it.
    if (head.status === 403) return undefined;
    if (head.status === 404) throw failedError(`${origin.describe()}: there is no ${sourceName} to copy`, 'check the name, or whether it was removed');
    if (!head.ok) throw await statusError(head, this.describe(), `look up ${from}`);
    const size = Number(head.headers.get('content-length') ?? 0);
    // More segments than a manifest takes: put() refuses it too, and says to raise segment_bytes.
    if (Math.ceil(size / this.options.segmentBytes) > maxSegments) return undefined;
    await this.ensureContainer(this.options.container);
    const oldSegments = await this.segmentsOf(objectName, `look up ${name}`);
    if (size > this.options.segmentBytes) await this.copyRanges(sourcePath, objectName, size, from);
    else await this.copyObject(sourcePath, this.pathOf(this.options.container, objectName), `copy ${from} to ${name}`);
    if (oldSegments.length > 0) await quietly(() => this.deleteSegments(oldSegments));
    return { size };
  }

  async close(): Promise<void> {
    // fetch() keeps no session open; forget the token so a later use logs in afresh.
    this.session = undefined;
    this.containers.clear();
  }

  private async putLargeObject(objectName: string, reader: PartReader, digest: SourceDigest, name: string): Promise<void> {
    const segmentContainer = `${this.options.container}_segments`;
    await this.ensureContainer(segmentContainer);
    // Unique per upload, so a new version never overwrites the segments the current one still reads.
    const base = `${objectName}/slo/${Date.now()}-${randomBytes(4).toString('hex')}/${digest.size}/${this.options.segmentBytes}`;
    const manifest: Array<{ path: string; etag: string; size_bytes: number }> = [];
    try {
      for (const [index, part] of digest.parts.entries()) {
        const segmentName = `${base}/${String(index).padStart(8, '0')}`;
        manifest.push({ path: `/${segmentContainer}/${segmentName}`, etag: hexOf(part.md5), size_bytes: part.size });
        const action = `store segment ${index + 1} of ${digest.parts.length} of ${name}`;
        await this.upload(this.pathOf(segmentContainer, segmentName), reader, part.size, hexOf(part.md5), name, action);
      }
      // The large object's ETag is the MD5 of its segments' hex MD5s; sending it has the manifest checked too.
      const etag = createHash('md5').update(manifest.map((segment) => segment.etag).join('')).digest('hex');
      const response = await this.call('PUT', `${this.pathOf(this.options.container, objectName)}?multipart-manifest=put`, `store the manifest of ${name}`, {
        headers: { 'Content-Type': octetStream, ETag: etag },
        body: JSON.stringify(manifest),
      });
      if (!response.ok) throw await statusError(response, this.describe(), `store the manifest of ${name}`);
      await response.arrayBuffer();
    } catch (error) {
      await quietly(() => this.deleteSegments(manifest.map((segment) => segment.path)));
      throw error;
    }
  }

  /** Each range of segment_bytes of the source copied into a segment, then a manifest of them. */
  private async copyRanges(sourcePath: string, objectName: string, size: number, from: string): Promise<void> {
    const segmentBytes = this.options.segmentBytes;
    const segmentContainer = `${this.options.container}_segments`;
    await this.ensureContainer(segmentContainer);
    const base = `${objectName}/slo/${Date.now()}-${randomBytes(4).toString('hex')}/${size}/${segmentBytes}`;
    const count = Math.ceil(size / segmentBytes);
    const manifest: Array<{ path: string; etag: string; size_bytes: number }> = [];
    try {
      for (let index = 0; index < count; index++) {
        const segmentName = `${base}/${String(index).padStart(8, '0')}`;
        const first = index * segmentBytes;
        const last = Math.min(first + segmentBytes, size) - 1;
        // Listed before the copy: one whose answer was lost is removed with the rest on failure.
        const entry = { path: `/${segmentContainer}/${segmentName}`, etag: '', size_bytes: last - first + 1 };
        manifest.push(entry);
        const action = `copy segment ${index + 1} of ${count} of ${from}`;
        entry.etag = await this.copyObject(sourcePath, this.pathOf(segmentContainer, segmentName), action, `bytes=${first}-${last}`);
      }
      // The large object's ETag is the MD5 of its segments' hex MD5s; sending it has the manifest checked too.
      const etag = createHash('md5').update(manifest.map((segment) => segment.etag).join('')).digest('hex');
      const response = await this.call('PUT', `${this.pathOf(this.options.container, objectName)}?multipart-manifest=put`, `store the manifest of the copy of ${from}`, {
        headers: { 'Content-Type': octetStream, ETag: etag },
        body: JSON.stringify(manifest),
      });
      if (!response.ok) throw await statusError(response, this.describe(), `store the manifest of the copy of ${from}`);
      await response.arrayBuffer();
    } catch (error) {
      await quietly(() => this.deleteSegments(manifest.map((segment) => segment.path)));
      throw error;
    }
  }

  /**
   * PUT with X-Copy-From (and Range, for a part): the proxy reads the source and writes the target. The
   * answer's ETag is the MD5 of what was written.
   */
  private async copyObject(sourcePath: string, targetPath: string, action: string, range?: string): Promise<string> {
    const headers: Record<string, string> = { 'X-Copy-From': `/${sourcePath}`, ...(range ? { Range: range } : {}) };
    const response = await this.call('PUT', targetPath, action, { headers, body: '' });
    if (!response.ok) throw await statusError(response, this.describe(), action);
    await response.arrayBuffer();
    return (response.headers.get('etag') ?? '').replace(/"/g, '');
  }

  /** The segments a Static Large Object's manifest lists (`?multipart-manifest=get`). */
  private async manifestOf(path: string, what: string): Promise<ManifestSegment[]> {
    const response = await this.call('GET', `${path}?multipart-manifest=get`, `read the manifest of ${what}`);
    if (!response.ok) throw await statusError(response, this.describe(), `read the manifest of ${what}`);
    // Replaced by a plain object since the HEAD: its content is no manifest, and is not read here.
    if (response.headers.get('x-static-large-object')?.toLowerCase() !== 'true') {
      await response.body?.cancel();
      return [];
    }
    return (await response.json()) as ManifestSegment[];
  }

  /** One streamed PUT of the reader's next `size` bytes, with their MD5 as ETag for the server to check. */
  private async upload(path: string, reader: PartReader, size: number, etag: string, name: string, action: string): Promise<void> {
    const session = await this.currentSession();
    let response: Response;
    try {
      response = await fetch(`${session.storageUrl}/${path}`, {
        method: 'PUT',
        headers: { 'X-Auth-Token': session.token, 'Content-Length': String(size), 'Content-Type': octetStream, ETag: etag },
        body: requestBody(reader.part(size)),
        duplex: 'half',
      } as RequestInit);
    } catch (error) {
      // Fewer bytes than the first pass counted: the request breaks off before the server has the whole object.
      if (reader.short || causeCode(error) === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') throw changedSourceError(this.describe(), name, reader.expectedBytes, reader.counted.bytes);
      throw networkError(error, this.describe(), action);
    }
    if (response.status === 401) {
      await response.arrayBuffer();
      this.forget(session);
      throw unreachableError(`${this.describe()}: could not ${action}: the token expired during the upload`, 'it is retried with a new token');
    }
    if (!response.ok) throw await statusError(response, this.describe(), action);
    await response.arrayBuffer();
  }

  /** The segments of `objectName` when it is a Static Large Object, as `/container/name` paths. */
  private async segmentsOf(objectName: string, action: string): Promise<string[]> {
    const path = this.pathOf(this.options.container, objectName);
    const head = await this.call('HEAD', path, action);
    if (head.status === 404 || (head.ok && head.headers.get('x-static-large-object')?.toLowerCase() !== 'true')) return [];
    if (!head.ok) throw await statusError(head, this.describe(), action);
    return (await this.manifestOf(path, objectName)).map((segment) => segment.name);
  }

  private async deleteSegments(paths: string[]): Promise<void> {
    for (const segment of paths) {
      const [container = '', ...rest] = segment.replace(/^\//, '').split('/');
      const response = await this.call('DELETE', this.pathOf(container, rest.join('/')), 'remove a segment');
      await response.arrayBuffer();
    }
  }

  /** Creates the container on first use; one that exists is left as it is (its ACLs, its policy). */
  private ensureContainer(container: string): Promise<void> {
    let ready = this.containers.get(container);
    if (!ready) {
      ready = (async () => {
        const path = encodeURIComponent(container);
        const head = await this.call('HEAD', path, `look up container ${container}`);
        if (head.ok) return;
        if (head.status !== 404) throw await statusError(head, this.describe(), `look up container ${container}`);
        const created = await this.call('PUT', path, `create container ${container}`);
        if (!created.ok) throw await statusError(created, this.describe(), `create container ${container}`);
        await created.arrayBuffer();
      })();
      this.containers.set(container, ready);
      ready.catch(() => this.containers.delete(container));
    }
    return ready;
  }

  /** A request without a streamed body: on a 401 the token is renewed and the request sent once more. */
  private async call(method: string, path: string, action: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      const session = await this.currentSession();
      const response = await send(this.describe(), action, `${session.storageUrl}/${path}`, {
        method,
        headers: { ...init.headers, 'X-Auth-Token': session.token },
        body: init.body,
      });
      if (response.status !== 401 || attempt > 1) return response;
      await response.arrayBuffer();
      this.forget(session);
    }
  }

  private async currentSession(): Promise<SwiftSession> {
    const session = this.session;
    if (session && (session.expiresAtMs === undefined || session.expiresAtMs - tokenMarginMs > Date.now())) return session;
    // Parallel puts share one login.
    this.loggingIn ??= authenticate(this.options, this.options.secret)
      .then((fresh) => (this.session = fresh))
      .finally(() => (this.loggingIn = undefined));
    return this.loggingIn;
  }

  private forget(session: SwiftSession): void {
    if (this.session === session) this.session = undefined;
  }

  private objectName(name: string): string {
    return this.options.prefix ? `${this.options.prefix}/${name}` : name;
  }

  private pathOf(container: string, objectName: string): string {
    return [container, ...objectName.split('/')].map(encodeURIComponent).join('/');
  }
}

function modifiedAtOf(headers: Headers): Date {
  // X-Timestamp has sub-second precision; Last-Modified only seconds.
  const timestamp = Number(headers.get('x-timestamp'));
  if (Number.isFinite(timestamp) && timestamp > 0) return new Date(timestamp * 1000);
  return new Date(headers.get('last-modified') ?? 0);
}
