// A transaction of Ganymede's that MySQL picks as a deadlock's victim (a tick's claim against workers finishing
// their steps, seen under load) is run again from the start instead of failing its command.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import mysql from 'mysql2/promise';
import { inTransaction, openStateDb } from '../../src/state/db.js';
import { testCentre } from '../support/ganymede.js';
import { mysqlPasswordForTests, testMysqlUrl } from '../support/mysql.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('inTransaction runs its work again when InnoDB rolls it back as a deadlock victim, and commits once', async () => {
  const made = await testCentre('deadlock');
  const db = await openStateDb(made.loaded);
  cleanups.push(async () => {
    await db.end();
    await made.dispose();
  });
  await db.query('CREATE TABLE dl (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB');
  await db.query(`INSERT INTO dl VALUES ${Array.from({ length: 50 }, (_, i) => `(${i + 1}, 0)`).join(', ')}`);
  const url = new URL(testMysqlUrl);
  const other = await mysql.createConnection({ host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username || 'root'), password: mysqlPasswordForTests() ?? '', database: made.database });
  cleanups.push(() => other.end());
  // The other transaction holds 49 rows: the heavier one, which InnoDB keeps when it breaks the deadlock.
  await other.beginTransaction();
  await other.query('UPDATE dl SET v = v + 1 WHERE id >= 2');
  let otherDone: Promise<unknown> | undefined;
  let runs = 0;
  await inTransaction(db, async (connection) => {
    runs++;
    await connection.query('UPDATE dl SET v = v + 100 WHERE id = 1');
    if (runs === 1) {
      // Now the other waits for row 1 (ours) while we wait for row 2 (its): a deadlock.
      otherDone = other.query('UPDATE dl SET v = v + 1 WHERE id = 1').then(() => other.commit());
      await sleep(300);
    }
    await connection.query('UPDATE dl SET v = v + 10 WHERE id = 2');
  });
  await otherDone;
  assert.equal(runs, 2, 'the work ran again after the deadlock');
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT id, v FROM dl WHERE id IN (1, 2) ORDER BY id');
  assert.deepEqual(rows.map((row) => [row.id, row.v]), [[1, 101], [2, 11]], 'both transactions committed, ours once');
});
