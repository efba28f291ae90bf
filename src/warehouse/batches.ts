// A cursor read `size` documents at a time, always closed: the warehouse's scans (unreferenced GridFS files,
// unapplied change-log entries) each work on a batch, so memory stays flat however large the collection.
import type { FindCursor } from 'mongodb';

export async function* inBatches<T>(cursor: FindCursor<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  try {
    for await (const item of cursor) {
      batch.push(item);
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  } finally {
    await cursor.close().catch(() => undefined);
  }
}
