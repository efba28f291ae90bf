// agent.compression zstd, the default: the file is a zstd'd tar under OpenPGP that GnuPG and the zstd tool read, and
// the centre opens it exactly like a gzip'd one (told apart by the magic bytes), bit-exact.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runAgent } from '../../src/commands/agent/run.js';
import { openDelivery } from '../../src/load/open-delivery.js';
import { loadDump } from '../../src/load/load-dump.js';
import { readPrivateKey, readPublicKey } from '../../src/openpgp/keys.js';
import { readFileSync } from 'node:fs';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { tempDir } from '../support/ganymede.js';
import { connectTo, endConnection, inSource, tableFacts } from './support.js';

let fixture: AgentFixture;
const work = tempDir('zstd');

before(async () => {
  fixture = await agentFixture('zst');
  await inSource(fixture, [
    'CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), body LONGBLOB, price DECIMAL(20,6))',
    "INSERT INTO items VALUES (1, 'ä 🚀', REPEAT(X'00FF0A09', 50000), 12.5), (2, NULL, NULL, -0.000001), (3, '\\\\N', '', 0)",
  ]);
});
after(async () => {
  await fixture?.dispose();
  work.remove();
});

test('a zstd delivery: named .tar.zst.gpg, readable by gpg | zstd -dc | tar, and loaded bit-exact by the centre', async () => {
  const result = await runAgent({ loaded: fixture.config({ 'agent.compression': 'zstd' }), cycle: '2026-11-20T05', retryBaseDelayMs: 10 });
  assert.match(result.file.name, /\.tar\.zst\.gpg$/);
  const file = join(fixture.inboxDir, result.file.name);

  const gnupg = join(work.path, 'gnupg');
  execFileSync('mkdir', ['-m', '700', '-p', gnupg]);
  execFileSync('gpg', ['--batch', '--homedir', gnupg, '--import', fixture.keys.centrePrivate, fixture.keys.geoPublic], { stdio: 'ignore' });
  const listing = execFileSync('bash', ['-c', `gpg --batch --homedir '${gnupg}' --decrypt '${file}' 2>/dev/null | zstd -dc | tar -t`], { encoding: 'utf8' });
  assert.match(listing, /^plan\.json$/m);
  assert.match(listing, /^data\/0001\.tsv\.000001$/m);
  assert.match(listing, /^manifest\.json$/m);
  execFileSync('gpgconf', ['--homedir', gnupg, '--kill', 'all'], { stdio: 'ignore' });

  const opened = await openDelivery({
    file,
    decryptionKeys: await readPrivateKey(readFileSync(fixture.keys.centrePrivate, 'utf8'), 'centre'),
    expectedSigningKeys: await readPublicKey(readFileSync(fixture.keys.geoPublic, 'utf8'), 'geo'),
    dir: join(work.path, 'dump'),
  });
  const target = await fixture.api.databases.create('zstdload');
  const conn = connectTo(target);
  try {
    await loadDump(conn, opened.dir, opened.manifest);
  } finally {
    await endConnection(conn);
  }
  const admin = await fixture.admin();
  assert.equal(await tableFacts(admin, target, 'items'), await tableFacts(admin, fixture.sourceDatabase, 'items'));
});
