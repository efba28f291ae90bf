// Rotation and revocation of what GEOs sign with, end to end through agent runs and a drain: a rotated
// GEO key still covers the files delivered before the rotation and nothing after; --revoke-old-key
// covers nothing; a disabled GEO's waiting deliveries go to quarantine, its token is refused, and
// nothing is deleted.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateKeyPair } from '../../src/openpgp/keys.js';
import { runAgent } from '../../src/commands/agent/run.js';
import { startCentre, type Centre, type CentreGeo } from '../support/centre-fixture.js';
import { sourceStatements, txnRow } from '../pipeline-e2e/support.js';

let centre: Centre;
let source: string;

before(async () => {
  centre = await startCentre();
  source = await centre.addSource('rotation', sourceStatements(3));
});
after(async () => {
  await centre?.dispose();
});

/** A new key pair for the GEO: the public key in a file for `geo rotate-key`, the private one not yet installed. */
async function newKeyFor(geo: CentreGeo): Promise<{ publicFile: string; privateArmored: string; fingerprint: string }> {
  const pair = await generateKeyPair({ name: `${geo.name}-2027` });
  const publicFile = join(centre.dir, `${geo.name}-2027.pub.asc`);
  writeFileSync(publicFile, pair.publicKeyArmored);
  return { publicFile, privateArmored: pair.privateKeyArmored, fingerprint: pair.fingerprint };
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

test('geo rotate-key: a file signed with the old key counts if it was delivered before the rotation, and is refused if delivered after', async () => {
  const geo = await centre.addGeo('rota', source);
  const before = await geo.deliver('2026-04-01T01');
  const next = await newKeyFor(geo);

  const rotated = await centre.cli(['geo', 'rotate-key', 'rota', '--public-key', next.publicFile]);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stderr, new RegExp(`GEO rota now signs with key ${next.fingerprint}`));
  assert.match(rotated.stderr, /the old key still counts for files delivered before now, and for nothing delivered later/);
  const again = await centre.cli(['geo', 'rotate-key', 'rota', '--public-key', next.publicFile]);
  assert.equal(again.code, 0, `rotating to the key in force again changes nothing: ${again.stderr}`);

  // The GEO has not installed its new private key yet: this hour is still signed with the old one.
  const late = await geo.deliver('2026-04-01T02');
  writeFileSync(geo.keys.privateFile, next.privateArmored);
  const renewed = await geo.deliver('2026-04-01T03');

  const drained = await centre.cli(['jupiter', 'drain', '--timeout', '120']);
  assert.notEqual(drained.code, 0, 'a refused file makes the drain report a failure');

  assert.equal((await txnRow(centre, before.transactionId)).state, 'done', 'delivered before the rotation: accepted');
  assert.equal((await txnRow(centre, renewed.transactionId)).state, 'done', 'signed with the new key: accepted');
  const refused = await txnRow(centre, late.transactionId);
  assert.equal(refused.state, 'refused');
  assert.match(refused.error ?? '', new RegExp(`signed by key ${geo.keys.fingerprint}.*GEO rota retired that key on \\S+; a retired key only counts for files delivered before then`));
  const quarantined = join(centre.paths.quarantine('rota'), late.file.name);
  assert.equal(sha256(quarantined), late.file.sha256, 'the refused file is kept whole in quarantine');
  assert.equal(existsSync(join(centre.paths.inbox('rota'), late.file.name)), false);
  // The audit trail says who rotated and to which key.
  const audit = await centre.cli(['audit', '--action', 'geo.rotate-key', '--json']);
  assert.match(audit.stdout, new RegExp(next.fingerprint));
});

test('geo rotate-key --revoke-old-key: files the old key signed are refused even when delivered before the rotation', async () => {
  const geo = await centre.addGeo('leaked', source);
  const waiting = await geo.deliver('2026-04-01T01');
  const next = await newKeyFor(geo);
  const rotated = await centre.cli(['geo', 'rotate-key', 'leaked', '--public-key', next.publicFile, '--revoke-old-key']);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stderr, /the old key is revoked: files it signed are refused, even those already delivered/);

  await centre.cli(['jupiter', 'drain', '--timeout', '120']);
  const refused = await txnRow(centre, waiting.transactionId);
  assert.equal(refused.state, 'refused');
  assert.match(refused.error ?? '', /retired and revoked that key on/);
  assert.equal(sha256(join(centre.paths.quarantine('leaked'), waiting.file.name)), waiting.file.sha256);

  const back = await centre.cli(['geo', 'rotate-key', 'leaked', '--public-key', geo.keys.publicFile]);
  assert.equal(back.code, 2, 'a revoked key cannot be put back in force');
  assert.match(back.stderr, new RegExp(`key ${geo.keys.fingerprint} was revoked for GEO leaked; it cannot be put back in force`));
});

test('a GEO disabled after its file was decrypted: load refuses, and the file goes to quarantine', async () => {
  const geo = await centre.addGeo('midway', source);
  const delivered = await geo.deliver('2026-04-01T05');
  const decrypted = await centre.cli(['worker', 'decrypt', '--txn', String(delivered.transactionId)]);
  assert.equal(decrypted.code, 0, decrypted.stderr);
  assert.equal((await centre.cli(['geo', 'disable', 'midway'])).code, 0);
  const load = await centre.cli(['worker', 'load', '--txn', String(delivered.transactionId)]);
  assert.equal(load.code, 5, load.stderr);
  assert.match(load.stderr, /refused: GEO midway is disabled; its file was moved to \S+/);
  assert.equal((await txnRow(centre, delivered.transactionId)).state, 'refused');
  assert.equal(sha256(join(centre.paths.quarantine('midway'), delivered.file.name)), delivered.file.sha256);
});

test('geo disable: the token is refused at once, waiting deliveries go to quarantine whole, and after geo enable the hour is delivered again', async () => {
  const geo = await centre.addGeo('off', source);
  const waiting = await geo.deliver('2026-04-01T01');
  const disabled = await centre.cli(['geo', 'disable', 'off']);
  assert.equal(disabled.code, 0, disabled.stderr);

  await assert.rejects(geo.deliver('2026-04-01T02'), /GEO off is disabled/, 'the agent is refused by the API');
  await centre.cli(['jupiter', 'drain', '--timeout', '120']);
  const refused = await txnRow(centre, waiting.transactionId);
  assert.equal(refused.state, 'refused');
  assert.match(refused.error ?? '', /GEO off is disabled; its file was moved to \S+/);
  assert.equal(sha256(join(centre.paths.quarantine('off'), waiting.file.name)), waiting.file.sha256, 'nothing deleted');
  const shown = await centre.cli(['txn', 'show', String(waiting.transactionId)]);
  assert.match(shown.stdout, /GEO off is disabled/);

  assert.equal((await centre.cli(['geo', 'enable', 'off'])).code, 0);
  const again = await runAgent({ loaded: geo.loaded(), cycle: '2026-04-01T01', force: true, retryBaseDelayMs: 10 });
  // (The drain itself reports the hour's feed failing: this centre has no Glassbeam to send to.)
  const drained = await centre.cli(['jupiter', 'drain', '--timeout', '120']);
  assert.equal((await txnRow(centre, again.transactionId)).state, 'done', drained.stderr);
  assert.match(again.file.name, /_d2\./, 'a new delivery: the refused file keeps its name in quarantine');
  assert.equal(sha256(join(centre.paths.quarantine('off'), waiting.file.name)), waiting.file.sha256, 'still there after the new delivery');
});
