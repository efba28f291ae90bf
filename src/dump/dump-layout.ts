// What a dump's tar may hold, checked at each entry's header before a byte of it is written: plan.json
// first, then parts of the files the plan names (each file's parts together and in order, none larger
// than an agent writes), then manifest.json last. A GEO signs whatever it likes; a header that declares
// 1 TiB for a part is refused there, not after the disk filled up.
import { dataDir, dumpEntryPattern, manifestEntry, planEntry } from './dump-archive.js';
import { defaultPartBytes } from './tar-stream.js';
import type { TarEntryHeader } from '../load/tar-reader.js';

/** plan.json and manifest.json are read into memory; thousands of tables come to a few MiB. */
export const maxJsonEntryBytes = 64 * 1024 * 1024;

/** The largest part an agent writes: tar-stream.ts cuts at 8 MiB, the batch writer at 1 MiB. */
export const maxPartBytes = defaultPartBytes;

const partPattern = new RegExp(`^${dataDir}/([0-9]{4,}\\.tsv)\\.([0-9]{6})$`);

export class DumpLayout {
  private plannedFiles: Set<string> | undefined;
  private readonly lastPart = new Map<string, number>();
  private manifestSeen = false;
  private currentFile: string | undefined;

  /** Why `entry` may not come next, or undefined. */
  problemWith(entry: TarEntryHeader): string | undefined {
    const name = JSON.stringify(entry.path);
    if (entry.type !== 'file' || !dumpEntryPattern.test(entry.path)) return `the archive holds an unexpected entry ${name} (${entry.type === 'file' ? 'File' : `type ${entry.type}`})`;
    if (this.manifestSeen) return `${name} follows ${manifestEntry}, which ends a dump`;
    if (entry.path === planEntry || entry.path === manifestEntry) {
      if (entry.size > maxJsonEntryBytes) return `${name} is ${entry.size} bytes; it may be at most ${maxJsonEntryBytes}`;
      if (entry.path === planEntry && this.plannedFiles) return `${name} appears twice`;
      if (entry.path === manifestEntry) this.manifestSeen = true;
      return undefined;
    }
    const [, file, part] = partPattern.exec(entry.path)!;
    if (!this.plannedFiles) return `${name} comes before ${planEntry}, which starts a dump`;
    if (!this.plannedFiles.has(file!)) return `${name} belongs to no table of ${planEntry}`;
    if (Number(part) !== (this.lastPart.get(file!) ?? 0) + 1) return `${name} is out of order (parts are numbered from 000001 without gaps)`;
    // A table's data is streamed into MySQL as it arrives (load-delivery.ts): its parts must not be interleaved with another's.
    if (this.lastPart.has(file!) && this.currentFile !== file) return `${name} comes after another file's parts (an agent writes each file's parts together)`;
    if (entry.size > maxPartBytes) return `${name} is ${entry.size} bytes; an agent writes parts of at most ${maxPartBytes}`;
    this.lastPart.set(file!, Number(part));
    this.currentFile = file;
    return undefined;
  }

  /**
   * plan.json, once read: the data files it names. Only those are taken from it here; the load checks the
   * rest of it (and the manifest) in full.
   */
  planRead(text: string): string | undefined {
    let tables: unknown;
    try {
      tables = (JSON.parse(text) as { tables?: unknown }).tables;
    } catch {
      return `${planEntry} is not JSON`;
    }
    if (!Array.isArray(tables)) return `${planEntry} lists no tables`;
    const files = tables.map((table) => (table as { file?: unknown } | null)?.file);
    if (!files.every((file): file is string => typeof file === 'string')) return `${planEntry} has a table without a file name`;
    this.plannedFiles = new Set(files);
    return undefined;
  }
}
