// `worker feed --cycle C`: the cycle's data feed from the warehouse into the feed store under <cycle>/
// (feed.store; by default the local <feed dir>/<cycle>/).
import { join } from 'node:path';
import { requireSettings } from '../../config/load.js';
import { refusedError } from '../../errors.js';
import { geosInCycle, getCycle } from '../../state/cycles.js';
import type { StepOutcome } from '../../state/steps.js';
import type { CycleStepContext } from '../../worker/runtime.js';
import { openWarehouse } from '../../warehouse/client.js';
import { openFeedStore } from '../../feed/store.js';

export async function feedStep(context: CycleStepContext): Promise<StepOutcome> {
  requireSettings(context.loaded, ['mongodb.url'], '`worker feed`');
  const { config } = context.loaded;
  const cycle = await getCycle(context.db, context.cycleStart);
  const geos = await geosInCycle(context.db, context.cycleStart);
  // The tick never makes a feed due without a GEO in the warehouse; this is for a hand-run step, or a GEO
  // whose forced re-delivery took it out of the warehouse meanwhile. Glassbeam never gets "geos": [].
  if (geos.length === 0) {
    throw refusedError(`no GEO of cycle ${context.cycle} is in the warehouse: a feed without any GEO is never built`, `when a GEO's hour is in the warehouse: \`ganymede cycle feed ${context.cycle} --allow-missing\``);
  }
  const { buildFeed } = await import('../../feed/build.js');
  const store = await openFeedStore(context.loaded, context.log);
  const warehouse = await openWarehouse(context.loaded);
  try {
    const where = `${store.describe()} under ${context.cycle}/`;
    const manifest = await buildFeed({
      db: warehouse.db,
      cycleStart: context.cycleStart,
      geos,
      missingGeos: cycle?.missingGeos ?? [],
      encoding: config.feed.format,
      mode: config.feed.mode,
      store,
      // Local to this host and this cycle: only the file being written waits here on its way to the store.
      spoolDir: join(config.site.data_dir, 'feed-spool', context.cycle),
      signal: context.signal,
    });
    const rows = manifest.files.reduce((sum, file) => sum + file.rows, 0);
    const bytes = manifest.files.reduce((sum, file) => sum + file.bytes, 0);
    context.log.info(`feed of ${manifest.files.length} files (${manifest.mode}, ${manifest.encoding}) for GEOs ${geos.join(', ') || 'none'} in ${where}${manifest.missingGeos.length ? `; missing ${manifest.missingGeos.join(', ')}` : ''}`);
    await context.event({ phase: 'feed', rows, bytes, message: `${manifest.files.length} files in ${where}` });
    return { rows, bytes };
  } finally {
    await Promise.all([warehouse.close(), store.close()]);
  }
}
