// A delivery carries the schema's views, routines, triggers and events (dump format 3), each with its
// sql_mode, character set and definer; the centre's load creates none of them (a trigger that sets
// NEW.created = NOW() would rewrite data), and a GEO whose objects section is hostile (too big, wrong
// types, a definition that creates something else) is refused with a message naming what is wrong.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import type { PrivateKey, PublicKey } from 'openpgp';
import { runAgent } from '../../src/commands/agent/run.js';
import { openStream } from '../../src/openpgp/open.js';
import { sealStream } from '../../src/openpgp/seal.js';
import type { DeliverySource } from '../../src/load/delivery-reader.js';
import { DumpManifestError, type DumpManifest } from '../../src/dump/dump-manifest.js';
import { loadDelivery } from '../../src/load/load-delivery.js';
import { maxObjectSqlBytes, maxSchemaObjects, type SchemaObject } from '../../src/dump/schema-objects.js';
import { readTar } from '../../src/load/tar-reader.js';
import { tarEnd, tarEntry } from '../../src/dump/tar-stream.js';
import { verifyDelivery } from '../../src/load/verify-delivery.js';
import { agentFixture, readFixtureKeys, type AgentFixture } from '../support/agent-fixture.js';
import { missingDefiner, objectNames, objectsSql, objectsSqlMode, schemaObjectStatements } from '../support/schema-objects-source.js';
import { baseTables, connectTo, endConnection, inSource, tableFacts } from '../agent/support.js';

