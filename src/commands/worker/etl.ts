// `worker etl`: the transaction's temporary schema into the MongoDB warehouse (see src/warehouse/README.md:
// current state per GEO, a change log per cycle, only changed documents written).
import { requireSettings } from '../../config/load.js';
import type { StepOutcome } from '../../state/step-outcomes.js';
import type { StepContext } from '../../worker/runtime.js';
import { scratchSchema } from '../../worker/paths.js';
import { connectScratch } from '../../worker/scratch-db.js';
import { openWarehouse } from '../../warehouse/client.js';
import { createProgress } from '../../progress.js';

const eventMessageMaxChars = 1000; // events.message is a VARCHAR(1000)

export async function etlStep(context: StepContext): Promise<StepOutcome> {
  requireSettings(context.loaded, ['mongodb.url'], '`worker etl`');
  const { runEtl, describeOversize } = await import('../../warehouse/index.js');
  const schema = scratchSchema(context.loaded.config, context.txn);
  const warehouse = await openWarehouse(context.loaded);
  const bar = createProgress({ label: `etl ${schema}`, unit: 'rows' });
  const abort = () => void warehouse.close();
  context.signal.addEventListener('abort', abort);
  try {
    const result = await runEtl({
      mysql: () => connectScratch(context.loaded),
      schema,
      db: warehouse.db,
      geo: context.txn.geo,
      cycleStart: context.txn.cycleStart,
      mappings: context.loaded.config.warehouse.mappings,
      log: (line) => context.log.info(line),
      // Between batches: a worker that lost its lease stops before writing more.
      checkpoint: (point) => {
        if (context.signal.aborted) throw new Error(`stopped: ${String(context.signal.reason)}`);
        bar.update(point.read, `(${point.collection})`);
      },
    });
    bar.finish();
    // The log has every collection's rows stored in GridFS (up to 20 each); the status event, shown by `txn show`, the first few.
    const oversize = result.collections.filter((collection) => collection.oversize > 0).map((collection) => `${collection.name}: ${describeOversize(collection, 3)}`);
    const message = [`${result.documentsWritten} documents written in ${result.writeOps} write operations`, ...oversize].join('; ');
    await context.event({ phase: 'etl', rows: result.read, message: message.length > eventMessageMaxChars ? `${message.slice(0, eventMessageMaxChars - 1)}…` : message });
    return { rows: result.read, documents: result.documentsWritten };
  } finally {
    context.signal.removeEventListener('abort', abort);
    await warehouse.close();
  }
}
