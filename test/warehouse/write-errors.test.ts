// How a failed warehouse write is judged. A replica set or sharded cluster that elects a primary, moves a
// chunk or misses its write concern cannot be had here, so the first part builds the driver's own error
// objects as the driver builds them from such a server reply (FAKE server replies, nothing else is faked)
// and checks what the step would exit with. The second part makes the stand-in refuse a write for real.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { MongoBulkWriteError, MongoNetworkError, MongoServerError, MongoWriteConcernError, type BulkWriteResult, type WriteError } from 'mongodb';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { describeMongoError, judgeBulkError, type BulkContext } from '../../src/warehouse/mongo-errors.js';
import { baseStatements, cycle1, cycle2, docsById, etl, openRig, type Rig } from './fixture.js';

// The driver does not export the classes it keeps a bulk's outcome in; these are its own.
const driverBulk = createRequire(import.meta.url)('mongodb/lib/bulk/common.js') as {
  BulkWriteResult: new (raw: unknown, ordered: boolean) => BulkWriteResult;
  WriteError: new (reply: { index: number; code: number; errmsg: string }) => WriteError;
  WriteConcernError: new (reply: { code: number; errmsg: string; errInfo?: unknown }) => object;
};

interface ReplyError {
  index: number;
  code: number;
  errmsg: string;
}

/** The MongoBulkWriteError the driver throws for an unordered bulk whose replies held these errors. */
function fakeReplyBulkError(writeErrors: ReplyError[], writeConcernErrors: Array<{ code: number; errmsg: string }> = []): MongoBulkWriteError {
  const raw = {
    ok: 1, nInserted: 0, nUpserted: 0, nMatched: 0, nModified: 0, nRemoved: 0, upserted: [], insertedIds: [],
    writeErrors: writeErrors.map((error) => new driverBulk.WriteError(error)),
    writeConcernErrors: writeConcernErrors.map((error) => new driverBulk.WriteConcernError(error)),
  };
  const result = new driverBulk.BulkWriteResult(raw, false);
  // As BulkOperationBase.handleWriteError: the first write error's message and code, and the list.
  if (writeErrors.length > 0) return new MongoBulkWriteError({ message: writeErrors[0]!.errmsg, code: writeErrors[0]!.code, writeErrors: raw.writeErrors }, result);
  return new MongoBulkWriteError(result.getWriteConcernError()!, result);
}

/** The bulk of one etl batch: two inserts, a replace, a delete. */
const context: BulkContext = {
  doing: 'writing collection accounts',
  collection: 'accounts',
  operation: (index) => [{ insert: true, id: 'g1:1' }, { insert: true, id: 'g1:2' }, { insert: false, id: 'g1:3' }, { insert: false, id: 'g1:4' }][index],
};

const duplicate = (index: number): ReplyError => ({ index, code: 11000, errmsg: `E11000 duplicate key error collection: w.accounts index: _id_ dup key: { _id: "g1:${index + 1}" }` });

function exitOf(error: unknown): number {
  const verdict = judgeBulkError(error, context);
  assert.equal(verdict.done, false, 'judged done');
  if (verdict.done) return ExitCode.ok;
  assert.ok(verdict.error instanceof GanymedeError);
  assert.ok(!verdict.error.message.includes('\n'), verdict.error.message);
  return verdict.error.exitCode;
}