describe('schema objects in a delivery', { timeout: 300_000 }, () => {
  let fixture: AgentFixture;
  let file: string;
  let keys: { centre: PrivateKey; geo: PublicKey; geoPrivate: PrivateKey };
  let manifest: DumpManifest;
  const source = (overrides: Partial<DeliverySource> = {}): DeliverySource => ({ file, decryptionKeys: keys.centre, expectedSigningKeys: keys.geo, ...overrides });

  /** The delivery with plan.json and manifest.json changed alike by `change`, signed by the GEO all the same. */
  async function withObjects(name: string, change: (manifest: DumpManifest & { schemaObjects: unknown }) => void): Promise<string> {
    const plaintext = openStream(Readable.from([readFileSync(file)]), { decryptionKeys: keys.centre, expectedSigningKeys: keys.geo });
    const compressed = await buffer(plaintext);
    await plaintext.verified;
    const tar = execFileSync('zstd', ['-d', '-q', '-c'], { input: compressed, maxBuffer: 1 << 30 });
    const entries: Array<{ path: string; data: Buffer }> = [];
    await readTar(Readable.from([tar]), async (entry) => {
      const chunks: Buffer[] = [];
      return { write: async (chunk) => void chunks.push(Buffer.from(chunk)), end: async () => void entries.push({ path: entry.path, data: Buffer.concat(chunks) }) };
    });
    for (const entry of entries.filter((item) => item.path === 'plan.json' || item.path === 'manifest.json')) {
      const changed = JSON.parse(entry.data.toString('utf8')) as DumpManifest & { schemaObjects: unknown };
      change(changed);
      entry.data = Buffer.from(JSON.stringify(changed));
    }
    const recompressed = execFileSync('zstd', ['-q', '-c'], { input: Buffer.concat([...entries.map((entry) => tarEntry(entry.path, entry.data)), tarEnd()]), maxBuffer: 1 << 30 });
    const path = join(fixture.dir, name);
    writeFileSync(path, await buffer(sealStream(Readable.from([recompressed]), { encryptionKeys: keys.centre.toPublic(), signingKey: keys.geoPrivate })));
    return path;
  }

  async function objectsIn(schema: string): Promise<string[]> {
    const admin = await fixture.admin();
    const [rows] = (await admin.query(objectsSql, [schema, schema, schema, schema])) as unknown as [Array<{ kind: string; name: string }>];
    return rows.map((row) => `${row.kind} ${row.name}`);
  }

  before(async () => {
    fixture = await agentFixture('objects');
    await inSource(fixture, schemaObjectStatements());
    const delivered = await runAgent({ loaded: fixture.config(), retryBaseDelayMs: 10 });
    file = join(fixture.inboxDir, delivered.file.name);
    keys = await readFixtureKeys(fixture);
    manifest = (await verifyDelivery(source())).manifest;
  });
  after(async () => {
    await fixture?.dispose();
  });

  test('the signed manifest records every view, routine, trigger and event, with its sql_mode, character set and definer', async () => {
    assert.equal(manifest.formatVersion, 3);
    const objects = manifest.schemaObjects!.objects;
    const recorded = (kind: SchemaObject['kind']) => objects.filter((object) => object.kind === kind).map((object) => object.name).sort();
    for (const kind of ['function', 'procedure', 'view', 'trigger', 'event'] as const) assert.deepEqual(recorded(kind), [...objectNames[kind]], kind);
    assert.deepEqual(manifest.schemaObjects!.unreadable, []);
    const byName = new Map(objects.map((object) => [object.name, object]));
    const trigger = byName.get('accounts_created')!;
    assert.match(trigger.createSql, /^CREATE DEFINER=`[^`]+`@`[^`]+` TRIGGER accounts_created BEFORE INSERT ON accounts FOR EACH ROW SET NEW\.created = NOW\(\)$/);
    assert.equal(trigger.sqlMode, objectsSqlMode, 'the sql_mode it was created under, not the session\'s');
    assert.equal(trigger.table, 'accounts');
    assert.equal(byName.get('open_account')!.definer, missingDefiner().text);
    assert.match(byName.get('v_rich')!.createSql, /VIEW `v_rich` AS select `v_accounts`\.`id` AS `id`/, 'no schema name before the schema\'s own views');
    assert.equal(byName.get('v_rich')!.sqlMode, null, 'a view keeps no sql_mode');
    assert.equal(byName.get('purge_audit')!.timeZone, 'SYSTEM');
    for (const object of objects) assert.match(object.characterSetClient, /^utf8mb4$/, `${object.name}: the agent's connection character set`);
  });

  test('load creates the tables only: no view, routine, trigger or event, and the rows are the source\'s (no trigger fired)', async () => {
    const schema = await fixture.api.databases.create('loaded');
    const conn = connectTo(schema);
    try {
      await loadDelivery([conn], source(), { manifest });
    } finally {
      await endConnection(conn);
    }
    const admin = await fixture.admin();
    assert.deepEqual(await baseTables(admin, schema), ['accounts', 'audit_log']);
    assert.deepEqual(await objectsIn(schema), []);
    assert.ok((await objectsIn(fixture.sourceDatabase)).length >= 9, 'the source has them');
    for (const table of ['accounts', 'audit_log']) assert.equal(await tableFacts(admin, schema, table), await tableFacts(admin, fixture.sourceDatabase, table), table);
  });

  test('a delivery whose objects section is hostile is refused by the verifying pass and by the load, saying what is wrong', async () => {
    const first = () => manifest.schemaObjects!.objects[0]!;
    const cases: Array<[string, (changed: DumpManifest & { schemaObjects: unknown }) => void, RegExp]> = [
      ['oversized definition', (changed) => void ((changed.schemaObjects as { objects: SchemaObject[] }).objects[0]!.createSql = `${first().createSql} ${'x'.repeat(maxObjectSqlBytes)}`), new RegExp(`schemaObjects\\.objects\\[0\\]\\.createSql: at most ${maxObjectSqlBytes} bytes`)],
      ['too many objects', (changed) => void ((changed.schemaObjects as { objects: SchemaObject[] }).objects = Array.from({ length: maxSchemaObjects + 1 }, () => first())), /schemaObjects\.objects: Too big: expected array to have <=10000 items/],
      ['wrong types', (changed) => void ((changed as { schemaObjects: unknown }).schemaObjects = { objects: [{ ...first(), name: 42, sqlMode: ['x'], kind: 'table' }], unreadable: 'none' }), /schemaObjects\.objects\[0\]\.kind: .*schemaObjects\.objects\[0\]\.name: .*schemaObjects\.unreadable: /],
      ['a definition that creates something else', (changed) => {
        const objects = (changed.schemaObjects as { objects: SchemaObject[] }).objects;
        const view = objects.find((object) => object.kind === 'view')!;
        view.createSql = view.createSql.replace(/VIEW `[^`]+`/, 'VIEW `mysql`.`user_copy`');
      }, /schemaObjects\.objects\[\d+\] \(view "a_top"\)\.createSql: not a CREATE … VIEW statement naming one object of this schema/],
      ['format 3 without the section', (changed) => void delete (changed as { schemaObjects?: unknown }).schemaObjects, /schemaObjects: a dump of format 3 records the schema's views/],
    ];
    for (const [what, change, message] of cases) {
      const path = await withObjects(`${what.replaceAll(' ', '-')}.gpg`, change);
      await assert.rejects(verifyDelivery(source({ file: path })), (error: unknown) => {
        assert.ok(error instanceof DumpManifestError, `${what}: ${String(error)}`);
        assert.match(error.message, /^malformed dump (plan|manifest): /, what);
        assert.match(error.message, message, what);
        assert.ok(error.message.length < 2000, `${what}: one readable line (${error.message.length} characters)`);
        return true;
      });
      const schema = await fixture.api.databases.create('hostile');
      const conn = connectTo(schema);
      try {
        await assert.rejects(loadDelivery([conn], source({ file: path })), (error: unknown) => error instanceof DumpManifestError && message.test(error.message), what);
      } finally {
        await endConnection(conn);
      }
      assert.deepEqual(await objectsIn(schema), [], `${what}: nothing created`);
    }
  });

  test('a dump of format 2 (no objects section) still reads', async () => {
    const path = await withObjects('format-2.gpg', (changed) => {
      changed.formatVersion = 2 as DumpManifest['formatVersion'];
      delete (changed as { schemaObjects?: unknown }).schemaObjects;
    });
    const verified = await verifyDelivery(source({ file: path }));
    assert.equal(verified.manifest.schemaObjects, undefined);
    assert.equal(verified.manifest.tables.length, 2);
  });
});
