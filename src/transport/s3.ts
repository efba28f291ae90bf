// S3 and the S3-compatible stores, through @aws-sdk/client-s3.
//
// No `.part` dance here: a PUT, and the completion of a multipart upload, replace an object in one step;
// one that breaks off leaves nothing under the key. Every PUT and part carries Content-MD5 from a first pass
// over the source (see object-parts.ts), so the store refuses what did not arrive intact. The SDK does not
// retry (maxAttempts 1): retrying is the withRetry wrapper's, as for every transport.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { failedError } from '../errors.js';
import { base64Of, changedSourceError, digestForUpload, PartReader, type SourceDigest } from './object-parts.js';
import { describeS3, maxParts, type S3Location } from './s3-config.js';
import { isNotFound, s3Error } from './s3-errors.js';
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

export interface S3TransportOptions extends Omit<S3Location, 'scheme' | 'accessKeyId'> {
  accessKeyId: string;
  /** The secret access key; never shown in a message. */
  secret: string;
}

const octetStream = 'application/octet-stream';

export class S3Transport implements Transport {
  private client: S3Client | undefined;
  private bucketReady: Promise<void> | undefined;

  constructor(private readonly options: S3TransportOptions) {}

  describe(): string {
    return describeS3(this.options);
  }

  /**
   * Reads the source twice: once for the MD5s, once to send. It must give the same bytes both times
   * (a file does); if it does not, the store's MD5 check refuses the upload and nothing is stored.
   */
  async put(name: string, source: PutSource, options?: PutOptions): Promise<PutResult> {
    const key = this.keyOf(checkName(name));
    const digest = await digestForUpload(source, { address: this.describe(), name, partBytes: this.options.partBytes, maxParts, partsWord: 'parts', setting: 'part_bytes' }, options);
    await this.ensureBucket();
    const reader = new PartReader(new CountedSource(source), digest.size);
    try {
      if (digest.parts.length <= 1) {
        const body = bodyOf(reader, digest.size);
        await this.s3().send(
          new PutObjectCommand({ ...this.bucket(), Key: key, Body: body.stream, ContentLength: digest.size, ContentMD5: base64Of(digest.md5), ContentType: octetStream }),
          { abortSignal: body.signal },
        );
      } else {
        await this.putMultipart(key, reader, digest);
      }
    } catch (error) {
      if (reader.counted.sourceError !== undefined) throw reader.counted.sourceError;
      if (reader.short) throw changedSourceError(this.describe(), name, reader.expectedBytes, reader.counted.bytes);
      throw s3Error(error, this.describe(), `store ${name}`);
    } finally {
      await reader.close();
    }
    return { size: digest.size };
  }

