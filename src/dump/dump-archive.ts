// The layout of a dump inside its tar: `plan.json` first (what the tables are, known before any row),
// then each table's data in parts (`data/0001.tsv.000001`, …), then `manifest.json` (the plan plus each
// table's rows, bytes and checksum, known only at the end).
import type { Snapshot } from '../extract/extract.js';
import type { DumpTablePlan } from './dump-manifest.js';
import type { ReadFlow } from './table-data-stream.js';
import type { TarBatchWriter } from '../extract/tar-batches.js';
import { tarEnd, tarEntry, tarParts } from './tar-stream.js';

export const planEntry = 'plan.json';
export const manifestEntry = 'manifest.json';
export const dataDir = 'data';
/** Names a dump may contain; anything else in an archive is refused when it is opened. */
export const dumpEntryPattern = /^(plan\.json|manifest\.json|data\/[0-9]{4,}\.tsv\.[0-9]{6})$/;

/** A table being read: its counts so far. */
export interface TableCounts {
  readonly rows: number;
  readonly bytes: number;
}

export interface DumpArchiveHooks {
  /** Called as each table starts streaming, e.g. to report its progress. */
  onTable?: (table: DumpTablePlan, counts: TableCounts, index: number) => void;
}

/** The tar bytes of the whole dump, table after table, as the snapshot is read. */
export async function* dumpArchive(snapshot: Snapshot, hooks: DumpArchiveHooks = {}): AsyncGenerator<Buffer> {
  const mtime = new Date(snapshot.plan.snapshotAt);
  yield tarEntry(planEntry, `${JSON.stringify(snapshot.plan, null, 1)}\n`, mtime);
  for (const [index, table] of snapshot.plan.tables.entries()) {
    const stream = snapshot.dumpTable(table);
    hooks.onTable?.(table, stream, index);
    yield* tarParts(`${dataDir}/${table.file}`, stream, undefined, mtime);
  }
  yield tarEntry(manifestEntry, `${JSON.stringify(snapshot.manifest(), null, 1)}\n`, mtime);
  yield tarEnd();
}

/**
 * The same archive written straight into batches (tar-batches.ts): rows are encoded where they will be
 * sent, the connection pausing while `flow` is congested.
 */
export async function writeDumpArchive(snapshot: Snapshot, writer: TarBatchWriter, flow: ReadFlow, hooks: DumpArchiveHooks = {}): Promise<void> {
  writer.entry(planEntry, `${JSON.stringify(snapshot.plan, null, 1)}\n`);
  for (const [index, table] of snapshot.plan.tables.entries()) {
    const read = snapshot.readTable(table, writer.parts(`${dataDir}/${table.file}`), flow);
    hooks.onTable?.(table, read, index);
    await read.done;
  }
  writer.entry(manifestEntry, `${JSON.stringify(snapshot.manifest(), null, 1)}\n`);
  writer.end();
}
