// How much a delivered file may unpack to, and whether the work dir has room before anything is written.
// A GEO signs whatever it likes: 137 KB of zstd once became 4 GiB in the work dir. The limit is the smaller
// of an absolute size and a ratio to the delivered size; past it the delivery is refused as it streams.
// A full disk is the centre's fault, never the GEO's: that is a retried failure, not a refusal.
import { statfs } from 'node:fs/promises';
import { failedError } from '../errors.js';

/**
 * Below this the ratio is not applied: a small hour of very repetitive rows can compress far better than
 * 200:1, and a few hundred MiB harm no centre; a bomb has to pass both to do damage.
 */
export const ratioFloorBytes = 256 * 1024 * 1024;

/**
 * What a dump is expected to unpack to, as a multiple of the delivered file, for the free-space check:
 * zstd -1 and gzip on MySQL text dumps measure ~5-10×.
 */
export const expectedUnpackFactor = 10;

export interface UnpackSettings {
  /** centre.max_unpacked_bytes */
  maxUnpackedBytes: number;
  /** centre.max_unpack_ratio */
  maxUnpackRatio: number;
}

export interface UnpackLimit {
  bytes: number;
  /** Which setting sets it, for the refusal. */
  why: string;
}

export function unpackLimit(settings: UnpackSettings, deliveredBytes: number): UnpackLimit {
  const byRatio = Math.max(ratioFloorBytes, Math.ceil(deliveredBytes * settings.maxUnpackRatio));
  if (settings.maxUnpackedBytes <= byRatio) return { bytes: settings.maxUnpackedBytes, why: `centre.max_unpacked_bytes ${settings.maxUnpackedBytes}` };
  return { bytes: byRatio, why: `centre.max_unpack_ratio ${settings.maxUnpackRatio} × the ${deliveredBytes} bytes delivered` };
}

/**
 * Fails (retryably) unless `dir`'s filesystem has room for what `deliveredBytes` should unpack to (at most
 * the limit) and `reserveBytes` on top.
 */
export async function checkFreeSpace(dir: string, deliveredBytes: number, limit: UnpackLimit, reserveBytes: number): Promise<void> {
  const stats = await statfs(dir);
  const freeBytes = stats.bavail * stats.bsize;
  const needBytes = Math.min(limit.bytes, deliveredBytes * expectedUnpackFactor);
  if (needBytes + reserveBytes <= freeBytes) return;
  throw failedError(
    `${dir} has ${freeBytes} bytes free; unpacking a delivery of ${deliveredBytes} bytes needs about ${needBytes} (${expectedUnpackFactor} × its size) and centre.min_free_bytes ${reserveBytes} left over`,
    'free some space there or move centre.work_dir; the step is retried',
  );
}
