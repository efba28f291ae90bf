// enable, disable, rotate-token, rotate-key: changes to one GEO that take effect at once.
import { usageError, notFoundError } from '../../errors.js';
import type { LoadedConfig } from '../../config/load.js';
import { RevokedKeyError, findGeo, listRetiredGeoKeys, rotateGeoKey, rotateGeoToken, setGeoEnabled, type Geo } from '../../state/geos.js';
import { countGeoTransactions } from '../../state/transactions.js';
import { withStateDb } from '../context.js';
import { auditCli } from '../audit.js';
import { readGeoPublicKeyFile } from './public-key-file.js';
import { checkTokenFile, withTokenOutput } from './token-output.js';

const noSuchGeo = (name: string) => notFoundError(`no GEO named ${name}`, 'see `ganymede geo list`');

export interface GeoEnabledPlan {
  geo: string;
  enabled: boolean;
  /** False when the GEO already was so: nothing would change. */
  changes: boolean;
  /** Its deliveries waiting at the centre, which a disable refuses (to quarantine) when their next step starts. */
  waitingDeliveries: number;
}

/** `--dry-run`: what enabling or disabling would change, read without writing anything. */
export async function planGeoSetEnabled({ loaded, name, enabled }: { loaded: LoadedConfig; name: string; enabled: boolean }): Promise<GeoEnabledPlan> {
  return withStateDb(loaded, async (db) => {
    const geo = await findGeo(db, name);
    if (!geo) throw noSuchGeo(name);
    const { waiting } = await countGeoTransactions(db, geo.id);
    return { geo: name, enabled, changes: geo.enabled !== enabled, waitingDeliveries: waiting };
  });
}

export function describeGeoEnabledPlan(plan: GeoEnabledPlan): string {
  const verb = plan.enabled ? 'enable' : 'disable';
  if (!plan.changes) return `dry run: GEO ${plan.geo} is ${plan.enabled ? 'enabled' : 'disabled'} already; \`geo ${verb}\` would change nothing`;
  if (plan.enabled) return `dry run: would enable GEO ${plan.geo}: its token would work again; nothing was changed`;
  return `dry run: would disable GEO ${plan.geo}: its token refused at once, and its ${plan.waitingDeliveries} ${plan.waitingDeliveries === 1 ? 'delivery' : 'deliveries'} waiting at the centre refused (to quarantine) when their next step starts; nothing was changed`;
}

export async function runGeoSetEnabled({ loaded, name, enabled }: { loaded: LoadedConfig; name: string; enabled: boolean }): Promise<Geo> {
  return withStateDb(loaded, async (db) => {
    const geo = await setGeoEnabled(db, name, enabled);
    if (!geo) throw noSuchGeo(name);
    await auditCli(db, enabled ? 'geo.enable' : 'geo.disable', `geo:${name}`);
    return geo;
  });
}

export interface GeoRotateTokenPlan {
  dryRun: true;
  geo: string;
  /** The start of the token in force, which would stop working at once. */
  currentTokenHint: string;
  /** Where the new token would go: this new file, or stdout (null). */
  tokenFile: string | null;
}

/** `--dry-run`: the GEO and the token file checked as a rotation checks them; no token is made. */
export async function planGeoRotateToken(options: { loaded: LoadedConfig; name: string; tokenFile?: string | undefined }): Promise<GeoRotateTokenPlan> {
  return withStateDb(options.loaded, async (db) => {
    const geo = await findGeo(db, options.name);
    if (!geo) throw noSuchGeo(options.name);
    await checkTokenFile(options.tokenFile);
    return { dryRun: true, geo: geo.name, currentTokenHint: geo.tokenHint, tokenFile: options.tokenFile ?? null };
  });
}

export function describeGeoRotateTokenPlan(plan: GeoRotateTokenPlan): string {
  const token = plan.tokenFile ? `written to ${plan.tokenFile} (a new file, 0600)` : 'shown once on stdout';
  return `dry run: would give GEO ${plan.geo} a new API token, ${token}; its token in force (${plan.currentTokenHint}…) would stop working at once; nothing was changed`;
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

export interface GeoRotateKeyPlan {
  dryRun: true;
  geo: string;
  /** The key in force now, and the one given. */
  currentKeyFingerprint: string;
  keyFingerprint: string;
  /** The key in force now, retired (still verifying what was delivered before) — or null when it is the one given. */
  retires: string | null;
  /** Keys that would verify nothing any more, not even files already delivered (--revoke-old-key). */
  revokes: string[];
}

/** `--dry-run`: the key file, the GEO and a revoked key checked as a rotation checks them; what would change, nothing written. */
export async function planGeoRotateKey(options: { loaded: LoadedConfig; name: string; publicKeyFile: string; revokeOld?: boolean | undefined }): Promise<GeoRotateKeyPlan> {
  const key = await readGeoPublicKeyFile(options.publicKeyFile);
  return withStateDb(options.loaded, async (db) => {
    const geo = await findGeo(db, options.name);
    if (!geo) throw noSuchGeo(options.name);
    const retired = await listRetiredGeoKeys(db, geo.id);
    if (retired.some((old) => old.revoked && old.keyFingerprint === key.fingerprint)) {
      throw usageError(`key ${key.fingerprint} was revoked for GEO ${geo.name}; it cannot be put back in force`, 'the GEO needs a new key pair: `ganymede keys generate`');
    }
    const same = geo.keyFingerprint === key.fingerprint;
    // As rotateGeoKey: the same key with --revoke-old-key revokes every retired key; a new one revokes the key it retires.
    const revokes = !options.revokeOld ? [] : same ? [...new Set(retired.filter((old) => !old.revoked).map((old) => old.keyFingerprint))] : [geo.keyFingerprint];
    return { dryRun: true, geo: geo.name, currentKeyFingerprint: geo.keyFingerprint, keyFingerprint: key.fingerprint, retires: same ? null : geo.keyFingerprint, revokes };
  });
}

export function describeGeoRotateKeyPlan(plan: GeoRotateKeyPlan): string {
  const revoked = plan.revokes.length > 0 ? `; would revoke ${plan.revokes.join(', ')}: files signed by it are refused, even those already delivered` : '';
  if (!plan.retires) {
    return `dry run: key ${plan.keyFingerprint} is in force for GEO ${plan.geo} already${revoked || '; `geo rotate-key` would change nothing'}; nothing was changed`;
  }
  const overlap = plan.revokes.length > 0 ? '' : ' (it still verifies the files delivered before the rotation)';
  return `dry run: would put key ${plan.keyFingerprint} in force for GEO ${plan.geo} and retire ${plan.retires}${overlap}${revoked}; nothing was changed`;
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
