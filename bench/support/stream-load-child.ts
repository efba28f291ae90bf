// One step of `npm run bench -- stream-load`, as its own process under GNU time (run by tsx), calling the
// pipeline's functions as the workers would: `open` (decrypt to files: openDelivery), `load-dump` (loadDump
// from those files on 2 connections), `verify` (verifyDelivery; the manifest is written to a file, standing
// in for the row the decrypt step would store), `stream` (loadDelivery, in `passes` passes at once over the
// same file, each with its own `connections`), `noop` (only the imports: what the harness itself costs).
// Prints one line of JSON on stdout: the step's own time and what it loaded.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2';
import { readPrivateKey, readPublicKey } from '../../src/openpgp/keys.js';
import { manifestEntry } from '../../src/dump/dump-archive.js';
import { parseDumpManifest } from '../../src/dump/dump-manifest.js';
import { loadDelivery, splitTablesByBytes } from '../../src/load/load-delivery.js';
import { loadDump } from '../../src/load/load-dump.js';
import { openDelivery } from '../../src/load/open-delivery.js';
import { verifyDelivery } from '../../src/load/verify-delivery.js';
import { mysqlOptions } from '../../test/support/mysql.js';

export interface ChildStep {
  mode: 'open' | 'load-dump' | 'verify' | 'stream' | 'noop';
  file: string;
  centreKeyFile: string;
  geoKeyFile: string;
  /** open: where the dump is unpacked; load-dump: where it is read from. */
  dir?: string;
  /** load-dump, stream: the schema the tables go into (it exists, empty). */
  schema?: string;
  /** verify: written; stream: read. */
  manifestFile?: string;
  passes?: number;
  connections?: number;
}

export interface ChildResult {
  stepMs: number;
  tables: number;
  rows: number;
}

function connect(schema: string): mysql.Connection {
  return mysql.createConnection(mysqlOptions(schema) as mysql.ConnectionOptions);
}

async function run(step: ChildStep): Promise<ChildResult> {
  const started = performance.now();
  const source = {
    file: step.file,
    decryptionKeys: await readPrivateKey(await readFile(step.centreKeyFile, 'utf8'), 'centre key'),
    expectedSigningKeys: await readPublicKey(await readFile(step.geoKeyFile, 'utf8'), 'GEO key'),
  };
  const connections: mysql.Connection[] = [];
  try {
    switch (step.mode) {
      case 'noop':
        return { stepMs: performance.now() - started, tables: 0, rows: 0 };
      case 'open': {
        const opened = await openDelivery({ ...source, dir: step.dir! });
        return { stepMs: performance.now() - started, tables: opened.manifest.tables.length, rows: 0 };
      }
      case 'verify': {
        const verified = await verifyDelivery(source);
        await writeFile(step.manifestFile!, JSON.stringify(verified.manifest));
        return { stepMs: performance.now() - started, tables: verified.manifest.tables.length, rows: 0 };
      }
      case 'load-dump': {
        const manifest = parseDumpManifest(await readFile(join(step.dir!, manifestEntry), 'utf8'));
        for (let i = 0; i < 2; i++) connections.push(connect(step.schema!));
        const loaded = await loadDump(connections, step.dir!, manifest);
        return { stepMs: performance.now() - started, tables: loaded.tables.length, rows: loaded.rows };
      }
      case 'stream': {
        const manifest = parseDumpManifest(await readFile(step.manifestFile!, 'utf8'));
        const passes = step.passes ?? 1;
        const groups = passes === 1 ? [undefined] : splitTablesByBytes(manifest, passes);
        const loaded = await Promise.all(
          groups.map((tables) => {
            const own = Array.from({ length: step.connections ?? 1 }, () => connect(step.schema!));
            connections.push(...own);
            return loadDelivery(own, source, { manifest, ...(tables ? { tables } : {}) });
          }),
        );
        return { stepMs: performance.now() - started, tables: loaded.reduce((sum, pass) => sum + pass.tables.length, 0), rows: loaded.reduce((sum, pass) => sum + pass.rows, 0) };
      }
    }
    throw new Error(`unknown mode ${JSON.stringify(step.mode)}`);
  } finally {
    for (const conn of connections) conn.destroy();
  }
}

const result = await run(JSON.parse(process.argv[2]!) as ChildStep);
process.stdout.write(`${JSON.stringify(result)}\n`);
