// `worker load`: a fresh temporary schema for the transaction, every table loaded with LOAD DATA LOCAL
// on two connections, each checked against the agent's manifest (rows, bytes, row checksum) before the
// step counts as done. A re-run drops what a half-finished run left and starts clean.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type mysql from 'mysql2';
import { GanymedeError, failedError, messageOf, refusedError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { manifestEntry } from '../../pipeline/dump-archive.js';
import { parseDumpManifest } from '../../pipeline/dump-manifest.js';
import { loadDump } from '../../pipeline/load-dump.js';
import { createProgress } from '../../progress.js';
import { TableMismatchError } from '../../pipeline/load-tables.js';
import type { StepOutcome } from '../../state/steps.js';
import type { StepContext } from '../../worker/runtime.js';
import { dumpDir, scratchSchema } from '../../worker/paths.js';
import { connectScratch, scratchQuery, scratchTarget } from '../../worker/scratch-db.js';

const loadConnections = 2;

export async function loadStep(context: StepContext): Promise<StepOutcome> {
  const dir = dumpDir(context.loaded.config, context.txn);
  const manifestText = await readFile(join(dir, manifestEntry), 'utf8').catch(() => {
    throw failedError(`the decrypted dump of transaction ${context.txn.id} is missing from ${dir}`, 'run `ganymede txn retry` to decrypt it again');
  });
  const manifest = parseDumpManifest(manifestText);
  const schema = scratchSchema(context.loaded.config, context.txn);
  const admin = await connectScratch(context.loaded);
  const connections: mysql.Connection[] = [];
  const abort = () => connections.forEach((connection) => connection.destroy());
  context.signal.addEventListener('abort', abort);
  try {
    await scratchQuery(admin, `DROP DATABASE IF EXISTS \`${schema}\``);
    await scratchQuery(admin, `CREATE DATABASE \`${schema}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    for (let i = 0; i < Math.min(loadConnections, Math.max(1, manifest.tables.length)); i++) connections.push(await connectScratch(context.loaded, schema));
    const bar = createProgress({ label: `loading ${schema}`, total: manifest.tables.length, unit: 'tables', terminalOnly: true });
    let tablesStarted = 0;
    const loaded = await loadDump(connections, dir, manifest, {
      onTable: (table) => {
        context.log.info(`loading ${table.name}: ${table.rows} rows, ${table.bytes} bytes`);
        bar.update(tablesStarted++, `(${table.name})`);
      },
    });
    bar.finish();
    await context.event({ phase: 'load', message: `${loaded.tables.length} tables into ${schema}, verified`, rows: loaded.rows, bytes: loaded.bytes });
    return { rows: loaded.rows, bytes: loaded.bytes };
  } catch (error) {
    if (error instanceof TableMismatchError) throw refusedError(error.message, 'the loaded data differs from what the agent dumped; the agent may deliver the hour again');
    if (error instanceof GanymedeError) throw error;
    const code = (error as { code?: string }).code ?? '';
    if (/ECONNREFUSED|PROTOCOL_CONNECTION_LOST|ETIMEDOUT|ECONNRESET|ER_SERVER_SHUTDOWN/.test(`${code} ${messageOf(error)}`)) {
      throw new GanymedeError(ExitCode.unreachable, `the scratch MySQL at ${scratchTarget(context.loaded).address} went away while loading into ${schema}: ${code || messageOf(error)}`);
    }
    throw error;
  } finally {
    context.signal.removeEventListener('abort', abort);
    for (const connection of connections) connection.destroy();
    admin.destroy();
  }
}
