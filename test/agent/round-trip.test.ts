// `agent run` end to end against the real servers: the source database → the inbox → what the centre's
// decrypt and load workers do (openDelivery, loadDump) → a second database that must be bit-exact, and
// the Ganymede database recording the file the inbox really holds.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runAgent, type AgentRunResult } from '../../src/commands/agent/run.js';
import { readPrivateKey, readPublicKey } from '../../src/openpgp/keys.js';
import { loadDump } from '../../src/load/load-dump.js';
import { openDelivery } from '../../src/load/open-delivery.js';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { tempDir } from '../support/ganymede.js';
import { createTortureSchema, tortureTables } from '../pipeline/torture-schema.js';
import { baseTables, connectTo, endConnection, filesIn, inSource, sha256File, storedEvents, tableFacts, transactions, workDirOf } from './support.js';

const generatedRows = 3_000;

/** A few tables as Cloud Control has them, with JSON-ish text full of what escapes get wrong. */
async function createGeneratedSchema(fixture: AgentFixture): Promise<void> {
  await inSource(fixture, [
    `CREATE TABLE vms (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, state ENUM('running','stopped','error'),
       created_at DATETIME(3), cpu DOUBLE, price DECIMAL(12,4), meta TEXT, KEY ix_state (state))`,
    `CREATE TABLE volumes (id BIGINT AUTO_INCREMENT PRIMARY KEY, vm_id INT, size_bytes BIGINT UNSIGNED, label VARCHAR(100) CHARACTER SET latin1)`,
    'CREATE TABLE audit_log (at TIMESTAMP(6) NULL, actor VARCHAR(32), payload LONGTEXT)',
  ]);
  const conn = connectTo(fixture.sourceDatabase);
  try {
    for (let start = 0; start < generatedRows; start += 500) {
      const ids = Array.from({ length: 500 }, (_, i) => start + i + 1);
      const meta = (id: number) =>
        JSON.stringify({ id, tags: [`t${id % 7}`, null, id % 3 === 0], note: `tab\t nl\n cr\r "quoted" back\\slash \\N ü 😀 ${'x'.repeat(Math.abs(id) % 50)}`, nested: { deep: [{ a: id / 3 }] } });
      await conn.promise().query('INSERT INTO vms VALUES ?', [
        ids.map((id) => [id, `vm-${id}`, ['running', 'stopped', 'error'][id % 3], `2026-01-${String((id % 28) + 1).padStart(2, '0')} 12:34:56.789`, id / 7, (id * 1.2345).toFixed(4), id % 11 === 0 ? null : meta(id)]),
      ]);
      await conn.promise().query('INSERT INTO volumes (vm_id, size_bytes, label) VALUES ?', [ids.map((id) => [id, 2n ** 40n + BigInt(id), id % 5 === 0 ? null : `Lärm ${id}`])]);
      await conn.promise().query('INSERT INTO audit_log VALUES ?', [ids.map((id) => [id % 13 === 0 ? null : '2026-03-01 00:00:00.000001', `user${id % 4}`, meta(-id)])]);
    }
  } finally {
    await endConnection(conn);
  }
}

interface CentreView {
  result: AgentRunResult;
  loadedInto: string;
  signer: string;
}

/** What the decrypt and load workers will do with the delivered file. */
async function openAndLoad(fixture: AgentFixture, result: AgentRunResult, scratch: string): Promise<CentreView> {
  const [centreKey, geoKey] = await Promise.all([
    readFile(fixture.keys.centrePrivate, 'utf8').then((text) => readPrivateKey(text, 'centre key')),
    readFile(fixture.keys.geoPublic, 'utf8').then((text) => readPublicKey(text, 'GEO key')),
  ]);
  const opened = await openDelivery({
    file: join(fixture.inboxDir, result.file.name),
    decryptionKeys: centreKey,
    expectedSigningKeys: geoKey,
    dir: join(scratch, `txn-${result.transactionId}`),
  });
  const loadedInto = await fixture.api.databases.create('loaded');
  const conn = connectTo(loadedInto);
  try {
    await loadDump(conn, opened.dir, opened.manifest);
  } finally {
    await endConnection(conn);
  }
  return { result, loadedInto, signer: opened.signerFingerprint };
}

