// The streamed load against the real servers: an agent's delivery of the torture schema goes from the
// inbox file straight into MySQL (no work dir) and must be bit-exact, however it is run (one pass, the
// manifest known first or only at the end, two passes splitting the tables); a file that fails its
// OpenPGP check at the end, a truncated one, a stop and a lost connection each reject, and say which.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import type mysql from 'mysql2';
import type { PrivateKey, PublicKey } from 'openpgp';
import { runAgent } from '../../src/commands/agent/run.js';
import { OpenPgpRefusal, openStream } from '../../src/openpgp/open.js';
import { sealStream } from '../../src/openpgp/seal.js';
import { DeliveryRefusal, type DeliverySource } from '../../src/load/delivery-reader.js';
import { DumpManifestError, type DumpManifest } from '../../src/dump/dump-manifest.js';
import { loadDelivery, splitTablesByBytes, type LoadedDelivery } from '../../src/load/load-delivery.js';
import { TableMismatchError } from '../../src/load/load-tables.js';
import { readTar } from '../../src/load/tar-reader.js';
import { tarEnd, tarEntry } from '../../src/dump/tar-stream.js';
import { verifyDelivery } from '../../src/load/verify-delivery.js';
import { agentFixture, readFixtureKeys, type AgentFixture } from '../support/agent-fixture.js';
import { makeParty } from '../openpgp/fixtures.js';
import { baseTables, connectTo, endConnection, tableFacts } from '../agent/support.js';
import { createTortureSchema, tortureTables } from './torture-schema.js';

