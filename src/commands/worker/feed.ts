// `worker feed --cycle C`: the cycle's data feed from the warehouse into the feed store under <cycle>/
// (feed.store; by default the local <feed dir>/<cycle>/).
// The feed is the content of its hour: a GEO whose warehouse content is already of a later hour (its later
// hour was loaded first, or etl was run by hand out of order) is left out, as missing, rather than fed
// with another hour's rows; the tick holds a GEO's next etl until the hours it is in are fed.
// An hour already sent keeps what was sent: `--force` re-checks the stored feed against what Glassbeam got
// and leaves it as it is (`worker send --force` sends those bytes again); `--force --rebuild` builds it
// from the warehouse as it is now. Neither queues a send: a replay goes out only by an operator's hand.
import { join } from 'node:path';
import { requireSettings } from '../../config/load.js';
import { failedError, refusedError } from '../../errors.js';
import { formatCycle } from '../../cycle.js';
import { geosInCycle, getCycle, listFeedFiles, type FeedFileRecord } from '../../state/cycles.js';
import { readGeoSchemas } from '../../state/geo-schemas.js';
import { feedSchemas } from '../../feed/schemas.js';
import type { StepOutcome } from '../../state/step-outcomes.js';
import type { CycleStepContext } from '../../worker/runtime.js';
import { openWarehouse } from '../../warehouse/client.js';
import { geosAheadOf } from '../../warehouse/progress.js';
import { feedManifestName, feedObjectName, openFeedStore, readFeedManifest, type FeedManifest } from '../../feed/store.js';
import type { Transport } from '../../transport/transport.js';

const totals = (manifest: FeedManifest) => ({
  rows: manifest.files.reduce((sum, file) => sum + file.rows, 0),
  bytes: manifest.files.reduce((sum, file) => sum + file.bytes, 0),
});

