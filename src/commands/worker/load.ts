// `worker load`: a fresh temporary schema for the transaction, the delivery streamed from the inbox (on any
// central host: decrypt left nothing on a local disk) straight into LOAD DATA LOCAL on two connections, each
// table checked against the agent's manifest (rows, bytes, row checksum) before the step counts as done.
// Nothing loaded is trusted until the whole file was read with a good signature and the sha256 the agent
// reported. A re-run drops what a half-finished run left and starts clean.
import type mysql from 'mysql2';
import { GanymedeError, messageOf, refusedError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { createProgress } from '../../progress.js';
import { DefinitionTranslationError } from '../../load/definition-translation.js';
import { TableMismatchError } from '../../load/load-tables.js';
import type { StepOutcome } from '../../state/step-outcomes.js';
import type { StepContext } from '../../worker/runtime.js';
import { openDeliverySource, quarantine } from '../../worker/delivery-source.js';
import { scratchSchema } from '../../worker/paths.js';
import { connectScratch, scratchQuery, scratchTarget } from '../../worker/scratch-db.js';
import { recordSchemaChanges } from '../../worker/schema-events.js';
import { recordTranslations } from '../../worker/translation-events.js';

// One pass on one connection (bench/README.md, "stream-load"): two connections or two passes at once measured
// no faster on shared cores, at more client CPU and memory.
const loadConnections = 1;

export async function loadStep(context: StepContext): Promise<StepOutcome> {
  const { loadDelivery } = await import('../../load/load-delivery.js');
  const { DeliveryRefusal } = await import('../../load/delivery-reader.js');
  const { OpenPgpRefusal } = await import('../../openpgp/open.js');
  const { DumpManifestError } = await import('../../dump/dump-manifest.js');
  const { file, source, sha256 } = await openDeliverySource(context);
  const schema = scratchSchema(context.loaded.config, context.txn);
  const admin = await connectScratch(context.loaded).catch(async (error: unknown) => {
    await file.close();
    throw error;
  });
  const connections: mysql.Connection[] = [];
  const abort = () => connections.forEach((connection) => connection.destroy());
  context.signal.addEventListener('abort', abort);
  try {
    await scratchQuery(admin, `DROP DATABASE IF EXISTS \`${schema}\``);
    await scratchQuery(admin, `CREATE DATABASE \`${schema}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    for (let i = 0; i < loadConnections; i++) connections.push(await connectScratch(context.loaded, schema));
    const bar = createProgress({ label: `loading ${schema}`, unit: 'tables', terminalOnly: true });
    let tablesStarted = 0;
    let loaded;
    try {
      loaded = await loadDelivery(connections, source, {
        onTable: (table) => {
          context.log.info(`loading ${table.name}: streamed from the delivery`);
          bar.update(tablesStarted++, `(${table.name})`);
        },
      });
    } catch (error) {
      // Verified by decrypt, so a refusal now means the file in the inbox changed since: it is not loaded.
      if (!context.signal.aborted && (error instanceof OpenPgpRefusal || error instanceof DeliveryRefusal || error instanceof DumpManifestError)) {
        await quarantine(context, `it no longer reads as it did when decrypt verified it: ${messageOf(error)}`);
      }
      throw error;
    }
    bar.finish();
    const streamed = sha256();
    if (streamed !== context.txn.file!.sha256) await quarantine(context, `its sha256 is now ${streamed ?? 'unknown'}, the agent reported ${context.txn.file!.sha256}`);
    await recordSchemaChanges(context, loaded.manifest);
    const translated = await recordTranslations(context, loaded.tables);
    const otherwise = translated > 0 ? ` (${translated} created otherwise than the GEO defined them, for this server)` : '';
    await context.event({ phase: 'load', message: `${loaded.tables.length} tables into ${schema}, verified${otherwise}`, rows: loaded.rows, bytes: loaded.bytes });
    return { rows: loaded.rows, bytes: loaded.bytes };
  } catch (error) {
    if (error instanceof TableMismatchError) throw refusedError(error.message, 'the loaded data differs from what the agent dumped; the agent may deliver the hour again');
    if (error instanceof DefinitionTranslationError) throw refusedError(error.message, "load this GEO's deliveries on a centre whose MySQL server has that clause");
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
    await file.close();
  }
}
