// Rows too large for one MongoDB document (a 17.8 MB LONGBLOB, 17 MB of LONGTEXT, two 9 MB fields, a
// nested array of 17 MB): etl keeps them whole, their largest fields in GridFS, names them in its report,
// and the feed carries every byte back; a changed big field is an update whose old file goes, and a run
// cut off at any checkpoint converges on the warehouse of an uninterrupted one.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { BSON, Binary, type Db } from 'mongodb';
import { bigRowsTable, bigText, loadRows, randomBlob, sha256, type Cell } from '../support/big-rows.js';
import { cycle1, cycle2, etl, openRig, type Rig } from './fixture.js';
import { buildFeed } from '../../src/feed/build.js';
import { FileTransport } from '../../src/transport/file.js';
import { canonicalText } from '../../src/warehouse/hash.js';
import { maxDocumentBytes, rehydrate } from '../../src/warehouse/oversize.js';
import type { EtlCheckpoint, EtlOptions } from '../../src/warehouse/index.js';
import { ndjsonRecords } from '../cycle/support.js';

const mb = 1_000_000;
const blobA = randomBlob();
const blobA2 = randomBlob();
const textA = bigText('a');
const blobB = randomBlob(9 * mb);
const textB = bigText('b', 9 * mb);
const parts = Array.from({ length: 17 }, () => randomBlob(mb));
const mappings = [{ table: 'blobs', nest: [{ field: 'parts', table: 'parts', on: { blob_id: 'id' } }] }, { table: 'parts', skip: true }];
const options: Partial<EtlOptions> = { mappings, batchSize: 3 };

let rig: Rig;
let first: string;
let second: string;
let crashFirst: string;
let crashSecond: string;
const spool = mkdtempSync(join(tmpdir(), 'gmd-oversize-'));

async function bigSchema(label: string, rows: Cell[][], withParts = true): Promise<string> {
  const schema = await rig.createSchema(label, [bigRowsTable, 'CREATE TABLE parts (id INT PRIMARY KEY, blob_id INT NOT NULL, payload LONGBLOB NOT NULL)']);
  await loadRows(schema, 'blobs', rows);
  if (withParts) await loadRows(schema, 'parts', parts.map((payload, i) => [i + 1, 4, payload]));
  return schema;
}

before(async () => {
  rig = await openRig();
  const common: Cell[][] = [[2, 'text', null, textA], [4, 'nested', Buffer.from('small'), 'hi']];
  first = await bigSchema('over1', [[1, 'blob', blobA, null], ...common, [3, 'both', blobB, textB]]);
  // Cycle 2: row 1's blob changed, row 3 removed, row 5 new; rows 2 and 4 as they were.
  second = await bigSchema('over2', [[1, 'blob', blobA2, null], ...common, [5, 'small', Buffer.from('x'), 'y']]);
  // One big row, for the tests that run a cycle many times.
  crashFirst = await bigSchema('overc1', [[1, 'blob', blobA, null], [2, 'small', null, 'z']], false);
  crashSecond = await bigSchema('overc2', [[1, 'blob', blobA2, null], [2, 'small', null, 'z']], false);
});
after(async () => {
  await rig?.close();
  rmSync(spool, { recursive: true, force: true });
});

const files = (db: Db) => db.collection<{ _id: string; length: number }>('_ganymede_fs.files');
const chunks = (db: Db) => db.collection<{ files_id: string }>('_ganymede_fs.chunks');

/** The GEO's documents of `blobs`, each read back whole (every GridFS field in place). */
async function wholeDocs(db: Db): Promise<Map<string, Record<string, unknown>>> {
  const docs = await db.collection<{ _id: string }>('blobs').find({}).sort({ _id: 1 }).toArray();
  return new Map(await Promise.all(docs.map(async (doc) => [doc._id, await rehydrate(db, doc)] as [string, Record<string, unknown>])));
}

const bytesOf = (value: unknown) => Buffer.from((value as Binary).buffer);

/** GridFS holds exactly the files the documents name, each whole, and no chunk of any other. */
async function assertFilesReferenced(db: Db): Promise<string[]> {
  const named = (await db.collection<{ _meta: { files?: string[] } }>('blobs').find({}).toArray()).flatMap((doc) => doc._meta.files ?? []).sort();
  const stored = (await files(db).find({}).toArray()).map((file) => file._id).sort();
  assert.deepEqual(stored, named, 'GridFS holds the files the documents refer to, and no other');
  const chunkOwners = [...new Set((await chunks(db).find({}, { projection: { files_id: 1 } }).toArray()).map((chunk) => chunk.files_id))].sort();
  assert.deepEqual(chunkOwners, named, 'no chunk of a file that is gone');
  return named;
}

