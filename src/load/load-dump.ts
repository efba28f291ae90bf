// Loads an unpacked dump directory into the schema a connection uses: every table created, its parts
// streamed in order through LOAD DATA, then read back and compared with the manifest.
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Connection } from 'mysql2';
import { dataDir } from '../dump/dump-archive.js';
import type { DumpManifest, DumpTableResult } from '../dump/dump-manifest.js';
import { loadTable, verifyTable, type LoadTableOptions, type LoadTableResult, type VerifyTableResult } from './load-tables.js';

/** The parts of one table's data file, in order, as one stream. A table without parts is empty. */
export async function tableData(dir: string, table: DumpTableResult): Promise<Readable> {
  const names = (await readdir(join(dir, dataDir)).catch(() => [] as string[]))
    .filter((name) => name.startsWith(`${table.file}.`))
    .sort();
  async function* concatenated(): AsyncGenerator<Buffer> {
    for (const name of names) yield* createReadStream(join(dir, dataDir, name), { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>;
  }
  return Readable.from(concatenated(), { objectMode: false });
}

export interface LoadDumpHooks extends LoadTableOptions {
  onTable?: (table: DumpTableResult, index: number) => void;
}

export interface LoadedDump {
  tables: Array<VerifyTableResult & Pick<LoadTableResult, 'warnings' | 'translations'>>;
  rows: number;
  bytes: number;
}

/**
 * Loads every table, spread over the given connections (all on the target schema): the biggest tables
 * first, each to the connection with the least bytes so far, so two connections finish close together.
 */
export async function loadDump(target: Connection | Connection[], dir: string, manifest: DumpManifest, hooks: LoadDumpHooks = {}): Promise<LoadedDump> {
  const connections = Array.isArray(target) ? target : [target];
  const queues: DumpTableResult[][] = connections.map(() => []);
  const load = connections.map(() => 0);
  for (const table of [...manifest.tables].sort((a, b) => b.bytes - a.bytes)) {
    const lightest = load.indexOf(Math.min(...load));
    queues[lightest]!.push(table);
    load[lightest]! += table.bytes;
  }
  const tables: LoadedDump['tables'] = [];
  let started = 0;
  await Promise.all(
    connections.map(async (conn, index) => {
      for (const table of queues[index]!) {
        hooks.onTable?.(table, started++);
        const loaded = await loadTable(conn, table, await tableData(dir, table), { definition: hooks.definition });
        const verified = await verifyTable(conn, table, {
          sourceServerVersion: manifest.source.serverVersion,
          loadWarnings: loaded.warningSamples,
          translated: loaded.translations.length > 0,
        });
        tables.push({ ...verified, warnings: loaded.warnings, translations: loaded.translations });
      }
    }),
  );
  return {
    tables,
    rows: manifest.tables.reduce((sum, table) => sum + table.rows, 0),
    bytes: manifest.tables.reduce((sum, table) => sum + table.bytes, 0),
  };
}
