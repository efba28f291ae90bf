// `txn cancel` on a loaded transaction: its scratch schema goes with it (a cancelled transaction never
// reaches `clean`), and cancelling again drops a schema that is back, or has nothing to do.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { schemaExists, sourceStatements, txnRow } from '../pipeline-e2e/support.js';
import { ExitCode } from '../../src/exit-codes.js';

const cycle = '2026-03-01T10';
let centre: Centre;
let txnId: number;
let schema: string;

before(async () => {
  centre = await startCentre();
  const geo = await centre.addGeo('cancelled', await centre.addSource('cancel', sourceStatements(3)));
  txnId = (await geo.deliver(cycle)).transactionId;
  schema = centre.paths.scratchSchema(txnId);
  for (const step of ['decrypt', 'load']) {
    const run = await centre.cli(['worker', step, '--txn', String(txnId)]);
    assert.equal(run.code, 0, `worker ${step}: ${run.stderr}`);
  }
});
after(async () => {
  await centre?.dispose();
});

test('txn cancel of a loaded transaction drops its scratch schema', async () => {
  assert.equal(await schemaExists(centre, schema), true, 'load made the schema');
  const run = await centre.cli(['txn', 'cancel', String(txnId)]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), `transaction ${txnId} cancelled (1 steps stopped, ${schema} dropped)`);
  assert.equal(await schemaExists(centre, schema), false);
  assert.equal((await txnRow(centre, txnId)).state, 'cancelled');
});

test('txn cancel again drops the schema a late worker made again, then has nothing to do', async () => {
  // What a load that was running when the transaction was cancelled can leave: the schema, made again.
  await (await centre.admin()).query(`CREATE DATABASE IF NOT EXISTS \`${schema}\``);
  const again = await centre.cli(['txn', 'cancel', String(txnId), '--json']);
  assert.equal(again.code, 0, again.stderr);
  const result = JSON.parse(again.stdout) as { stepsCancelled: number; schemasDropped: string[]; transaction: { state: string } };
  assert.deepEqual([result.stepsCancelled, result.schemasDropped, result.transaction.state], [0, [schema], 'cancelled']);
  assert.equal(await schemaExists(centre, schema), false);

  const third = await centre.cli(['txn', 'cancel', String(txnId)]);
  assert.equal(third.code, ExitCode.nothingToDo, third.stderr);
  assert.match(third.stderr, new RegExp(`transaction ${txnId} is cancelled and has no scratch schema left; nothing to cancel`));
});