  async stat(name: string): Promise<TransportStat | undefined> {
    const key = this.keyOf(checkName(name));
    try {
      const head = await this.s3().send(new HeadObjectCommand({ ...this.bucket(), Key: key }));
      return { size: head.ContentLength ?? 0, modifiedAt: head.LastModified ?? new Date(0) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw s3Error(error, this.describe(), `look up ${name}`);
    }
  }

  async list(prefix = ''): Promise<TransportEntry[]> {
    checkPrefix(prefix);
    const root = this.options.prefix ? `${this.options.prefix}/` : '';
    const entries: TransportEntry[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.s3().send(new ListObjectsV2Command({ ...this.bucket(), Prefix: root + prefix, ContinuationToken: token }));
      } catch (error) {
        if (isNotFound(error)) return [];
        throw s3Error(error, this.describe(), prefix ? `list ${prefix}` : 'list');
      }
      for (const object of page.Contents ?? []) {
        const name = (object.Key ?? '').slice(root.length);
        if (name && !isPartName(name)) entries.push({ name, size: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async get(name: string): Promise<Readable> {
    const key = this.keyOf(checkName(name));
    try {
      const object = await this.s3().send(new GetObjectCommand({ ...this.bucket(), Key: key }));
      // In Node the SDK's body is an http.IncomingMessage, a Readable.
      return object.Body instanceof Readable ? object.Body : Readable.from([]);
    } catch (error) {
      if (isNotFound(error)) throw failedError(`${this.describe()}: there is no ${name} to read`, 'check the name, or whether it was removed');
      throw s3Error(error, this.describe(), `read ${name}`);
    }
  }

  async remove(name: string): Promise<void> {
    const key = this.keyOf(checkName(name));
    try {
      // S3 answers 204 for a key that is not there, too.
      await this.s3().send(new DeleteObjectCommand({ ...this.bucket(), Key: key }));
    } catch (error) {
      if (isNotFound(error)) return;
      throw s3Error(error, this.describe(), `remove ${name}`);
    }
  }

  /**
   * A copy the store makes (CopyObject), when both stores are the same endpoint and region under the same
   * access key: that key reads the source as it writes here. Up to part_bytes one CopyObject (S3 copies at
   * most 5 GiB in one request); past it a multipart upload whose parts are ranges of the source
   * (UploadPartCopy), as put() sends parts.
   */
  async copyFrom(source: Transport, sourceName: string, name: string): Promise<PutResult | undefined> {
    const origin = source.unwrap?.() ?? source;
    if (!(origin instanceof S3Transport) || !this.sharesStoreWith(origin)) return undefined;
    const key = this.keyOf(checkName(name));
    const sourceKey = origin.keyOf(checkName(sourceName));
    const from = `${origin.describe()}/${sourceName}`;
    let size: number;
    try {
      size = (await this.s3().send(new HeadObjectCommand({ Bucket: origin.options.bucket, Key: sourceKey }))).ContentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) throw failedError(`${origin.describe()}: there is no ${sourceName} to copy`, 'check the name, or whether it was removed');
      throw s3Error(error, this.describe(), `look up ${from}`);
    }
    const partCount = Math.ceil(size / this.options.partBytes);
    if (partCount > maxParts) return undefined;
    // The key's `/`s stay: they separate nothing here but are what the key is.
    const copySource = `${origin.options.bucket}/${sourceKey.split('/').map(encodeURIComponent).join('/')}`;
    await this.ensureBucket();
    try {
      if (partCount <= 1) await this.s3().send(new CopyObjectCommand({ ...this.bucket(), Key: key, CopySource: copySource, ContentType: octetStream, MetadataDirective: 'REPLACE' }));
      else await this.copyMultipart(key, copySource, size);
    } catch (error) {
      throw s3Error(error, this.describe(), `copy ${from} to ${name}`);
    }
    return { size };
  }

  async close(): Promise<void> {
    this.client?.destroy();
    this.client = undefined;
    this.bucketReady = undefined;
  }

  private async putMultipart(key: string, reader: PartReader, digest: SourceDigest): Promise<void> {
    const created = await this.s3().send(new CreateMultipartUploadCommand({ ...this.bucket(), Key: key, ContentType: octetStream }));
    const upload = { ...this.bucket(), Key: key, UploadId: created.UploadId };
    try {
      const parts: Array<{ ETag: string | undefined; PartNumber: number }> = [];
      for (const [index, part] of digest.parts.entries()) {
        const body = bodyOf(reader, part.size);
        const uploaded = await this.s3().send(
          new UploadPartCommand({ ...upload, PartNumber: index + 1, Body: body.stream, ContentLength: part.size, ContentMD5: base64Of(part.md5) }),
          { abortSignal: body.signal },
        );
        parts.push({ ETag: uploaded.ETag, PartNumber: index + 1 });
      }
      await this.s3().send(new CompleteMultipartUploadCommand({ ...upload, MultipartUpload: { Parts: parts } }));
    } catch (error) {
      // An unfinished upload keeps its parts (and their cost) until it is aborted.
      await quietly(() => this.s3().send(new AbortMultipartUploadCommand(upload)));
      throw error;
    }
  }

  private async copyMultipart(key: string, copySource: string, size: number): Promise<void> {
    const created = await this.s3().send(new CreateMultipartUploadCommand({ ...this.bucket(), Key: key, ContentType: octetStream }));
    const upload = { ...this.bucket(), Key: key, UploadId: created.UploadId };
    try {
      const parts: Array<{ ETag: string | undefined; PartNumber: number }> = [];
      for (let first = 0, number = 1; first < size; first += this.options.partBytes, number++) {
        const last = Math.min(first + this.options.partBytes, size) - 1;
        const copied = await this.s3().send(new UploadPartCopyCommand({ ...upload, PartNumber: number, CopySource: copySource, CopySourceRange: `bytes=${first}-${last}` }));
        parts.push({ ETag: copied.CopyPartResult?.ETag, PartNumber: number });
      }
      await this.s3().send(new CompleteMultipartUploadCommand({ ...upload, MultipartUpload: { Parts: parts } }));
    } catch (error) {
      await quietly(() => this.s3().send(new AbortMultipartUploadCommand(upload)));
      throw error;
    }
  }

  /** One endpoint, one region, one access key: a copy request here can read what `other` stores. */
  private sharesStoreWith(other: S3Transport): boolean {
    return other.options.endpoint === this.options.endpoint && other.options.region === this.options.region && other.options.accessKeyId === this.options.accessKeyId;
  }

  /** Creates the bucket on first use when it is not there; one that exists is left as it is. */
  ensureBucket(): Promise<void> {
    this.bucketReady ??= (async () => {
      try {
        await this.s3().send(new HeadBucketCommand(this.bucket()));
      } catch (error) {
        if (!isNotFound(error)) throw s3Error(error, this.describe(), `look up bucket ${this.options.bucket}`);
        const region = this.options.region;
        try {
          // us-east-1 is the one region that must not be named as a location constraint.
          await this.s3().send(new CreateBucketCommand({ ...this.bucket(), ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as never } }) }));
        } catch (createError) {
          throw s3Error(createError, this.describe(), `create bucket ${this.options.bucket}`);
        }
      }
    })();
    this.bucketReady.catch(() => (this.bucketReady = undefined));
    return this.bucketReady;
  }

  private s3(): S3Client {
    // The SDK warns on every start that its releases from 2027 need Node 22: a multi-line warning in every
    // cron mail that asks nothing of the operator. It reads this switch when a client is made.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client ??= new S3Client({
      region: this.options.region,
      endpoint: this.options.endpoint,
      forcePathStyle: this.options.pathStyle,
      credentials: { accessKeyId: this.options.accessKeyId, secretAccessKey: this.options.secret },
      maxAttempts: 1,
      // The SDK's default CRC32 checksums stream as aws-chunked trailers, which many S3-compatible stores
      // (Swift's s3api among them) refuse; Content-MD5 is the check every one of them understands.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    return this.client;
  }

  private bucket(): { Bucket: string } {
    return { Bucket: this.options.bucket };
  }

  private keyOf(name: string): string {
    return this.options.prefix ? `${this.options.prefix}/${name}` : name;
  }
}

/**
 * The next part as a request body, and the signal that aborts its request when the body fails: the SDK
 * pipes the body into the request, and a pipe does not pass errors on, so without it a source that breaks
 * or ends early would leave the store waiting for the promised Content-Length.
 */
function bodyOf(reader: PartReader, bytes: number): { stream: Readable; signal: AbortSignal } {
  const stream = Readable.from(reader.part(bytes), { objectMode: false });
  const abort = new AbortController();
  stream.once('error', (error) => abort.abort(error));
  return { stream, signal: abort.signal };
}