describe('loadDelivery: an agent delivery streamed into MySQL', { timeout: 300_000 }, () => {
  let fixture: AgentFixture;
  let file: string;
  let keys: { centre: PrivateKey; geo: PublicKey; geoPrivate: PrivateKey };
  let manifest: DumpManifest;
  const source = (overrides: Partial<DeliverySource> = {}): DeliverySource => ({ file, decryptionKeys: keys.centre, expectedSigningKeys: keys.geo, ...overrides });

  /** Runs `load` with connections to a new schema; returns the schema's name, or the error it threw. */
  async function intoSchema<T>(connectionCount: number, load: (connections: mysql.Connection[]) => Promise<T>): Promise<{ schema: string; result?: T; error?: unknown }> {
    const schema = await fixture.api.databases.create('streamed');
    const connections = Array.from({ length: connectionCount }, () => connectTo(schema));
    try {
      return { schema, result: await load(connections) };
    } catch (error) {
      return { schema, error };
    } finally {
      for (const conn of connections) await endConnection(conn).catch(() => conn.destroy());
    }
  }

  async function assertBitExact(schema: string, loaded: LoadedDelivery[]): Promise<void> {
    const admin = await fixture.admin();
    assert.deepEqual(await baseTables(admin, schema), [...tortureTables].sort());
    for (const table of tortureTables) assert.equal(await tableFacts(admin, schema, table), await tableFacts(admin, fixture.sourceDatabase, table), `table ${table}`);
    const verified = loaded.flatMap((pass) => pass.tables.map((table) => table.table));
    assert.deepEqual(verified.sort(), [...tortureTables].sort(), 'every table verified against the manifest, once');
  }

  /** The delivery's compressed tar, decrypted (and verified). */
  async function compressedTar(): Promise<Buffer> {
    const plaintext = openStream(Readable.from([readFileSync(file)]), { decryptionKeys: keys.centre, expectedSigningKeys: keys.geo });
    const compressed = await buffer(plaintext);
    await plaintext.verified;
    return compressed;
  }

  /** The agent's delivery with its manifest (or plan) changed by `change`, signed by the GEO all the same, in a file of its own. */
  async function withManifest(name: string, change: (manifest: DumpManifest) => void, entryPath = 'manifest.json'): Promise<{ path: string; manifest: DumpManifest }> {
    const tar = execFileSync('zstd', ['-d', '-q', '-c'], { input: await compressedTar(), maxBuffer: 1 << 30 });
    const entries: Array<{ path: string; data: Buffer }> = [];
    await readTar(Readable.from([tar]), async (entry) => {
      const chunks: Buffer[] = [];
      return { write: async (chunk) => void chunks.push(Buffer.from(chunk)), end: async () => void entries.push({ path: entry.path, data: Buffer.concat(chunks) }) };
    });
    const at = entries.findIndex((entry) => entry.path === entryPath);
    const changed = JSON.parse(entries[at]!.data.toString('utf8')) as DumpManifest;
    change(changed);
    entries[at] = { path: entryPath, data: Buffer.from(JSON.stringify(changed)) };
    const compressed = execFileSync('zstd', ['-q', '-c'], { input: Buffer.concat([...entries.map((entry) => tarEntry(entry.path, entry.data)), tarEnd()]), maxBuffer: 1 << 30 });
    const path = join(fixture.dir, name);
    writeFileSync(path, await buffer(sealStream(Readable.from([compressed]), { encryptionKeys: keys.centre.toPublic(), signingKey: keys.geoPrivate })));
    return { path, manifest: changed };
  }

  before(async () => {
    fixture = await agentFixture('stream');
    const conn = connectTo(fixture.sourceDatabase);
    try {
      await createTortureSchema(conn);
    } finally {
      await endConnection(conn);
    }
    const delivered = await runAgent({ loaded: fixture.config(), retryBaseDelayMs: 10 });
    file = join(fixture.inboxDir, delivered.file.name);
    keys = await readFixtureKeys(fixture);
    manifest = (await verifyDelivery(source())).manifest;
  });
  after(async () => {
    await fixture?.dispose();
  });

  test('one pass on one connection, the manifest from a verifying pass: every table bit-exact and verified', async () => {
    const { schema, result, error } = await intoSchema(1, (connections) => loadDelivery(connections, source(), { manifest }));
    assert.equal(error, undefined);
    assert.equal(result!.signerFingerprint, fixture.keys.geoFingerprint);
    assert.deepEqual(result!.manifest, manifest);
    await assertBitExact(schema, [result!]);
  });

  test('without a manifest first: the tables are verified against the one at the end of the stream', async () => {
    const { schema, result, error } = await intoSchema(2, (connections) => loadDelivery(connections, source()));
    assert.equal(error, undefined);
    await assertBitExact(schema, [result!]);
  });

  test('two passes at once over the same file, each loading half of the bytes on its own connection', async () => {
    const halves = splitTablesByBytes(manifest, 2);
    assert.ok(halves.every((half) => half.size > 0));
    const { schema, result, error } = await intoSchema(2, (connections) =>
      Promise.all(halves.map((tables, pass) => loadDelivery(connections[pass]!, source(), { manifest, tables }))),
    );
    assert.equal(error, undefined);
    assert.deepEqual(result!.map((pass) => new Set(pass.tables.map((table) => table.table))), halves);
    await assertBitExact(schema, result!);
  });

  test('a file whose OpenPGP check fails at its end rejects, after its data went into the schema (the caller drops it)', async () => {
    // The same compressed tar, signed by a key that is not the GEO's: the signer is only known wrong at the end.
    const compressed = await compressedTar();
    const stranger = await makeParty('stranger');
    const strangers = join(fixture.dir, 'signed-by-a-stranger.gpg');
    writeFileSync(strangers, await buffer(sealStream(Readable.from([compressed]), { encryptionKeys: keys.centre.toPublic(), signingKey: stranger.privateKey })));
    // The agent's own file with its last bytes (the integrity check) damaged.
    const tampered = join(fixture.dir, 'tampered.gpg');
    const bytes = Buffer.from(readFileSync(file));
    bytes[bytes.length - 3]! ^= 0x40;
    writeFileSync(tampered, bytes);

    for (const [bad, reason] of [
      [strangers, 'unexpected-signer'],
      [tampered, 'tampered'],
    ] as const) {
      const { schema, error } = await intoSchema(1, (connections) => loadDelivery(connections, source({ file: bad }), { manifest }));
      assert.ok(error instanceof OpenPgpRefusal, `${bad}: ${String(error)}`);
      assert.equal(error.reason, reason);
      // What the stream had passed on before its end was loaded (how far that got depends on the buffers
      // between decryption and MySQL): untrusted, there for the caller to drop.
      const left = await baseTables(await fixture.admin(), schema);
      assert.ok(left.length > 0 && left.every((table) => tortureTables.includes(table)), `${bad}: tables left before the verdict: ${left.join(', ')}`);
    }
  });

  test('a truncated delivery rejects as truncated', async () => {
    const truncated = join(fixture.dir, 'truncated.gpg');
    const bytes = readFileSync(file);
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const { error } = await intoSchema(1, (connections) => loadDelivery(connections, source({ file: truncated }), { manifest }));
    assert.ok(error instanceof OpenPgpRefusal, String(error));
    assert.equal(error.reason, 'truncated');
  });

  test('a stop ends the load under way: it rejects with the reason, loads no further table, and the connection still works', async () => {
    const controller = new AbortController();
    const stopped = new Error('stopped by the test');
    const started: string[] = [];
    const { schema, result } = await intoSchema(1, async ([conn]) => {
      const error = await loadDelivery(conn!, source({ signal: controller.signal }), {
        manifest,
        onTable: (table, index) => {
          started.push(table.name);
          if (index === 1) setImmediate(() => controller.abort(stopped));
        },
      }).then(
        () => undefined,
        (rejected: unknown) => rejected,
      );
      const [rows] = await conn!.promise().query({ sql: 'SELECT 1', rowsAsArray: true });
      return { error, rows };
    });
    assert.equal(result!.error, stopped);
    assert.deepEqual(result!.rows, [[1]], 'the connection answers after the stop');
    assert.equal(started.length, 2, `no table started after the stop: ${started.join(', ')}`);
    const admin = await fixture.admin();
    assert.deepEqual(await baseTables(admin, schema), [...started].sort(), 'the tables started before the stop, for the caller to drop');
  });

  test('a connection lost while loading is the centre\'s failure, passed on as it is, not judged as the file\'s', async () => {
    const { error } = await intoSchema(1, (connections) =>
      loadDelivery(connections, source(), { manifest, onTable: (_table, index) => void (index === 2 && setImmediate(() => connections[0]!.destroy())) }),
    );
    assert.ok(error instanceof Error, String(error));
    assert.ok(!(error instanceof OpenPgpRefusal) && !(error instanceof DeliveryRefusal), `${error.name}: ${error.message}`);
    assert.match(error.message, /loading table|closed state|connection/i);
  });

  test('a table that differs from the signed manifest: the rest of the file is read for its verdict, then the table is named', async () => {
    const differs = 'ints';
    const { path, manifest: signed } = await withManifest('wrong-checksum.gpg', (changed) => {
      const table = changed.tables.find((candidate) => candidate.name === differs)!;
      table.checksum = table.checksum === '0'.repeat(16) ? '1'.repeat(16) : '0'.repeat(16);
    });
    // The verifying pass cannot see it (sizes match); the load reads the table back.
    assert.deepEqual((await verifyDelivery(source({ file: path }))).manifest, signed);
    const { schema, error } = await intoSchema(1, (connections) => loadDelivery(connections, source({ file: path }), { manifest: signed }));
    assert.ok(error instanceof TableMismatchError, String(error));
    assert.equal(error.table, differs);
    // Tables come in the plan's order; one without rows (no parts) would only be created at the end.
    const inTarOrder = signed.tables.filter((table) => table.rows > 0).map((table) => table.name);
    assert.deepEqual(await baseTables(await fixture.admin(), schema), inTarOrder.slice(0, inTarOrder.indexOf(differs) + 1).sort(), 'no table loaded after the one that differs');

    // The same file with its integrity check damaged: the OpenPGP verdict comes first.
    const damaged = join(fixture.dir, 'wrong-checksum-damaged.gpg');
    const bytes = Buffer.from(readFileSync(path));
    bytes[bytes.length - 3]! ^= 0x40;
    writeFileSync(damaged, bytes);
    const refused = await intoSchema(1, (connections) => loadDelivery(connections, source({ file: damaged }), { manifest: signed }));
    assert.ok(refused.error instanceof OpenPgpRefusal, String(refused.error));
  });

  test('verifyDelivery refuses a manifest whose sizes are not the data\'s; loadDelivery refuses a file that is not the one verified', async () => {
    const { path } = await withManifest('wrong-size.gpg', (changed) => void (changed.tables.find((table) => table.name === 'ints')!.bytes += 1));
    await assert.rejects(verifyDelivery(source({ file: path })), (error: unknown) => {
      assert.ok(error instanceof DeliveryRefusal, String(error));
      assert.match(error.message, /^the data of table "ints" is (\d+) bytes, its manifest entry says (\d+)$/);
      return true;
    });
    const { error } = await intoSchema(1, (connections) => loadDelivery(connections, source({ file: path }), { manifest }));
    assert.ok(error instanceof Error);
    assert.match(error.message, /not the one that was verified/);
  });

  test('a signed plan.json that is not a dump plan is refused as such, by the verifying pass and by the load', async () => {
    const { path } = await withManifest('bad-plan.gpg', (plan) => void (plan.tables[0]!.columns = []), 'plan.json');
    const malformed = /^malformed dump plan: tables\[0\]\.columns: /;
    await assert.rejects(verifyDelivery(source({ file: path })), (error: unknown) => error instanceof DumpManifestError && malformed.test(error.message));
    const { error } = await intoSchema(1, (connections) => loadDelivery(connections, source({ file: path })));
    assert.ok(error instanceof DumpManifestError && malformed.test(error.message), String(error));
  });
});
