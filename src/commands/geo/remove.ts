import { refusedError, notFoundError } from '../../errors.js';
import type { LoadedConfig } from '../../config/load.js';
import { findGeo, removeGeo } from '../../state/geos.js';
import { countGeoTransactions } from '../../state/transactions.js';
import { withStateDb } from '../context.js';
import { auditCli } from '../audit.js';

/** `--dry-run`: whether the GEO would be removed, read without writing anything. */
export async function planGeoRemove({ loaded, name }: { loaded: LoadedConfig; name: string }): Promise<{ wouldRemove: string }> {
  return withStateDb(loaded, async (db) => {
    const geo = await findGeo(db, name);
    if (!geo) throw notFoundError(`no GEO named ${name}`, 'see `ganymede geo list`');
    const { total } = await countGeoTransactions(db, geo.id);
    if (total > 0) throw refusedError(`GEO ${name} has transactions, so it would be kept to preserve their history`, `run \`ganymede geo disable ${name}\` to stop it`);
    return { wouldRemove: name };
  });
}

/** Removes a GEO that has no history; one that delivered anything is kept and should be disabled instead. */
export async function runGeoRemove({ loaded, name }: { loaded: LoadedConfig; name: string }): Promise<{ removed: string }> {
  return withStateDb(loaded, async (db) => {
    const outcome = await removeGeo(db, name);
    if (outcome === 'not-found') throw notFoundError(`no GEO named ${name}`, 'see `ganymede geo list`');
    if (outcome === 'has-history') {
      throw refusedError(`GEO ${name} has transactions, so it is kept to preserve their history`, `run \`ganymede geo disable ${name}\` to stop it`);
    }
    await auditCli(db, 'geo.remove', `geo:${name}`);
    return { removed: name };
  });
}
