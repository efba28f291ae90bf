// The Ganymede database's upserts name the inserted row as the server wants it: on the rig's server every one
// of them runs (both its insert and its update path) without a warning and still updates what it did, and
// for a MySQL 8.0.20+ server, where VALUES(col) warns on every call, none of their text calls VALUES().
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { parseServerVersion } from '../../src/mysql-server.js';
import { updateAlerts } from '../../src/state/alerts.js';
import { startArchiveRecord } from '../../src/state/archive.js';
import { recordFeedFile } from '../../src/state/cycles.js';
import { createUtcPool, idleSessionSeconds, poolOptions, stateDbTarget, type Db } from '../../src/state/db.js';
import { recordMetrics } from '../../src/state/metrics.js';
import { recordQuarantinedDelivery } from '../../src/state/retired-deliveries.js';
import type { Transaction } from '../../src/state/transactions.js';
import { insertedRowFor } from '../../src/state/upsert.js';
import { testCentre, type TestCentre } from '../support/ganymede.js';

const cycleStart = new Date('2026-03-01T10:00:00Z');
const txn = {
  id: 41, geo: 'emea', geoId: 7, cycle: '2026030110', cycleStart, state: 'failed', step: 'decrypt', delivery: 2, agentHost: null,
  file: { name: 'emea-2026030110.tar.zst.gpg', size: 10, sha256: 'a'.repeat(64) }, error: null, openedAt: cycleStart, deliveredAt: null,
  warehousedAt: null, finishedAt: null, updatedAt: cycleStart,
} as Transaction;

/** Every upsert of the Ganymede database, each twice so the second takes the ON DUPLICATE KEY UPDATE path. */
async function runEveryUpsert(db: Db, round: 1 | 2): Promise<void> {
  await updateAlerts(db, new Map([['upsert-test', `failing, round ${round}`]]));
  await updateAlerts(db, new Map()); // stops firing, so the next round's insert meets the row
  await recordMetrics(db, [{ name: 'step.rows', dimensions: { step: 'load' }, value: 10 * round, at: new Date('2026-03-01T10:00:30Z') }]);
  await startArchiveRecord(db, { kind: 'agent-dump', sourceKey: 'emea/1', storeUrl: `file:///archive/${round}`, objectKey: `k${round}` });
  await recordQuarantinedDelivery(db, txn, `emea/round-${round}`);
  await recordFeedFile(db, cycleStart, { name: 'feed.json', size: 100 * round, sha256: 'b'.repeat(64), remotePath: `/in/${round}`, rows: 5 * round });
}

describe('upserts on the rig server', () => {
  let centre: TestCentre;
  let pool: Db;
  const warnings: string[] = [];
  let statements = 0;

  before(async () => {
    centre = await testCentre('upsert');
    // One connection, so SHOW WARNINGS after a statement is about that statement.
    const inner = createUtcPool({ ...poolOptions(centre.loaded, stateDbTarget(centre.loaded)), connectionLimit: 1, maxIdle: 1 }, idleSessionSeconds(centre.loaded.config.centre));
    pool = new Proxy(inner, {
      get(target, property) {
        if (property !== 'query') return Reflect.get(target, property, target);
        return async (...args: Parameters<Db['query']>) => {
          const result = await (target.query as (...a: unknown[]) => Promise<[unknown, unknown]>)(...args);
          const sql = typeof args[0] === 'string' ? args[0] : '';
          if (/ON DUPLICATE KEY UPDATE/.test(sql)) {
            statements++;
            const [shown] = await target.query<mysql.RowDataPacket[]>('SHOW WARNINGS');
            for (const row of shown) warnings.push(`${String(row.Message)} — in: ${sql.replace(/\s+/g, ' ').slice(0, 120)}`);
          }
          return result;
        };
      },
    });
  });
  after(async () => {
    await pool?.end();
    await centre?.dispose();
  });

  test('each runs without a warning, both paths, and updates what it did', async () => {
    await runEveryUpsert(pool, 1);
    await runEveryUpsert(pool, 2);
    assert.deepEqual(warnings, []);
    assert.ok(statements >= 12, `${statements} upserts ran`);
    const one = async (sql: string) => ((await pool.query<mysql.RowDataPacket[]>(sql))[0][0] ?? {}) as Record<string, unknown>;
    assert.equal((await one("SELECT detail FROM alert_states WHERE alert_key = 'upsert-test'")).detail, 'failing, round 2');
    assert.equal(Number((await one("SELECT sum_value FROM metric_minutes WHERE name = 'step.rows'")).sum_value), 30);
    assert.equal((await one("SELECT store_url FROM archive_records WHERE source_key = 'emea/1'")).store_url, 'file:///archive/2');
    assert.equal((await one('SELECT location FROM retired_deliveries WHERE txn_id = 41')).location, 'emea/round-2');
    assert.deepEqual(await one("SELECT f.size, r.rows_count FROM feed_files f JOIN feed_file_rows r USING (cycle_start, name) WHERE f.name = 'feed.json'"), { size: 200, rows_count: 10 });
  });
});

describe('upserts for a MySQL 8.0.20+ server (the SQL text)', () => {
  test('the inserted row is named by an alias there, VALUE() on MariaDB, VALUES() only where nothing else parses', () => {
    const mysql8 = insertedRowFor(parseServerVersion('8.0.36'));
    assert.equal(`VALUES (?)${mysql8.alias} ON DUPLICATE KEY UPDATE n = ${mysql8.value('n')}`, 'VALUES (?) AS new_row ON DUPLICATE KEY UPDATE n = new_row.n');
    assert.equal(insertedRowFor(parseServerVersion('10.11.19-MariaDB')).value('n'), 'VALUE(n)');
    assert.equal(insertedRowFor(parseServerVersion('5.7.44')).value('n'), 'VALUES(n)');
  });

  test('no statement calls VALUES() (a recording fake that answers VERSION() as MySQL 8.0.36; MySQL itself is not on this rig)', async () => {
    const sqls: string[] = [];
    const fakeMysql80 = {
      async query(sql: string) {
        if (/VERSION\(\)/.test(sql)) return [[{ version: '8.0.36' }], []];
        sqls.push(sql);
        return /^\s*SELECT/i.test(sql) ? [[], []] : [{ affectedRows: 1, insertId: 1, info: '', warningStatus: 0 }, undefined];
      },
    } as unknown as Db;
    await runEveryUpsert(fakeMysql80, 1);
    const upserts = sqls.filter((sql) => /ON DUPLICATE KEY UPDATE/.test(sql));
    assert.equal(upserts.length, 7);
    for (const sql of upserts) {
      assert.doesNotMatch(sql, /VALUES?\s*\(\s*`?\w+`?\s*\)/i, sql);
      assert.match(sql, /\) AS new_row\s+ON DUPLICATE KEY UPDATE .*new_row\.\w+/s, sql);
    }
  });
});
