// A tar archive written straight into the seal worker's batches. Rows are encoded in place, each run of
// them becoming one tar part (`0001.tsv.000001`, …; see tar-stream.ts for why tables come in parts): the
// part's header block is left free in front of the space the encoder writes into and filled in once the
// part's size is known, so nothing is copied and no buffer is allocated per chunk. Parts are as large as
// a batch allows, at most batchBytes; the reader concatenates them in order, whatever their sizes.
import type { ChunkSink } from '../dump/dump-format.js';
import { blockBytes, partName, tarEnd, tarEntry, writeHeader } from '../dump/tar-stream.js';

/** Where the batches go: a SealWriter. */
export interface BatchPort {
  take(): Buffer;
  send(batch: Buffer, length: number): void;
}

const maxParts = 999_999;

/** Smaller space than this is not worth a part: the rest of the batch goes as it is. */
const minPartBytes = 64 * 1024;

const roundUp = (size: number) => Math.ceil(size / blockBytes) * blockBytes;

export class TarBatchWriter {
  private batch: Buffer | undefined;
  private pos = 0;

  constructor(
    private readonly port: BatchPort,
    private readonly mtime: Date,
  ) {}

  /** A whole entry whose content is in memory (plan.json, manifest.json). */
  entry(path: string, content: string | Buffer): void {
    this.write(tarEntry(path, content, this.mtime));
  }

  /** The sink a RowEncoder writes one file's data into, as parts `path.000001`, `.000002`, … */
  parts(path: string): ChunkSink & { readonly count: number } {
    let count = 0;
    let space: Buffer | undefined;
    return {
      get count() {
        return count;
      },
      next: (minBytes: number) => {
        space = this.space(minBytes);
        return space;
      },
      emit: (filled: Buffer) => {
        if (filled.length === 0) return;
        if (!space || filled.buffer !== space.buffer || filled.byteOffset !== space.byteOffset) {
          throw new Error('tar: a part was written outside the space given for it');
        }
        // Part names have six digits (dumpEntryPattern): a million parts of up to 1 MiB, ~1 TB a table.
        if (count === maxParts) throw new Error(`tar: ${path} needs more than ${maxParts} parts`);
        const batch = this.batch!;
        writeHeader(batch, this.pos, partName(path, ++count), filled.length, this.mtime);
        const end = this.pos + blockBytes + filled.length;
        const padded = this.pos + blockBytes + roundUp(filled.length);
        batch.fill(0, end, padded);
        this.pos = padded;
        space = undefined;
        if (this.pos === batch.length) this.sendBatch();
      },
    };
  }

  /** The two zero blocks that end the archive; sends what is left. */
  end(): void {
    this.write(tarEnd());
    if (this.pos > 0) this.sendBatch();
  }

  /** Space for one part's data after a free header block, a multiple of 512 bytes, at least minBytes if a batch can hold that. */
  private space(minBytes: number): Buffer {
    let batch = (this.batch ??= this.port.take());
    const want = Math.max(minBytes, minPartBytes);
    if (this.capacity() < want && this.pos > 0) {
      this.sendBatch();
      batch = this.batch = this.port.take();
    }
    const start = this.pos + blockBytes;
    return batch.subarray(start, start + this.capacity());
  }

  private capacity(): number {
    const left = this.batch!.length - this.pos - blockBytes;
    return left <= 0 ? 0 : Math.floor(left / blockBytes) * blockBytes;
  }

  private write(bytes: Buffer): void {
    for (let at = 0; at < bytes.length; ) {
      const batch = (this.batch ??= this.port.take());
      const n = bytes.copy(batch, this.pos, at);
      this.pos += n;
      at += n;
      if (this.pos === batch.length) this.sendBatch();
    }
  }

  private sendBatch(): void {
    this.port.send(this.batch!, this.pos);
    this.batch = undefined;
    this.pos = 0;
  }
}
