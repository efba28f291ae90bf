// A centre and one GEO ready for `agent run`: the API over a fresh Ganymede database, the centre's and
// the GEO's keys, the GEO registered with its token, a Cloud Control source database and a config.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type mysql from 'mysql2/promise';
import { readFile } from 'node:fs/promises';
import type { PrivateKey, PublicKey } from 'openpgp';
import { generateKeyPair, readPrivateKey, readPublicKey } from '../../src/openpgp/keys.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { mysqlUrlFor } from './mysql.js';
import { startTestApi, tempDir, testConfig, writePrivateFile, type TestApi } from './ganymede.js';

export interface AgentFixture {
  api: TestApi;
  geo: string;
  token: string;
  sourceDatabase: string;
  dir: string;
  inboxDir: string;
  keys: { centrePrivate: string; centrePublic: string; geoPrivate: string; geoPublic: string; centreFingerprint: string; geoFingerprint: string };
  /** The agent's config; `settings` override or add keys. */
  config(settings?: Record<string, string | number | boolean>): LoadedConfig;
  admin(): Promise<mysql.Connection>;
  dispose(): Promise<void>;
}

/** `centreConfig`: the API's own settings and secrets (an object-store centre.inbox and its keys). */
export async function agentFixture(geo = 'emea', centreConfig: { settings?: Record<string, string | number | boolean>; secrets?: Record<string, string> } = {}): Promise<AgentFixture> {
  const api = await startTestApi(centreConfig.settings, centreConfig.secrets);
  const dir = tempDir('agent');
  const [centre, geoKeys] = await Promise.all([generateKeyPair({ name: 'centre' }), generateKeyPair({ name: geo })]);
  const keys = {
    centrePrivate: writePrivateFile(join(dir.path, 'centre.key.asc'), centre.privateKeyArmored),
    centrePublic: writePrivateFile(join(dir.path, 'centre.pub.asc'), centre.publicKeyArmored),
    geoPrivate: writePrivateFile(join(dir.path, `${geo}.key.asc`), geoKeys.privateKeyArmored),
    geoPublic: writePrivateFile(join(dir.path, `${geo}.pub.asc`), geoKeys.publicKeyArmored),
    centreFingerprint: centre.fingerprint,
    geoFingerprint: geoKeys.fingerprint,
  };
  const added = await fetch(`${api.url}/v1/geos`, {
    method: 'POST',
    headers: { authorization: `Bearer ${api.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: geo, publicKey: geoKeys.publicKeyArmored }),
  });
  if (added.status !== 201) throw new Error(`adding the GEO failed: ${added.status} ${await added.text()}`);
  const token = ((await added.json()) as { token: string }).token;
  const sourceDatabase = await api.databases.create('source');
  const inboxDir = join(dir.path, 'inbox');
  mkdirSync(inboxDir, { mode: 0o700 });
  return {
    api,
    geo,
    token,
    sourceDatabase,
    dir: dir.path,
    inboxDir,
    keys,
    config: (settings = {}) =>
      testConfig(
        {
          'api.url': api.url,
          'logging.level': 'warn',
          'agent.geo': geo,
          'agent.source.url': mysqlUrlFor(sourceDatabase),
          'agent.signing_key_file': keys.geoPrivate,
          'agent.centre_public_key_file': keys.centrePublic,
          'agent.inbox': `file://${inboxDir}`,
          'agent.work_dir': join(dir.path, 'work'),
          ...settings,
        },
        { 'agent.token': token },
      ),
    admin: () => api.databases.admin(),
    async dispose() {
      await api.stop();
      dir.remove();
    },
  };
}

/** The fixture's keys as the centre and the GEO hold them: the centre's to open a delivery, the GEO's to sign one. */
export async function readFixtureKeys(fixture: AgentFixture): Promise<{ centre: PrivateKey; geo: PublicKey; geoPrivate: PrivateKey }> {
  return {
    centre: await readPrivateKey(await readFile(fixture.keys.centrePrivate, 'utf8'), 'centre key'),
    geo: await readPublicKey(await readFile(fixture.keys.geoPublic, 'utf8'), 'GEO key'),
    geoPrivate: await readPrivateKey(await readFile(fixture.keys.geoPrivate, 'utf8'), 'GEO signing key'),
  };
}
