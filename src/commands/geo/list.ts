import type { LoadedConfig } from '../../config/load.js';
import { listGeos, type Geo } from '../../state/geos.js';
import { formatTime, renderTable } from '../../render/table.js';
import { withStateDb } from '../context.js';

export async function runGeoList({ loaded }: { loaded: LoadedConfig }): Promise<Geo[]> {
  return withStateDb(loaded, (db) => listGeos(db));
}

export function describeGeoList(geos: Geo[]): string {
  if (geos.length === 0) return 'no GEOs yet; add one with `ganymede geo add NAME --public-key FILE`';
  return renderTable(
    ['GEO', 'ENABLED', 'KEY FINGERPRINT', 'TOKEN', 'ADDED'],
    geos.map((geo) => [geo.name, geo.enabled ? 'yes' : 'no', geo.keyFingerprint, `${geo.tokenHint}…`, formatTime(geo.createdAt)]),
  );
}
