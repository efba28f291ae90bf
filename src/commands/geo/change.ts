// enable, disable, rotate-token, rotate-key: changes to one GEO that take effect at once.
import { usageError } from '../../errors.js';
import type { LoadedConfig } from '../../config/load.js';
import { rotateGeoKey, rotateGeoToken, setGeoEnabled, type Geo } from '../../state/geos.js';
import { withStateDb } from '../context.js';
import { readGeoPublicKeyFile } from './public-key-file.js';
import { withTokenOutput } from './token-output.js';

const noSuchGeo = (name: string) => usageError(`no GEO named ${name}`, 'see `ganymede geo list`');

export async function runGeoSetEnabled({ loaded, name, enabled }: { loaded: LoadedConfig; name: string; enabled: boolean }): Promise<Geo> {
  return withStateDb(loaded, async (db) => (await setGeoEnabled(db, name, enabled)) ?? Promise.reject(noSuchGeo(name)));
}

export async function runGeoRotateToken(options: { loaded: LoadedConfig; name: string; tokenFile?: string | undefined }) {
  return withStateDb(options.loaded, (db) =>
    withTokenOutput(options.tokenFile, async () => (await rotateGeoToken(db, options.name)) ?? Promise.reject(noSuchGeo(options.name))),
  );
}

export async function runGeoRotateKey(options: { loaded: LoadedConfig; name: string; publicKeyFile: string }): Promise<Geo> {
  const key = await readGeoPublicKeyFile(options.publicKeyFile);
  return withStateDb(options.loaded, async (db) => (await rotateGeoKey(db, options.name, key.armored, key.fingerprint)) ?? Promise.reject(noSuchGeo(options.name)));
}
