// A centre without Ganymede must still be able to open an agent file: GnuPG 2.2, given the centre's
// private key and the GEO's public key, decrypts it, reports a good signature by the GEO, and the
// plaintext is a gzip'd tar of the dump.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { runAgent, type AgentRunResult } from '../../src/commands/agent/run.js';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { inSource } from './support.js';

/** gpg in a throwaway home (a short path: gpg-agent's socket must fit in 108 bytes). */
async function gpg(home: string, args: string[], input?: string) {
  const result = await execa('gpg', ['--batch', '--homedir', home, '--pinentry-mode', 'loopback', '--passphrase', '', ...args], {
    ...(input === undefined ? {} : { input }),
    reject: false,
  });
  return { code: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

describe('GnuPG opens what agent run delivers', { timeout: 300_000 }, () => {
  let fixture: AgentFixture;
  let home: string;
  let result: AgentRunResult;
  let status: string[];
  let plaintext: string;

  before(async () => {
    fixture = await agentFixture('latam');
    await inSource(fixture, [
      'CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(40))',
      "INSERT INTO accounts VALUES (1, 'one'), (2, 'two')",
      'CREATE TABLE empty_one (id INT PRIMARY KEY)',
    ]);
    // gzip, which stays supported for hosts without the zstd tool; zstd.test.ts covers the default.
    result = await runAgent({ loaded: fixture.config({ 'agent.compression': 'gzip' }), retryBaseDelayMs: 10 });
    home = await mkdtemp(join(tmpdir(), 'gnupg-'));
    for (const file of [fixture.keys.centrePrivate, fixture.keys.geoPublic]) {
      const imported = await gpg(home, ['--import'], readFileSync(file, 'utf8'));
      assert.equal(imported.code, 0, imported.stderr);
    }
    plaintext = join(home, 'dump.tar.gz');
    const decrypted = await gpg(home, ['--status-fd', '1', '-o', plaintext, '--decrypt', join(fixture.inboxDir, result.file.name)]);
    assert.equal(decrypted.code, 0, decrypted.stderr);
    status = decrypted.stdout
      .split('\n')
      .filter((line) => line.startsWith('[GNUPG:] '))
      .map((line) => line.slice(9));
  });
  after(async () => {
    if (home) {
      await execa('gpgconf', ['--homedir', home, '--kill', 'all'], { reject: false });
      await rm(home, { recursive: true, force: true });
    }
    await fixture?.dispose();
  });

  test('gpg --decrypt reports a good, valid signature by the GEO key and an intact file', () => {
    const geo = fixture.keys.geoFingerprint;
    assert.ok(status.some((line) => line.startsWith(`GOODSIG ${geo.slice(-16)} `)), status.join('\n'));
    const validSig = status.find((line) => line.startsWith('VALIDSIG '))?.split(' ');
    assert.equal(validSig?.[1], geo);
    assert.equal(validSig?.at(-1), geo, 'the primary key is the GEO key');
    assert.ok(status.includes('DECRYPTION_OKAY') && status.includes('GOODMDC'), status.join('\n'));
    assert.ok(!status.some((line) => /^(BADSIG|ERRSIG|BADMDC|DECRYPTION_FAILED|EXPKEYSIG|REVKEYSIG)/.test(line)), status.join('\n'));
  });

  test('it was encrypted to the centre key only', () => {
    const recipients = status.filter((line) => line.startsWith('ENC_TO ')).map((line) => line.split(' ')[1]);
    assert.equal(recipients.length, 1, status.join('\n'));
    // ENC_TO names the encryption subkey; gpg lists it under the centre's primary key.
    assert.ok(status.some((line) => line.startsWith('DECRYPTION_KEY ') && line.split(' ')[2] === fixture.keys.centreFingerprint), status.join('\n'));
  });

  test('the plaintext gunzips to a tar of plan.json, the data parts and manifest.json, in that order', async () => {
    const listing = await execa('tar', ['-tzvf', plaintext], { reject: false });
    assert.equal(listing.exitCode, 0, String(listing.stderr));
    const names = String(listing.stdout)
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(/\s+/).at(-1)!);
    assert.equal(names[0], 'plan.json');
    assert.equal(names.at(-1), 'manifest.json');
    const data = names.slice(1, -1);
    assert.ok(data.length >= 1, names.join(' '));
    for (const name of data) assert.match(name, /^data\/\d{4}\.tsv\.\d{6}$/);
    assert.ok(String(listing.stdout).split('\n').filter(Boolean).every((line) => line.startsWith('-')), 'regular files only');
    const manifest = JSON.parse(String((await execa('tar', ['-xzOf', plaintext, 'manifest.json'])).stdout)) as { tables: Array<{ name: string; rows: number }> };
    assert.deepEqual(
      manifest.tables.map((table) => [table.name, table.rows]),
      [['accounts', 2], ['empty_one', 0]],
    );
  });
});