describe('rows too large for one document', () => {
  let db: Db;
  const lines: string[] = [];

  test('the first load succeeds, keeps every document under the limit and names the rows stored in GridFS', async () => {
    db = rig.freshDb('over');
    const result = await etl(db, first, cycle1, { ...options, log: (line) => lines.push(line) });
    const blobs = result.collections.find((c) => c.name === 'blobs')!;
    assert.deepEqual([blobs.inserted, blobs.oversize, blobs.oversizeIds], [4, 4, ['g1:1', 'g1:2', 'g1:3', 'g1:4']]);
    assert.ok(lines.includes('blobs: 4 rows too large for one document, their largest fields stored in GridFS (_ganymede_fs): g1:1, g1:2, g1:3, g1:4'), lines.join('\n'));

    const stored = await db.collection('blobs').find({}).sort({ _id: 1 }).toArray();
    for (const doc of stored) assert.ok(BSON.calculateObjectSize(doc) <= maxDocumentBytes, `${String(doc._id)} fits in one document`);
    const ref = (doc: Record<string, unknown>, field: string) => (doc[field] as { _ganymede_gridfs?: { type: string; bytes: number; sha256: string } })._ganymede_gridfs;
    const [one, two, three, four] = stored;
    assert.deepEqual(ref(one!, 'b'), { id: `blobs/g1:1/b/${sha256(blobA)}`, bytes: blobA.length, sha256: sha256(blobA), type: 'binary' });
    assert.equal(ref(two!, 't')?.type, 'string');
    // Two 9 MB fields: only the larger (the text, multi-byte) moves; the blob stays in the document.
    assert.equal(ref(three!, 't')?.type, 'string');
    assert.ok(three!.b instanceof Binary && three!.b.length() === blobB.length);
    assert.equal(ref(four!, 'parts')?.type, 'bson');
    assert.equal(four!.t, 'hi');

    const changes = await db.collection('_ganymede_changes').find({ collection: 'blobs' }).toArray();
    assert.deepEqual(changes.map((c) => `${c.docId as string} ${c.op as string}`).sort(), ['g1:1 created', 'g1:2 created', 'g1:3 created', 'g1:4 created']);
    await assertFilesReferenced(db);
  });

  test('read back, every row is whole: the same bytes, text and nested rows as the source', async () => {
    const docs = await wholeDocs(db);
    assert.equal(sha256(bytesOf(docs.get('g1:1')!.b)), sha256(blobA));
    assert.equal(docs.get('g1:2')!.t, textA);
    assert.equal(docs.get('g1:3')!.t, textB);
    assert.equal(sha256(bytesOf(docs.get('g1:3')!.b)), sha256(blobB));
    const nested = docs.get('g1:4')!.parts as Array<{ id: number; payload: Binary }>;
    assert.deepEqual(nested.map((part) => [part.id, sha256(bytesOf(part.payload))]), parts.map((payload, i) => [i + 1, sha256(payload)]));
  });

  test('the feed carries the whole row', async () => {
    const store = new FileTransport(join(spool, 'store'));
    await buildFeed({ db, cycleStart: cycle1, geos: ['g1'], missingGeos: [], encoding: 'ndjson', mode: 'full', store, spoolDir: join(spool, 'work') });
    const records = new Map(ndjsonRecords(join(spool, 'store', '2026-03-01T10', 'blobs.ndjson.gz')).map((record) => [record._id as string, record]));
    assert.equal(sha256(Buffer.from(records.get('g1:1')!.b as string, 'base64')), sha256(blobA));
    assert.equal(records.get('g1:2')!.t, textA);
    assert.equal(records.get('g1:3')!.t, textB);
    assert.deepEqual((records.get('g1:4')!.parts as Array<{ payload: string }>).map((part) => sha256(Buffer.from(part.payload, 'base64'))), parts.map(sha256));
    assert.ok([...records.values()].every((record) => !JSON.stringify(record).includes('_ganymede_gridfs')), 'no reference reaches the feed');
  });

  test('the same cycle again writes nothing', async () => {
    const again = await etl(db, first, cycle1, options);
    assert.equal(again.writeOps, 0);
    assert.ok(again.collections.every((c) => c.oversize === 0 && c.unchanged === c.read));
  });

  test('a changed big field is an update of that field; its old file and the removed row\'s files are gone', async () => {
    const before = await assertFilesReferenced(db);
    const next = await etl(db, second, cycle2, options);
    const blobs = next.collections.find((c) => c.name === 'blobs')!;
    assert.deepEqual([blobs.inserted, blobs.updated, blobs.removed, blobs.unchanged, blobs.oversizeIds], [1, 1, 1, 2, ['g1:1']]);
    const changes = await db.collection('_ganymede_changes').find({ collection: 'blobs', cycle: cycle2 }).toArray();
    assert.deepEqual(changes.map((c) => `${c.docId as string} ${c.op as string} ${String(c.fields ?? '')}`).sort(), ['g1:1 updated b', 'g1:3 removed ', 'g1:5 created ']);
    // The change log keeps the big field's old and new value as their GridFS references, not their bytes.
    const values = changes.find((c) => c.docId === 'g1:1')!.values as Record<string, { old: unknown; new: unknown }>;
    assert.deepEqual(Object.keys(values), ['b']);
    assert.deepEqual(values.b!.old, { _ganymede_gridfs: { id: `blobs/g1:1/b/${sha256(blobA)}`, bytes: blobA.length, sha256: sha256(blobA), type: 'binary' } });
    assert.deepEqual(values.b!.new, { _ganymede_gridfs: { id: `blobs/g1:1/b/${sha256(blobA2)}`, bytes: blobA2.length, sha256: sha256(blobA2), type: 'binary' } });
    const now = await assertFilesReferenced(db);
    assert.ok(!now.includes(`blobs/g1:1/b/${sha256(blobA)}`), 'the old blob of g1:1 is gone');
    assert.ok(!now.some((id) => id.startsWith('blobs/g1:3/')), 'the files of the removed row are gone');
    assert.deepEqual(now.filter((id) => !id.startsWith('blobs/g1:1/')), before.filter((id) => !id.startsWith('blobs/g1:1/') && !id.startsWith('blobs/g1:3/')), 'unchanged rows keep theirs');
    assert.equal(sha256(bytesOf((await wholeDocs(db)).get('g1:1')!.b)), sha256(blobA2));
  });
});

