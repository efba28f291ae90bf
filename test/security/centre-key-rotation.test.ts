// `ganymede keys rotate`: the centre gets a new key pair; agents take the new public key over from the
// API only through a valid signature by the key they trust; decrypt opens files encrypted to the old key
// and to the new one; a key slipped into the API without that signature is ignored and reported; an
// interrupted rotation is finished by a re-run; GnuPG still reads the rotated key file.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import * as openpgp from 'openpgp';
import type mysql from 'mysql2/promise';
import { generateKeyPair, prependPrivateKey, readPrivateKey } from '../../src/openpgp/keys.js';
import { signHandover } from '../../src/openpgp/key-handover.js';
import { startCentre, type Centre, type CentreGeo } from '../support/centre-fixture.js';
import { sourceStatements, txnRow } from '../pipeline-e2e/support.js';

let centre: Centre;
let geo: CentreGeo;
const originalKey = () => centre.keys.fingerprint;

before(async () => {
  centre = await startCentre();
  geo = await centre.addGeo('north', await centre.addSource('centre-key', sourceStatements(4)));
});
after(async () => {
  await centre?.dispose();
});

/** The key IDs a delivered file is encrypted to (its public-key session key packets). */
async function recipientsOf(path: string): Promise<string[]> {
  const message = await openpgp.readMessage({ binaryMessage: readFileSync(path) });
  return message.getEncryptionKeyIDs().map((id) => id.toHex().toUpperCase());
}

/** The key IDs of a key's encryption subkeys, as a file encrypted to it names them. */
async function encryptionKeyIds(armoredPublicKey: string): Promise<string[]> {
  const key = await openpgp.readKey({ armoredKey: armoredPublicKey });
  return key.subkeys.map((subkey) => subkey.getKeyID().toHex().toUpperCase());
}

async function centreKeyEvents(txnId: number): Promise<Array<{ level: string; message: string }>> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>("SELECT level, message FROM events WHERE txn_id = ? AND phase = 'centre-key' ORDER BY id", [txnId]);
  return rows as Array<{ level: string; message: string }>;
}

let newKey: string;
let newPublicFile: string;

