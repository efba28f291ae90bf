// A GEO whose table holds a 17.8 MB LONGBLOB row and a 17 MB LONGTEXT row, through a whole hour: agent →
// decrypt → load → etl → feed → send. Over MongoDB's 16 MiB, each row is kept whole (its big field in
// GridFS), the step's report names them, the feed carries every byte; the next hour changes the blob:
// an update, whose feed line carries the new bytes, and the old GridFS file is gone.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startCentre, type Centre, type CentreGeo } from '../support/centre-fixture.js';
import { bigRowsTable, bigText, loadRows, randomBlob, sha256 } from '../support/big-rows.js';
import { ndjsonRecords } from '../cycle/support.js';
import { attemptsOf, txnRow } from './support.js';

const first = '2026-03-01T10';
const second = '2026-03-01T11';
const blobA = randomBlob();
const blobA2 = randomBlob();
const textA = bigText('e2e');
const drainTimeoutS = 500;
let centre: Centre;
let geo: CentreGeo;
const txns = new Map<string, number>();

async function deliverAndDrain(cycle: string): Promise<void> {
  txns.set(cycle, (await geo.deliver(cycle)).transactionId);
  const drained = await centre.cli(['jupiter', 'drain', '--timeout', String(drainTimeoutS)], (drainTimeoutS + 60) * 1000);
  assert.equal(drained.code, 0, `${drained.stdout}\n${drained.stderr}`);
}

/** The hour's feed lines of `blobs` (changes mode: op, id and the whole document). */
function feedLines(cycle: string): Array<{ op: string; id: string; doc: Record<string, unknown> | null }> {
  return ndjsonRecords(join(centre.dataDir, 'feed', cycle, 'blobs.ndjson.gz')) as Array<{ op: string; id: string; doc: Record<string, unknown> | null }>;
}

const blobSha = (doc: Record<string, unknown> | null | undefined) => sha256(Buffer.from(String(doc?.b), 'base64'));

before(async () => {
  // Few attempts, soon retried: a step that cannot succeed fails the drain rather than outlast it.
  centre = await startCentre({ glassbeam: true, settings: { 'feed.mode': 'changes', 'centre.max_attempts': 2, 'centre.retry_base_ms': 1000 } });
  const source = await centre.addSource('oversize', [bigRowsTable]);
  await loadRows(source, 'blobs', [[1, 'blob', blobA, null], [2, 'text', null, textA], [3, 'small', Buffer.from('s'), 't']]);
  geo = await centre.addGeo('big', source);
  await deliverAndDrain(first);
});
after(async () => {
  await centre?.dispose();
});

test('etl succeeds at the first try and its report names the rows stored in GridFS', async () => {
  const txnId = txns.get(first)!;
  assert.equal((await txnRow(centre, txnId)).state, 'done');
  const etl = (await attemptsOf(centre, txnId)).filter((attempt) => attempt.step === 'etl');
  assert.deepEqual(etl.map((attempt) => attempt.outcome), ['succeeded']);
  const named = 'blobs: 2 rows too large for one document, their largest fields stored in GridFS (_ganymede_fs): big:1, big:2';
  const shown = await centre.cli(['txn', 'show', String(txnId)]);
  assert.ok(shown.stdout.includes(named), shown.stdout);
  assert.ok(readFileSync(join(centre.dataDir, 'log', first, `txn-${txnId}.log`), 'utf8').includes(named), 'the worker\'s log names them too');
});

test('the hour\'s feed, sent to Glassbeam, carries every row whole', async () => {
  const lines = feedLines(first);
  assert.deepEqual(lines.map((line) => `${line.op} ${line.id}`), ['created big:1', 'created big:2', 'created big:3']);
  const byId = new Map(lines.map((line) => [line.id, line.doc]));
  assert.equal(blobSha(byId.get('big:1')), sha256(blobA));
  assert.equal(byId.get('big:1')!.t, null);
  assert.equal(byId.get('big:2')!.t, textA);
  assert.deepEqual(byId.get('big:3'), { _id: 'big:3', b: Buffer.from('s').toString('base64'), geo: 'big', id: 3, label: 'small', t: 't' });
  assert.ok(!JSON.stringify(lines).includes('_ganymede_gridfs'), 'no reference reaches the feed');
  const sent = centre.glassbeam!.localPath(`${first}/blobs.ndjson.gz`);
  assert.ok(existsSync(sent), 'the feed is at Glassbeam');
  assert.deepEqual(readFileSync(sent), readFileSync(join(centre.dataDir, 'feed', first, 'blobs.ndjson.gz')));
});

test('the next hour changes the blob: an update whose feed line carries the new bytes; the old GridFS file is gone', async () => {
  await loadRows(geo.sourceDatabase, 'blobs', [[1, 'blob', blobA2, null]]);
  await deliverAndDrain(second);
  const warehouse = await centre.warehouse();
  const changes = await warehouse.collection('_ganymede_changes').find({ collection: 'blobs', cycle: new Date(`${second}:00:00Z`) }).toArray();
  assert.deepEqual(changes.map((change) => [change.docId, change.op, change.fields]), [['big:1', 'updated', ['b']]]);
  const lines = feedLines(second);
  assert.deepEqual(lines.map((line) => `${line.op} ${line.id}`), ['updated big:1']);
  assert.equal(blobSha(lines[0]!.doc), sha256(blobA2));
  const files = await warehouse.collection('_ganymede_fs.files').find({}).toArray();
  assert.deepEqual(files.map((file) => file.metadata.sha256).sort(), [sha256(blobA2), sha256(Buffer.from(textA))].sort(), 'GridFS holds the new blob and the text, not the old blob');
  const chunkOwners = await warehouse.collection('_ganymede_fs.chunks').distinct('files_id');
  assert.deepEqual(chunkOwners.sort(), files.map((file) => file._id).sort(), 'no chunk of the old blob is left');
});
