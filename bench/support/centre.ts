// What an agent needs from a centre, set up for a benchmark (done in 4 steps): the status API in this
// process over a fresh, migrated Ganymede database; the centre's and the GEO's keys; the GEO registered
// with its token; and a throwaway GnuPG home holding the same keys, for the by-hand pipeline.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { generateKeyPair } from '../../src/openpgp/keys.js';
import { startTestApi, type TestApi } from '../../test/support/ganymede.js';

export interface BenchCentre {
  api: TestApi;
  geo: string;
  token: string;
  keyFiles: { centrePublic: string; centrePrivate: string; geoPrivate: string; geoPublic: string };
  /** gpg arguments that use the throwaway home: `-r centre@… -u geo@…` work with them. */
  gpgArgs: string[];
  centreEmail: string;
  geoEmail: string;
  stop(): Promise<void>;
}

export async function setUpCentre(dir: string, geo = 'bench'): Promise<BenchCentre> {
  // step 1: the API over a migrated database of its own (dropped by stop())
  const api = await startTestApi();
  try {
    // step 2: keys, as `ganymede keys generate` makes them, in 0600 files
    const centreEmail = 'centre@bench.example';
    const geoEmail = `${geo}@bench.example`;
    const [centre, geoKeys] = await Promise.all([generateKeyPair({ name: 'centre', email: centreEmail }), generateKeyPair({ name: geo, email: geoEmail })]);
    const keyFiles = {
      centrePublic: join(dir, 'centre.pub.asc'),
      centrePrivate: join(dir, 'centre.key.asc'),
      geoPrivate: join(dir, `${geo}.key.asc`),
      geoPublic: join(dir, `${geo}.pub.asc`),
    };
    await writeFile(keyFiles.centrePublic, centre.publicKeyArmored, { mode: 0o600 });
    await writeFile(keyFiles.centrePrivate, centre.privateKeyArmored, { mode: 0o600 });
    await writeFile(keyFiles.geoPrivate, geoKeys.privateKeyArmored, { mode: 0o600 });
    await writeFile(keyFiles.geoPublic, geoKeys.publicKeyArmored, { mode: 0o600 });

    // step 3: the GEO and its token
    const added = await fetch(`${api.url}/v1/geos`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: geo, publicKey: geoKeys.publicKeyArmored }),
    });
    if (added.status !== 201) throw new Error(`registering GEO ${geo} failed: ${added.status} ${await added.text()}`);
    const token = ((await added.json()) as { token: string }).token;

    // step 4: GnuPG with the centre's key (to encrypt to, and to check the agent's file) and the GEO's (to sign)
    const gnupgHome = join(dir, 'gnupg');
    await mkdir(gnupgHome, { mode: 0o700 });
    const gpgArgs = ['--batch', '--homedir', gnupgHome, '--trust-model', 'always', '--yes'];
    await execa('gpg', [...gpgArgs, '--import', keyFiles.centrePrivate, keyFiles.geoPrivate]);
    return {
      api,
      geo,
      token,
      keyFiles,
      gpgArgs,
      centreEmail,
      geoEmail,
      async stop() {
        await execa('gpgconf', ['--homedir', gnupgHome, '--kill', 'all'], { reject: false });
        await api.stop();
      },
    };
  } catch (error) {
    await api.stop();
    throw error;
  }
}
