// enable, disable, rotate-token, rotate-key: changes to one GEO that take effect at once.
import { usageError } from '../../errors.js';
import type { LoadedConfig } from '../../config/load.js';
import { RevokedKeyError, rotateGeoKey, rotateGeoToken, setGeoEnabled, type Geo } from '../../state/geos.js';
import { withStateDb } from '../context.js';
import { auditCli } from '../audit.js';
import { readGeoPublicKeyFile } from './public-key-file.js';
import { withTokenOutput } from './token-output.js';

const noSuchGeo = (name: string) => usageError(`no GEO named ${name}`, 'see `ganymede geo list`');

export async function runGeoSetEnabled({ loaded, name, enabled }: { loaded: LoadedConfig; name: string; enabled: boolean }): Promise<Geo> {
  return withStateDb(loaded, async (db) => {
    const geo = await setGeoEnabled(db, name, enabled);
    if (!geo) throw noSuchGeo(name);
    await auditCli(db, enabled ? 'geo.enable' : 'geo.disable', `geo:${name}`);
    return geo;
  });
}

export async function runGeoRotateToken(options: { loaded: LoadedConfig; name: string; tokenFile?: string | undefined }) {
  return withStateDb(options.loaded, (db) =>
    withTokenOutput(options.tokenFile, async () => {
      const rotated = await rotateGeoToken(db, options.name);
      if (!rotated) throw noSuchGeo(options.name);
      await auditCli(db, 'geo.rotate-token', `geo:${options.name}`, { tokenHint: rotated.geo.tokenHint });
      return rotated;
    }),
  );
}

export async function runGeoRotateKey(options: { loaded: LoadedConfig; name: string; publicKeyFile: string; revokeOld?: boolean | undefined }): Promise<Geo> {
  const key = await readGeoPublicKeyFile(options.publicKeyFile);
  return withStateDb(options.loaded, async (db) => {
    const geo = await rotateGeoKey(db, options.name, key.armored, key.fingerprint, { revokeOld: options.revokeOld ?? false }).catch((error: unknown) => {
      throw error instanceof RevokedKeyError ? usageError(error.message, 'the GEO needs a new key pair: `ganymede keys generate`') : error;
    });
    if (!geo) throw noSuchGeo(options.name);
    await auditCli(db, 'geo.rotate-key', `geo:${options.name}`, { keyFingerprint: key.fingerprint, revokeOldKey: options.revokeOld ?? false });
    return geo;
  });
}
