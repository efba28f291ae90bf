// Delivery through the API's pre-signed uploads (agent.inbox "api"): the agent holds no store credential.
// It asks the API for URLs for its transaction's file, PUTs the spool file's bytes to them straight from
// disk (each part read twice, once for the MD5 the store checks and once to send; memory stays flat), then
// asks the API to complete: the centre joins the segments and checks the object before the agent closes.
// An object PUT is atomic, so there is no `.part` here: the delivery appears whole under its name or not at all.
//
// The URLs are credentials: no message, log line or event built here contains one (only plan.target).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { ApiClient } from '../api/client.js';
import { failedError, GanymedeError, unreachableError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { redactUrlsIn } from '../log.js';
import { checkUploadPlan, type UploadPlan } from '../inbox/upload-plan.js';
import { retryTransient, type RetryOptions } from '../retry.js';
import { causeCode, causeOf } from '../transport/swift-http.js';
import { requestBody } from '../transport/object-parts.js';

export interface PresignedUploadOptions {
  api: ApiClient;
  txnId: number;
  file: { name: string; size: number; sha256: string };
  /** The sealed spool file. */
  path: string;
  retry: RetryOptions;
  signal?: AbortSignal | undefined;
}

// URLs this close to their expiry are renewed before a part starts rather than refused half way.
const renewMarginMs = 60_000;

/** Uploads the file through pre-signed URLs and has the centre complete it; returns where it landed. */
export async function uploadThroughApi(options: PresignedUploadOptions): Promise<{ target: string; parts: number }> {
  const { file } = options;
  let plan = await requestPlan(options);
  let offset = 0;
  for (let index = 0; index < plan.parts.length; index++) {
    const size = plan.parts[index]!.size;
    const md5 = await md5OfRange(options.path, offset, size);
    const label = plan.parts.length === 1 ? `uploading ${file.name}` : `uploading part ${index + 1} of ${plan.parts.length} of ${file.name}`;
    let renewed = false;
    for (;;) {
      if (Date.parse(plan.expiresAt) - Date.now() < renewMarginMs) plan = await renewPlan(options, plan);
      try {
        const current = plan;
        await retryTransient(label, () => putPart(current, index, options.path, offset, md5, options.signal), options.retry);
        break;
      } catch (error) {
        // A URL refused once may have expired while earlier parts went up (a slow link, a clock apart): ask again, once.
        if (!(error instanceof UrlRefused) || renewed) throw error;
        renewed = true;
        plan = await renewPlan(options, plan);
      }
    }
    offset += size;
  }
  await retryTransient(`completing the upload of ${file.name}`, () => options.api.completeUpload(options.txnId, file), options.retry);
  return { target: plan.target, parts: plan.parts.length };
}

async function requestPlan(options: PresignedUploadOptions): Promise<UploadPlan> {
  const reply = await retryTransient(`asking the API for an upload of ${options.file.name}`, () => options.api.requestUpload(options.txnId, options.file), options.retry);
  const plan = checkUploadPlan(reply.upload, options.file.size);
  if (typeof plan === 'string') throw failedError(`the API's upload for ${options.file.name} is malformed: ${plan}`, 'the centre runs a different version of Ganymede; update it or this agent');
  return plan;
}

/** Fresh URLs for the same objects (the names follow from the file), so the upload goes on where it was. */
async function renewPlan(options: PresignedUploadOptions, old: UploadPlan): Promise<UploadPlan> {
  const plan = await requestPlan(options);
  if (plan.parts.length !== old.parts.length || plan.parts.some((part, index) => part.size !== old.parts[index]!.size)) {
    throw failedError(`the API's renewed upload for ${options.file.name} has other parts than the first`, 'run the agent again: the hour is uploaded afresh');
  }
  return plan;
}

class UrlRefused extends GanymedeError {
  constructor(message: string) {
    super(ExitCode.refused, message, { hint: 'the URL expired or is not valid for this object; check the clocks of this host and the centre' });
  }
}

async function putPart(plan: UploadPlan, index: number, path: string, offset: number, md5: Buffer, signal: AbortSignal | undefined): Promise<void> {
  const { url, size } = plan.parts[index]!;
  const what = plan.parts.length === 1 ? plan.target : `part ${index + 1} of ${plan.parts.length} of ${plan.target}`;
  const checksum: Record<string, string> = plan.checksumHeader === 'etag' ? { ETag: md5.toString('hex') } : { 'Content-MD5': md5.toString('base64') };
  const body = size === 0 ? '' : requestBody(createReadStream(path, { start: offset, end: offset + size - 1, highWaterMark: 1024 * 1024 }));
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'PUT',
      headers: { 'Content-Length': String(size), 'Content-Type': 'application/octet-stream', ...checksum },
      body,
      duplex: 'half',
      signal,
    } as RequestInit);
  } catch (error) {
    if (signal?.aborted) throw error;
    if (causeCode(error) === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') throw failedError(`could not store ${what}: the spool file changed while it was being sent`, 'run the agent again');
    // undici's errors name a code or a socket, not the URL; masked all the same, as this reaches MySQL unlogged.
    throw unreachableError(`could not store ${what}: ${redactUrlsIn(causeOf(error))}`, 'it is retried; if it keeps failing, check the network to the object store');
  }
  if (response.ok) return void (await response.arrayBuffer());
  throw await refusal(response, what);
}

/** Only the status and S3's error code: an S3 error body repeats the signature it refused. */
async function refusal(response: Response, what: string): Promise<Error> {
  const text = await response.text().catch(() => '');
  const code = /<Code>([A-Za-z]{1,64})<\/Code>/.exec(text)?.[1];
  const status = `HTTP ${response.status}${code ? ` ${code}` : ''}`;
  if (response.status === 401 || response.status === 403) return new UrlRefused(`the object store refused the upload URL for ${what} (${status})`);
  if (response.status >= 500 || response.status === 408 || response.status === 429 || response.status === 498) {
    return unreachableError(`could not store ${what} (${status})`, 'it is retried; if it keeps failing, check the object store\'s status');
  }
  if (response.status === 422 || code === 'BadDigest' || code === 'InvalidDigest') {
    return failedError(`the object store refused ${what} (${status}): the MD5 it computed differs from the file's, so nothing was stored`, 'run the agent again; if this repeats, check the disk and the network');
  }
  if (response.status === 413 || code === 'EntityTooLarge') return failedError(`the object store refused ${what} as too large (${status})`, "lower segment_bytes in the centre's centre.inbox");
  return failedError(`the object store refused ${what} (${status})`);
}

function md5OfRange(path: string, start: number, size: number): Promise<Buffer> {
  const hash = createHash('md5');
  if (size === 0) return Promise.resolve(hash.digest());
  return new Promise((resolve, reject) => {
    createReadStream(path, { start, end: start + size - 1, highWaterMark: 1024 * 1024 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest()));
  });
}