export async function feedStep(context: CycleStepContext): Promise<StepOutcome> {
  requireSettings(context.loaded, ['mongodb.url'], '`worker feed`');
  const { config } = context.loaded;
  const cycle = await getCycle(context.db, context.cycleStart);
  const sent = await listFeedFiles(context.db, context.cycleStart);
  const replay = context.force && sent.length > 0;
  if (context.rebuild && !replay) throw refusedError(`--rebuild: cycle ${context.cycle} has not been sent, so its feed is built from the warehouse anyway`, `run it without --rebuild`);
  const store = await openFeedStore(context.loaded, context.log);
  try {
    const where = `${store.describe()} under ${context.cycle}/`;
    if (replay && !context.rebuild) {
      const manifest = await keptAsSent(store, context.cycle, sent);
      context.log.info(`the feed of ${context.cycle} is kept as it was sent (${manifest.files.length} files, the bytes Glassbeam got); to send it again: ganymede worker send --cycle ${context.cycle} --force`);
      await context.event({ phase: 'feed', ...totals(manifest), message: `kept as sent: ${manifest.files.length} files in ${where}` });
      return { ...totals(manifest), replay: true };
    }
    let geos = await geosInCycle(context.db, context.cycleStart);
    // The tick never makes a feed due without a GEO in the warehouse; this is for a hand-run step, or a GEO
    // whose forced re-delivery took it out of the warehouse meanwhile. Glassbeam never gets "geos": [].
    const noGeo = (why: string) =>
      refusedError(`no GEO of cycle ${context.cycle} is in the warehouse${why}: a feed without any GEO is never built`, `when a GEO's hour is in the warehouse: \`ganymede cycle feed ${context.cycle} --allow-missing\``);
    if (geos.length === 0) throw noGeo('');
    const missingGeos = [...(cycle?.missingGeos ?? [])];
    const warehouse = await openWarehouse(context.loaded);
    try {
      if (!replay) {
        const ahead = await geosAheadOf(warehouse.db, geos, context.cycleStart);
        for (const { geo, cycle: at } of ahead) {
          context.log.warn(`GEO ${geo} is left out of the feed of ${context.cycle}: the warehouse already holds its hour ${formatCycle(at)}, which carries its content`);
        }
        geos = geos.filter((geo) => !ahead.some((item) => item.geo === geo));
        missingGeos.push(...ahead.map((item) => item.geo).filter((geo) => !missingGeos.includes(geo)));
        missingGeos.sort();
      }
      if (geos.length === 0) throw noGeo(" with this hour's content (each is at a later hour)");
      const { buildFeed } = await import('../../feed/build.js');
      const schemas = feedSchemas(await readGeoSchemas(context.db, geos, context.cycleStart), config.warehouse.mappings);
      if (schemas.changes.length > 0) context.log.info(`the manifest of ${context.cycle} lists ${schemas.changes.length} schema changes (GEO ${[...new Set(schemas.changes.map((change) => change.geo))].join(', ')})`);
      const manifest = await buildFeed({
        db: warehouse.db,
        cycleStart: context.cycleStart,
        geos,
        missingGeos,
        schemas,
        encoding: config.feed.format,
        mode: config.feed.mode,
        store,
        // Local to this host and this cycle: only the file being written waits here on its way to the store.
        spoolDir: join(config.site.data_dir, 'feed-spool', context.cycle),
        signal: context.signal,
        // Read while an etl run by hand wrote a later hour of a fed GEO: this read is not the hour's content.
        beforePublishing: replay ? undefined : async () => {
          const moved = await geosAheadOf(warehouse.db, geos, context.cycleStart);
          if (moved.length > 0) {
            throw failedError(`GEO ${moved.map((item) => `${item.geo} (hour ${formatCycle(item.cycle)})`).join(', ')} moved past ${context.cycle} in the warehouse while its feed was read; the feed is built again without it`);
          }
        },
      });
      const { rows, bytes } = totals(manifest);
      const built = replay ? 'rebuilt from the warehouse as it is now (not the bytes sent before; not sent until `worker send --force`)' : 'feed';
      context.log.info(`${built} of ${manifest.files.length} files (${manifest.mode}, ${manifest.encoding}) for GEOs ${geos.join(', ')} in ${where}${manifest.missingGeos.length ? `; missing ${manifest.missingGeos.join(', ')}` : ''}`);
      await context.event({ phase: 'feed', rows, bytes, message: `${replay ? 'rebuilt: ' : ''}${manifest.files.length} files in ${where}` });
      return { rows, bytes, ...(replay ? { replay: true } : {}) };
    } finally {
      await warehouse.close();
    }
  } finally {
    await store.close();
  }
}

/**
 * The stored feed of a sent hour, if it is still what Glassbeam got: its manifest byte for byte, and
 * every file it names there at the size sent (`send` checks each file's sha256 again as it streams).
 */
async function keptAsSent(store: Transport, cycle: string, sent: FeedFileRecord[]): Promise<FeedManifest> {
  const rebuild = `to build it from the warehouse as it is now (other bytes than were sent): ganymede worker feed --cycle ${cycle} --force --rebuild`;
  const sentManifest = sent.find((file) => file.name === feedManifestName);
  const stored = await readFeedManifest(store, cycle);
  if (!stored || !sentManifest || stored.sha256 !== sentManifest.sha256) {
    throw refusedError(`the feed of ${cycle} as sent ${sentManifest ? `on ${sentManifest.sentAt.toISOString()} ` : ''}is no longer in ${store.describe()}${stored ? ' (its manifest there differs)' : ''}`, rebuild);
  }
  // Each file asked for by name: a Swift container's listing may lag its objects (an update the container
  // server was too busy to take waits for the object-updater), and a lagging listing is no reason to refuse.
  for (const file of stored.manifest.files) {
    const found = await store.stat(feedObjectName(cycle, file.name));
    if (found?.size !== file.bytes) {
      throw refusedError(`the feed of ${cycle} as sent is no longer whole in ${store.describe()}: ${file.name} is ${found ? 'of another size' : 'missing'}`, rebuild);
    }
  }
  return stored.manifest;
}