describe('judging a failed bulk write', () => {
  test('inserts whose _id is already there are done, and only then', () => {
    const verdict = judgeBulkError(fakeReplyBulkError([duplicate(0), duplicate(1)]), context);
    assert.equal(verdict.done, true);
  });

  test('a duplicate key together with a write concern error is not done: unreachable, retried', () => {
    const error = fakeReplyBulkError([duplicate(0)], [{ code: 64, errmsg: 'waiting for replication timed out' }]);
    assert.equal(exitOf(error), ExitCode.unreachable);
    const verdict = judgeBulkError(error, context);
    assert.match(!verdict.done ? verdict.error.message : '', /^MongoDB did not confirm writing collection accounts to mongodb\.write_concern: waiting for replication timed out \(code 64 WriteConcernFailed\)$/);
  });

  test('a write concern error alone is unreachable; one the replica set can never satisfy is a configuration error', () => {
    assert.equal(exitOf(fakeReplyBulkError([], [{ code: 64, errmsg: 'waiting for replication timed out' }])), ExitCode.unreachable);
    assert.equal(exitOf(fakeReplyBulkError([], [{ code: 100, errmsg: 'Not enough data-bearing nodes' }])), ExitCode.config);
  });

  for (const [code, name] of [[133, 'FailedToSatisfyReadPreference'], [9001, 'SocketException'], [262, 'ExceededTimeLimit'], [50, 'MaxTimeMSExpired'],
    [10107, 'NotWritablePrimary'], [189, 'PrimarySteppedDown'], [11602, 'InterruptedDueToReplStateChange'], [13388, 'StaleConfig'], [91, 'ShutdownInProgress']] as const) {
    test(`a ${name} (${code}) after a duplicate key is read too: unreachable, retried`, () => {
      const error = fakeReplyBulkError([duplicate(0), { index: 2, code, errmsg: `${name} on the shard` }]);
      assert.equal(exitOf(error), ExitCode.unreachable);
    });
  }

  test('a document the server refuses fails as refused, naming it and its collection, whatever comes first', () => {
    const error = fakeReplyBulkError([
      { index: 0, code: 10107, errmsg: 'not primary' },
      duplicate(1),
      { index: 2, code: 121, errmsg: 'Document failed validation' },
      { index: 3, code: 2, errmsg: 'bad delete' },
    ]);
    const verdict = judgeBulkError(error, context);
    assert.ok(!verdict.done);
    assert.equal(verdict.error.exitCode, ExitCode.refused);
    assert.equal(verdict.error.message, 'MongoDB refused document g1:3 of collection accounts: Document failed validation (code 121) (and 1 more document)');
  });

  test('a duplicate key is a refusal on a replace, and on an insert when another unique index refuses it', () => {
    const replaced = judgeBulkError(fakeReplyBulkError([{ index: 2, code: 11000, errmsg: 'E11000 duplicate key error index: name_1 dup key' }]), context);
    assert.ok(!replaced.done && replaced.error.exitCode === ExitCode.refused && /document g1:3 of collection accounts/.test(replaced.error.message));
    const inserted = judgeBulkError(fakeReplyBulkError([{ index: 1, code: 11000, errmsg: 'E11000 duplicate key error collection: w.accounts index: name_1 dup key: { name: "x" }' }]), context);
    assert.ok(!inserted.done && inserted.error.exitCode === ExitCode.refused && /document g1:2 of collection accounts/.test(inserted.error.message));
  });

  test('labels are read: a RetryableWriteError or TransientTransactionError is retried whatever its code', () => {
    for (const label of ['RetryableWriteError', 'TransientTransactionError']) {
      const server = new MongoServerError({ message: 'operation was interrupted', code: 1, errorLabels: [label] });
      assert.equal(exitOf(server), ExitCode.unreachable, label);
      // A bulk cut off by it wraps it.
      const raw = { ok: 1, nInserted: 0, nUpserted: 0, nMatched: 0, nModified: 0, nRemoved: 0, upserted: [], insertedIds: [], writeErrors: [], writeConcernErrors: [] };
      assert.equal(exitOf(new MongoBulkWriteError(server, new driverBulk.BulkWriteResult(raw, false))), ExitCode.unreachable, `${label} in a bulk`);
    }
  });

  test('outside a bulk: write concern, not-primary and network failures are unreachable; other refusals fail', () => {
    const writeConcern = new MongoWriteConcernError({ ok: 1, n: 1, writeConcernError: { code: 64, errmsg: 'waiting for replication timed out' } } as never);
    assert.equal(describeMongoError(writeConcern, 'recording the progress of collection accounts').exitCode, ExitCode.unreachable);
    assert.equal(describeMongoError(new MongoServerError({ message: 'not primary', code: 10107 }), 'reading collection accounts').exitCode, ExitCode.unreachable);
    assert.equal(describeMongoError(new MongoNetworkError('connection reset'), 'reading collection accounts').exitCode, ExitCode.unreachable);
    const unknown = describeMongoError(new MongoServerError({ message: 'not authorized on w to execute command', code: 13 }), 'reading collection accounts');
    assert.equal(unknown.exitCode, ExitCode.failed);
    assert.equal(unknown.message, 'MongoDB refused reading collection accounts: not authorized on w to execute command (code 13)');
  });
});

describe('a write the server refuses, for real', () => {
  let rig: Rig;
  before(async () => {
    rig = await openRig();
  });
  after(async () => {
    await rig?.close();
  });

  test('an update a unique index refuses fails the step as refused, naming the document; it is not taken as done', async () => {
    const first = await rig.createSchema('whref1', baseStatements());
    const second = await rig.createSchema('whref2', [...baseStatements(), "UPDATE accounts SET name = 'account 5' WHERE id = 3"]);
    const db = rig.freshDb('refused');
    await etl(db, first, cycle1);
    // An operator's unique index on the warehouse: account 3 may not take account 5's name.
    await db.collection('accounts').createIndex({ name: 1 }, { unique: true });
    await assert.rejects(etl(db, second, cycle2), (error: unknown) => {
      assert.ok(error instanceof GanymedeError, String(error));
      assert.equal(error.exitCode, ExitCode.refused);
      assert.match(error.message, /^MongoDB refused document g1:3 of collection accounts: .*\(code 11000\)$/);
      return true;
    });
    assert.equal((await docsById(db, 'accounts')).get('g1:3')!.name, 'account 3');
  });
});
