// `ganymede geo add NAME --public-key FILE`: registers a GEO and its signing key; prints its API token once.
import { refusedError, usageError } from '../../errors.js';
import type { LoadedConfig } from '../../config/load.js';
import { addGeo, findGeo, type Geo } from '../../state/geos.js';
import { withStateDb } from '../context.js';
import { auditCli } from '../audit.js';
import { readGeoPublicKeyFile } from './public-key-file.js';
import { checkTokenFile, withTokenOutput } from './token-output.js';

export interface GeoAddOptions {
  loaded: LoadedConfig;
  name: string;
  publicKeyFile: string;
  tokenFile?: string | undefined;
}

export const geoNamePattern = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export interface GeoAddPlan {
  dryRun: true;
  geo: string;
  keyFingerprint: string;
  /** Where its token would go: this new file, or stdout (null). */
  tokenFile: string | null;
}

/** `--dry-run`: everything a run checks (the name, the key file, no such GEO yet, the token file), writing nothing. */
export async function planGeoAdd(options: GeoAddOptions): Promise<GeoAddPlan> {
  if (!geoNamePattern.test(options.name)) throw usageError(`"${options.name}" is not a GEO name: use 1-32 lower-case letters, digits, _ or -`);
  const key = await readGeoPublicKeyFile(options.publicKeyFile);
  return withStateDb(options.loaded, async (db) => {
    if (await findGeo(db, options.name)) throw refusedError(`a GEO named ${options.name} exists already`, 'use `ganymede geo rotate-key` or `rotate-token` to change it');
    await checkTokenFile(options.tokenFile);
    return { dryRun: true, geo: options.name, keyFingerprint: key.fingerprint, tokenFile: options.tokenFile ?? null };
  });
}

export function describeGeoAddPlan(plan: GeoAddPlan): string {
  const token = plan.tokenFile ? `written to ${plan.tokenFile} (a new file, 0600)` : 'shown once on stdout';
  return `dry run: would add GEO ${plan.geo} with signing key ${plan.keyFingerprint}; its new API token would be ${token}; nothing was changed`;
}

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
