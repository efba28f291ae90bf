import { refusedError, usageError } from '../../errors.js';
import type { LoadedConfig } from '../../config/load.js';
import { removeGeo } from '../../state/geos.js';
import { withStateDb } from '../context.js';
import { auditCli } from '../audit.js';

/** Removes a GEO that has no history; one that delivered anything is kept and should be disabled instead. */
export async function runGeoRemove({ loaded, name }: { loaded: LoadedConfig; name: string }): Promise<{ removed: string }> {
  return withStateDb(loaded, async (db) => {
    const outcome = await removeGeo(db, name);
    if (outcome === 'not-found') throw usageError(`no GEO named ${name}`, 'see `ganymede geo list`');
    if (outcome === 'has-history') {
      throw refusedError(`GEO ${name} has transactions, so it is kept to preserve their history`, `run \`ganymede geo disable ${name}\` to stop it`);
    }
    await auditCli(db, 'geo.remove', `geo:${name}`);
    return { removed: name };
  });
}
