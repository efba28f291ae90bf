// What the object stores (swift://, s3://) share: the first pass over a put() source that computes the
// MD5s the server checks, cutting the second pass into parts of a fixed size, and the URL parameters
// that would hold a secret, which their locations refuse.
//
// Why two passes: the MD5 travels in a header (Swift's ETag, S3's Content-MD5), which goes before the
// body, and neither store takes it as a trailer. The archive's sources are local files, so reading twice
// costs a second read from the page cache; a source that gives other bytes the second time is caught by
// the store (its MD5 differs) and nothing is stored.
import { createHash } from 'node:crypto';
import { failedError } from '../errors.js';
import { checkPutSize, CountedSource, type PutOptions, type PutSource } from './transport.js';

export interface PartDigest {
  size: number;
  md5: Buffer;
}

export interface SourceDigest extends PartDigest {
  /** The source cut into `partBytes` pieces, the last one shorter; empty for an empty source. */
  parts: PartDigest[];
}

/** Reads the source once, whole; a failing source throws its own error, as it was. */
export async function digestSource(source: PutSource, partBytes: number): Promise<SourceDigest> {
  const whole = createHash('md5');
  const parts: PartDigest[] = [];
  let part = createHash('md5');
  let partSize = 0;
  const counted = new CountedSource(source);
  for await (let chunk of counted.chunks()) {
    whole.update(chunk);
    while (chunk.length > 0) {
      const taken = chunk.subarray(0, partBytes - partSize);
      part.update(taken);
      partSize += taken.length;
      chunk = chunk.subarray(taken.length);
      if (partSize === partBytes) {
        parts.push({ size: partSize, md5: part.digest() });
        part = createHash('md5');
        partSize = 0;
      }
    }
  }
  if (partSize > 0) parts.push({ size: partSize, md5: part.digest() });
  return { size: counted.bytes, md5: whole.digest(), parts };
}

/**
 * Hands out the bytes of one pass over a source as consecutive parts of given sizes. A part the source
 * cannot fill breaks off with an error and sets `short`: a request must never end early on a Content-Length
 * it promised, or the store waits for the rest until it times out.
 */
/**
 * The first pass of an object-store upload: the source's MD5s per part, its size checked against what the
 * caller expects, and refused up front when it needs more parts than the store accepts.
 */
export async function digestForUpload(
  source: PutSource,
  target: { address: string; name: string; partBytes: number; maxParts: number; partsWord: string; setting: string },
  options: PutOptions | undefined,
): Promise<SourceDigest> {
  const digest = await digestSource(source, target.partBytes);
  checkPutSize(target.address, target.name, digest.size, digest.size, options);
  if (digest.parts.length > target.maxParts) {
    throw failedError(
      `${target.address}: ${target.name} is ${digest.size} bytes, more than ${target.maxParts} ${target.partsWord} of ${target.partBytes} bytes`,
      `raise ${target.setting} in the location URL`,
    );
  }
  return digest;
}

export class PartReader {
  private readonly iterator: AsyncIterator<Buffer>;
  private leftover: Buffer | undefined;
  short = false;

  /** `expectedBytes`: what the first pass counted. */
  constructor(readonly counted: CountedSource, readonly expectedBytes: number) {
    this.iterator = counted.chunks()[Symbol.asyncIterator]();
  }

  /** The next `bytes` bytes. */
  async *part(bytes: number): AsyncGenerator<Buffer> {
    let remaining = bytes;
    while (remaining > 0) {
      let chunk = this.leftover;
      this.leftover = undefined;
      if (!chunk) {
        const step = await this.iterator.next();
        if (step.done) {
          this.short = true;
          throw new Error(`the source ended ${remaining} bytes early`);
        }
        chunk = step.value;
      }
      if (chunk.length > remaining) {
        this.leftover = chunk.subarray(remaining);
        chunk = chunk.subarray(0, remaining);
      }
      remaining -= chunk.length;
      yield chunk;
    }
  }

  /** Stops the source (closes a file stream) when the upload ends early. */
  async close(): Promise<void> {
    await this.iterator.return?.(undefined);
  }
}

/** A fetch() request body that pulls one chunk at a time, so a slow store holds back the reader. */
export function requestBody(chunks: AsyncIterable<Buffer>): ReadableStream<Uint8Array> {
  const iterator = chunks[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const step = await iterator.next();
        if (step.done) controller.close();
        else controller.enqueue(step.value);
      },
      async cancel() {
        await iterator.return?.(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

/** The second pass gave a different number of bytes than the first: the source changed under us. */
export function changedSourceError(address: string, name: string, first: number, second: number): Error {
  return failedError(
    `${address}: the source of ${name} gave ${first} bytes when its checksum was computed and ${second} when it was sent; nothing was stored`,
    'the file changed while it was being sent; send it again',
  );
}

export const hexOf = (md5: Buffer) => md5.toString('hex');
export const base64Of = (md5: Buffer) => md5.toString('base64');

/** Query parameters a secret could be put in by mistake; a location URL holding one is refused. */
export const secretParams = ['key', 'password', 'api_key', 'apikey', 'secret', 'secret_key', 'secret_access_key', 'token'];

/** The URL as messages show it, with any secret-looking parameter (refused anyway) masked. */
export function maskSecretParams(shown: string): string {
  return shown.replace(/([?&](?:key|password|api_key|apikey|secret|secret_key|secret_access_key|token)=)[^&#]*/gi, '$1***');
}
