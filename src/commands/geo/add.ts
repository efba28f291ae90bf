// `ganymede geo add NAME --public-key FILE`: registers a GEO and its signing key; prints its API token once.
import { refusedError, usageError } from '../../errors.js';
import type { LoadedConfig } from '../../config/load.js';
import { addGeo, findGeo, type Geo } from '../../state/geos.js';
import { withStateDb } from '../context.js';
import { auditCli } from '../audit.js';
import { readGeoPublicKeyFile } from './public-key-file.js';
import { withTokenOutput } from './token-output.js';

export interface GeoAddOptions {
  loaded: LoadedConfig;
  name: string;
  publicKeyFile: string;
  tokenFile?: string | undefined;
}

export const geoNamePattern = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export async function runGeoAdd(options: GeoAddOptions): Promise<{ geo: Geo; token: string; tokenWentTo: 'file' | 'stdout' }> {
  if (!geoNamePattern.test(options.name)) throw usageError(`"${options.name}" is not a GEO name: use 1-32 lower-case letters, digits, _ or -`);
  const key = await readGeoPublicKeyFile(options.publicKeyFile);
  return withStateDb(options.loaded, async (db) => {
    const exists = () => refusedError(`a GEO named ${options.name} exists already`, 'use `ganymede geo rotate-key` or `rotate-token` to change it');
    if (await findGeo(db, options.name)) throw exists();
    return withTokenOutput(options.tokenFile, async () => {
      const added = await addGeo(db, { name: options.name, publicKey: key.armored, keyFingerprint: key.fingerprint });
      if (!added) throw exists();
      await auditCli(db, 'geo.add', `geo:${options.name}`, { keyFingerprint: key.fingerprint, tokenHint: added.geo.tokenHint });
      return added;
    });
  });
}