async function assertSameTables(fixture: AgentFixture, loadedInto: string, expected: readonly string[]): Promise<void> {
  const admin = await fixture.admin();
  assert.deepEqual(await baseTables(admin, loadedInto), [...expected].sort());
  for (const table of expected) {
    assert.equal(await tableFacts(admin, loadedInto, table), await tableFacts(admin, fixture.sourceDatabase, table), `table ${table}`);
  }
}

async function assertDeliveredAsRecorded(fixture: AgentFixture, result: AgentRunResult): Promise<void> {
  const inboxFile = join(fixture.inboxDir, result.file.name);
  const [txn] = (await transactions(fixture)).filter((row) => row.id === result.transactionId);
  assert.ok(txn, `transaction ${result.transactionId} exists`);
  assert.equal(txn.state, 'delivered');
  assert.equal(txn.cycle, result.cycle);
  assert.equal(txn.fileName, result.file.name);
  assert.equal(txn.fileSize, (await stat(inboxFile)).size);
  assert.equal(txn.fileSha256, await sha256File(inboxFile));
  assert.equal((await stat(inboxFile)).mode & 0o777, 0o600);
  assert.deepEqual(filesIn(fixture.inboxDir), [result.file.name], 'one file, no .part');
  assert.deepEqual(filesIn(workDirOf(fixture)).filter((name) => name !== 'events.jsonl'), [], 'no spool left in the work dir');
  assert.equal(readFileSync(join(workDirOf(fixture), 'events.jsonl'), 'utf8'), '', 'every status event was sent');
}

describe('agent run, round trip of the torture schema', { timeout: 300_000 }, () => {
  let fixture: AgentFixture;
  const scratch = tempDir('agent-centre');
  let view: CentreView;

  before(async () => {
    fixture = await agentFixture('torture');
    const conn = connectTo(fixture.sourceDatabase);
    try {
      await createTortureSchema(conn);
    } finally {
      await endConnection(conn);
    }
    const result = await runAgent({ loaded: fixture.config(), retryBaseDelayMs: 10 });
    view = await openAndLoad(fixture, result, scratch.path);
  });
  after(async () => {
    await fixture?.dispose();
    scratch.remove();
  });

  test('every table loads at the centre with the same CHECKSUM TABLE and row count', async () => {
    await assertSameTables(fixture, view.loadedInto, tortureTables);
    assert.equal(view.result.tables, tortureTables.length);
  });

  test('the file is signed by the GEO key the centre registered', () => {
    assert.equal(view.signer, fixture.keys.geoFingerprint);
  });

  test('the transaction is delivered with the name, size and sha256 of the file in the inbox', async () => {
    await assertDeliveredAsRecorded(fixture, view.result);
    assert.equal(view.result.file.name, `torture_${view.result.cycle}_d1.tar.zst.gpg`);
  });

  test('the status events tell the story: opened, extracted, delivered, closed, in that order', async () => {
    const phases = (await storedEvents(fixture, view.result.transactionId)).filter((event) => event.level !== 'debug').map((event) => event.phase);
    assert.deepEqual(phases, ['opened', 'extracted', 'delivered', 'closed']);
  });
});

describe('agent run, round trip of a generated Cloud Control database', { timeout: 300_000 }, () => {
  let fixture: AgentFixture;
  const scratch = tempDir('agent-centre');
  let view: CentreView;

  before(async () => {
    fixture = await agentFixture('apac');
    await createGeneratedSchema(fixture);
    const result = await runAgent({ loaded: fixture.config(), retryBaseDelayMs: 10 });
    view = await openAndLoad(fixture, result, scratch.path);
  });
  after(async () => {
    await fixture?.dispose();
    scratch.remove();
  });

  test('three tables of a few thousand rows each arrive bit-exact', async () => {
    await assertSameTables(fixture, view.loadedInto, ['audit_log', 'volumes', 'vms']);
    assert.equal(view.result.rows, 3 * generatedRows);
  });

  test('the inbox file is the one recorded, and the events name every phase', async () => {
    await assertDeliveredAsRecorded(fixture, view.result);
    const events = await storedEvents(fixture, view.result.transactionId);
    for (const phase of ['opened', 'extracted', 'delivered', 'closed']) assert.equal(events.filter((event) => event.phase === phase).length, 1, `one ${phase} event`);
    assert.ok(events.every((event) => event.key !== null), 'every event has its replay key');
  });
});