test('keys rotate: a new key in front of the private key file (still 0600, the old key kept), published signed by the old key', async () => {
  const waiting = await geo.deliver('2026-05-01T01');
  // Archived with the old keys: the last test restores these after both rotations.
  const archived = await centre.cli(['archive']);
  assert.equal(archived.code, 0, archived.stderr);
  const rotated = await centre.cli(['keys', 'rotate', '--json']);
  assert.equal(rotated.code, 0, rotated.stderr);
  const result = JSON.parse(rotated.stdout) as { from: string; to: string; publicKeyFile: string; resumed: boolean };
  assert.equal(result.from, originalKey());
  assert.notEqual(result.to, originalKey());
  assert.equal(result.resumed, false);
  newKey = result.to;
  newPublicFile = result.publicKeyFile;

  assert.equal(statSync(centre.keys.privateFile).mode & 0o777, 0o600);
  const inFile = await openpgp.readPrivateKeys({ armoredKeys: readFileSync(centre.keys.privateFile, 'utf8') });
  assert.deepEqual(inFile.map((key) => key.getFingerprint().toUpperCase()), [newKey, originalKey()]);
  assert.match(readFileSync(newPublicFile, 'utf8'), /BEGIN PGP PUBLIC KEY BLOCK/);

  const listed = await centre.cli(['keys', 'list', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  const keys = JSON.parse(listed.stdout) as Array<{ fingerprint: string; state: string; signedBy: string | null; inPrivateKeyFile: boolean; waitingDeliveries: number | null }>;
  assert.deepEqual(
    keys.map((key) => [key.fingerprint, key.state, key.signedBy, key.inPrivateKeyFile, key.waitingDeliveries]),
    [
      [originalKey(), 'retired', null, true, 1],
      [newKey, 'current', originalKey(), true, null],
    ],
    'the delivery made before the rotation is counted as possibly needing the old key',
  );
  assert.equal((await txnRow(centre, waiting.transactionId)).state, 'delivered');
});

test('the agent takes the new key over at its next run, and decrypt opens files encrypted to the old key and to the new one', async () => {
  const delivered = await geo.deliver('2026-05-01T02');
  const newIds = await encryptionKeyIds(readFileSync(newPublicFile, 'utf8'));
  assert.deepEqual(await recipientsOf(join(geo.inboxDir, delivered.file.name)), newIds, 'encrypted to the new key');
  assert.match((await centreKeyEvents(delivered.transactionId))[0]?.message ?? '', new RegExp(`took over centre key ${newKey} \\(signed by ${originalKey()}\\)`));
  const taken = join(geo.loaded().config.agent.work_dir!, 'centre-key.asc');
  assert.ok(existsSync(taken), 'kept for the next runs');

  // A central host whose key file still lacks the new key: decrypt waits and retries, nothing is refused.
  const rotatedFile = readFileSync(centre.keys.privateFile, 'utf8');
  writeFileSync(centre.keys.privateFile, centre.keys.privateArmored, { mode: 0o600 });
  try {
    const stale = await centre.cli(['worker', 'decrypt', '--txn', String(delivered.transactionId)]);
    assert.equal(stale.code, 6, stale.stderr);
    assert.match(stale.stderr, new RegExp(`lacks the newest centre key ${newKey} \\(published by \`keys rotate\`\\)`));
    assert.equal((await txnRow(centre, delivered.transactionId)).state, 'processing', 'waiting for its retry, not refused');
    assert.ok(existsSync(join(geo.inboxDir, delivered.file.name)), 'still in the inbox');
  } finally {
    writeFileSync(centre.keys.privateFile, rotatedFile, { mode: 0o600 });
  }
  await centre.db.query("UPDATE steps SET next_run_at = UTC_TIMESTAMP(3) WHERE txn_id = ? AND name = 'decrypt'", [delivered.transactionId]);

  const drained = await centre.cli(['jupiter', 'drain', '--timeout', '120']);
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>("SELECT cycle_start, state, error FROM transactions ORDER BY cycle_start");
  assert.deepEqual(rows.map((row) => row.state), ['done', 'done'], `${drained.stderr}\n${JSON.stringify(rows)}`);
  const listed = JSON.parse((await centre.cli(['keys', 'list', '--json'])).stdout) as Array<{ waitingDeliveries: number | null }>;
  assert.equal(listed[0]!.waitingDeliveries, 0, 'no waiting delivery needs the old key any more');
});

test('a key put into the API without a valid signature by the trusted key is ignored: the agent keeps encrypting to its key and reports it', async () => {
  const intruder = await generateKeyPair({ name: 'intruder' });
  const intruderKey = await readPrivateKey(intruder.privateKeyArmored, 'intruder', undefined, 'sign');
  // Signed, but by the intruder's own key, while claiming to be handed over by the current centre key.
  await centre.db.query(
    `INSERT INTO centre_keys (key_fingerprint, public_key, signed_by, signature, created_at) VALUES (?, ?, ?, ?, UTC_TIMESTAMP(3))`,
    [intruder.fingerprint, intruder.publicKeyArmored, newKey, await signHandover(intruderKey, intruder.publicKeyArmored)],
  );
  try {
    const delivered = await geo.deliver('2026-05-01T03');
    assert.deepEqual(await recipientsOf(join(geo.inboxDir, delivered.file.name)), await encryptionKeyIds(readFileSync(newPublicFile, 'utf8')));
    const [event] = await centreKeyEvents(delivered.transactionId);
    assert.equal(event?.level, 'error');
    assert.match(event?.message ?? '', new RegExp(`the API offers centre key ${intruder.fingerprint} without a valid signature by ${newKey}: ignored it, kept encrypting to ${newKey}`));

    // A new key in the agent's config (after a leak, handed out by hand) wins over the key it took over.
    const handed = await generateKeyPair({ name: 'handed-out' });
    const configPath = geo.configPath;
    const config = readFileSync(configPath, 'utf8');
    const handedFile = join(centre.dir, 'handed-out.pub.asc');
    writeFileSync(handedFile, handed.publicKeyArmored);
    writeFileSync(configPath, config.replace(JSON.stringify(centre.keys.publicFile), JSON.stringify(handedFile)));
    try {
      const reanchored = await geo.deliver('2026-05-01T06');
      assert.deepEqual(await recipientsOf(join(geo.inboxDir, reanchored.file.name)), await encryptionKeyIds(handed.publicKeyArmored));
      await centre.cli(['txn', 'cancel', String(reanchored.transactionId)]);
    } finally {
      writeFileSync(configPath, config);
    }

    // The centre's own file no longer matches what is published: rotate refuses rather than guess.
    const refused = await centre.cli(['keys', 'rotate']);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, new RegExp(`starts with key ${newKey}, but the newest centre key published is ${intruder.fingerprint}`));
  } finally {
    await centre.db.query('DELETE FROM centre_keys WHERE key_fingerprint = ?', [intruder.fingerprint]);
  }
});

test('a rotation interrupted after writing the key file is finished by the next keys rotate; GnuPG imports the file and decrypts with the newest key', async () => {
  // What a crash between the file and the database leaves: a new key in front, not yet published.
  const pair = await generateKeyPair({ name: 'ganymede centre' });
  const next = await readPrivateKey(pair.privateKeyArmored, 'next', undefined, 'decrypt');
  writeFileSync(centre.keys.privateFile, await prependPrivateKey(readFileSync(centre.keys.privateFile, 'utf8'), next), { mode: 0o600 });

  const resumed = await centre.cli(['keys', 'rotate', '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(JSON.parse(resumed.stdout).resumed, true);
  assert.match(resumed.stderr + resumed.stdout, new RegExp(pair.fingerprint));

  const delivered = await geo.deliver('2026-05-01T04');
  assert.match((await centreKeyEvents(delivered.transactionId))[0]?.message ?? '', new RegExp(`took over centre key ${pair.fingerprint} \\(signed by ${newKey}\\)`));

  const home = await mkdtemp(join(tmpdir(), 'gnupg-'));
  const gpg = (args: string[], input?: string) =>
    execa('gpg', ['--batch', '--homedir', home, '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { reject: false, ...(input === undefined ? {} : { input }) });
  const imported = await gpg(['--import'], readFileSync(centre.keys.privateFile, 'utf8'));
  assert.equal(imported.exitCode, 0, String(imported.stderr));
  assert.match(String(imported.stderr), /secret keys imported: 3/);
  assert.equal((await gpg(['--import'], geo.keys.publicArmored)).exitCode, 0);
  const decrypted = await gpg(['--decrypt', '-o', join(home, 'out'), join(geo.inboxDir, delivered.file.name)]);
  assert.equal(decrypted.exitCode, 0, String(decrypted.stderr));
  assert.match(String(decrypted.stderr), /Good signature from "north"/);

  const drained = await centre.cli(['jupiter', 'drain', '--timeout', '120']);
  assert.equal((await txnRow(centre, delivered.transactionId)).state, 'done', drained.stderr);
  const audit = await centre.cli(['audit', '--action', 'keys.rotate', '--json']);
  assert.equal((JSON.parse(audit.stdout) as unknown[]).length, 2);
});

test('after keys rotate and geo rotate-key, what was archived before either still restores and verifies', async () => {
  const next = await generateKeyPair({ name: 'north-2027' });
  const publicFile = join(centre.dir, 'north-2027.pub.asc');
  writeFileSync(publicFile, next.publicKeyArmored);
  assert.equal((await centre.cli(['geo', 'rotate-key', 'north', '--public-key', publicFile])).code, 0);

  const schemas = [`gmd_restore_krot_geo_${process.pid}`, `gmd_restore_krot_db_${process.pid}`];
  try {
    const agentDump = await centre.cli(['archive', 'restore', '--geo', 'north', '--cycle', '2026-05-01T01', '--into', schemas[0]!]);
    assert.equal(agentDump.code, 0, agentDump.stderr);
    assert.match(agentDump.stdout, new RegExp(`verified; signed by ${geo.keys.fingerprint}`, 'i'), 'signed by the key the GEO has since retired');
    const stateDump = await centre.cli(['archive', 'restore', '--into', schemas[1]!]);
    assert.equal(stateDump.code, 0, stateDump.stderr);
    assert.match(stateDump.stdout, new RegExp(`signed by ${originalKey()}`, 'i'), 'signed by the centre key since retired');
  } finally {
    const admin = await centre.admin();
    // The fixture's own connection: it closes it.
    for (const schema of schemas) await admin.query(`DROP DATABASE IF EXISTS \`${schema}\``);
  }
});
