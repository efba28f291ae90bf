// An agent file archived by a copy the store makes itself, when the inbox and the archive are one object
// store (one Swift account, one S3 endpoint and key): nothing is uploaded from this host. A GEO holding an
// upload URL can still rewrite its inbox object after it closed the hour, so what is checked against the
// sha256 the agent closed with is the copy, which no GEO can reach: one read of it, where streaming reads
// the inbox object three times (its sha256, the store's MD5s, the upload) and uploads it once. A quarantined
// file has nothing to match (it was refused): its copy is read for the size and sha256 the record keeps.
import { createHash } from 'node:crypto';
import { addAbortSignal } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Transport } from '../transport/transport.js';

export type CopyOutcome = { copied: { size: number; sha256: string } } | 'differs' | 'cannot copy';

export async function copyDeliveryToArchive(options: {
  archive: Transport;
  inbox: Transport;
  /** The file's object in the inbox store: `<geo>/<file name>`, or below `_quarantine/`. */
  objectName: string;
  objectKey: string;
  /** The size and sha256 its agent reported; a quarantined file has only the size the inbox store gave. */
  expected: { size: number; sha256?: string | undefined };
  signal?: AbortSignal | undefined;
}): Promise<CopyOutcome> {
  const { archive, inbox, objectName, objectKey, expected, signal } = options;
  const copied = await archive.copyFrom?.(inbox, objectName, objectKey);
  if (!copied) return 'cannot copy';
  const stored = await digestOf(archive, objectKey, signal);
  if (copied.size === expected.size && stored.size === expected.size && (expected.sha256 === undefined || stored.sha256 === expected.sha256)) return { copied: stored };
  // Not what the agent sealed: no object of it stays in the archive, as none is put when streaming finds this.
  await archive.remove(objectKey);
  return 'differs';
}

async function digestOf(store: Transport, name: string, signal: AbortSignal | undefined): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  const source = await store.get(name);
  await pipeline(signal ? addAbortSignal(signal, source) : source, async (chunks: AsyncIterable<Buffer>) => {
    for await (const chunk of chunks) {
      size += chunk.length;
      hash.update(chunk);
    }
  });
  return { size, sha256: hash.digest('hex') };
}
