// A pre-signed upload as the API hands it to an agent (POST /v1/transactions/:id/upload) and the agent
// checks it: the URLs to PUT the file's bytes to, in order, each valid for one object until expiresAt.
// The URLs are credentials: they are never logged, never put in an event or an error message.

export interface UploadPart {
  /** A Swift TempURL or an S3 pre-signed PUT for exactly this part's object. */
  url: string;
  size: number;
}

export interface UploadPlan {
  /** Where the delivery lands, for messages: `swift://inbox/emea/emea_2026-11-20T01_d1.tar.zst.gpg`. */
  target: string;
  /** When the URLs stop working (ISO 8601); a part refused after that asks the API for fresh ones. */
  expiresAt: string;
  /** The header each part's MD5 travels in, so the store refuses damaged bytes: Swift's ETag (hex), S3's Content-MD5 (base64). */
  checksumHeader: 'etag' | 'content-md5';
  /**
   * The file's bytes in order, their sizes adding up to its size. One part: the object itself, stored
   * whole or not at all. Several: Swift segments, which POST …/upload/complete joins into the object.
   */
  parts: UploadPart[];
}

/** A plan from the API, checked before any byte is sent: a malformed one is a centre bug, said plainly. */
export function checkUploadPlan(value: unknown, size: number): UploadPlan | string {
  const plan = value as Partial<UploadPlan> | undefined;
  if (!plan || typeof plan.target !== 'string' || typeof plan.expiresAt !== 'string') return 'it has no target or expiry';
  if (plan.checksumHeader !== 'etag' && plan.checksumHeader !== 'content-md5') return 'its checksum header is unknown';
  if (!Array.isArray(plan.parts) || plan.parts.length === 0) return 'it has no parts';
  let total = 0;
  for (const part of plan.parts) {
    if (typeof part?.url !== 'string' || !/^https?:\/\//.test(part.url)) return 'a part has no http(s) URL';
    if (!Number.isSafeInteger(part.size) || part.size < 0) return 'a part has no size';
    total += part.size;
  }
  if (total !== size) return `its parts add up to ${total} bytes, not the file's ${size}`;
  return plan as UploadPlan;
}