/**
 * Every collection, GridFS included, each document as the sha256 of its canonical text (a 17 MB value
 * would make an unreadable diff); without what differs between two runs of the same data: times, and
 * the ObjectId the driver gives each GridFS chunk.
 */
async function dump(db: Db): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
    const docs = await db.collection(name).find({}).toArray();
    out[name] = docs.map((doc) => {
      for (const field of ['uploadDate', 'startedAt', 'finishedAt']) delete doc[field];
      if (name.endsWith('.chunks')) delete (doc as { _id?: unknown })._id;
      return `${String(doc._id ?? `${String(doc.files_id)}#${String(doc.n)}`)} ${createHash('sha256').update(canonicalText(doc)).digest('hex')}`;
    }).sort();
  }
  return out;
}

describe('a run cut off at any checkpoint', () => {
  test('the first load, retried: the warehouse and GridFS converge on the uninterrupted run', async () => {
    const reference = rig.freshDb('overref');
    let points = 0;
    await etl(reference, crashFirst, cycle1, { ...options, checkpoint: () => void points++ });
    const expected = await dump(reference);
    assert.ok(points >= 3, `${points} checkpoints`);
    for (let crashAt = 1; crashAt <= points; crashAt++) {
      const db = rig.freshDb(`overcrash${crashAt}`);
      let seen = 0;
      let crashed: EtlCheckpoint | undefined;
      const checkpoint = (point: EtlCheckpoint) => {
        if (++seen !== crashAt) return;
        crashed = point;
        throw new Error('injected crash');
      };
      await assert.rejects(etl(db, crashFirst, cycle1, { ...options, checkpoint }), /injected crash/);
      await etl(db, crashFirst, cycle1, options);
      assert.deepEqual(await dump(db), expected, `crash at checkpoint ${crashAt} (${crashed?.collection} ${crashed?.phase})`);
      await db.dropDatabase();
    }
  });

  test('an upload whose run never wrote its row is removed by the next cycle', async () => {
    const db = rig.freshDb('overorphan');
    const checkpoint = (point: EtlCheckpoint) => {
      if (point.phase === 'stored') throw new Error('injected crash');
    };
    await assert.rejects(etl(db, crashFirst, cycle1, { ...options, checkpoint }), /injected crash/);
    assert.deepEqual((await files(db).find({}).toArray()).map((file) => file._id), [`blobs/g1:1/b/${sha256(blobA)}`], 'the first upload is there');
    await etl(db, crashSecond, cycle2, options);
    assert.ok(!(await assertFilesReferenced(db)).includes(`blobs/g1:1/b/${sha256(blobA)}`));
  });
});
