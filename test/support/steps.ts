// Transactions put straight into the Ganymede database for scheduler tests: delivered hours with their
// first step due, without agents or files.
import type mysql from 'mysql2/promise';
import { addGeo } from '../../src/state/geos.js';
import { closeTransaction, openTransaction } from '../../src/state/transactions.js';
import type { Db } from '../../src/state/db.js';

export async function deliveredTransactions(db: Db, geos: number, hours: number, firstHour = Date.UTC(2026, 0, 1)): Promise<number[]> {
  const ids: number[] = [];
  for (let g = 0; g < geos; g++) {
    const added = await addGeo(db, { name: `geo${g}`, publicKey: 'test key', keyFingerprint: 'F'.repeat(40) });
    for (let h = 0; h < hours; h++) {
      const opened = await openTransaction(db, added!.geo.id, new Date(firstHour + h * 3_600_000));
      if (opened.kind !== 'opened') throw new Error('could not open');
      await closeTransaction(db, opened.txn.id, { name: `f${opened.txn.id}.gpg`, size: 1, sha256: '0'.repeat(64) });
      ids.push(opened.txn.id);
    }
  }
  return ids;
}

export async function stepStates(db: Db): Promise<Array<{ txn_id: number; name: string; state: string; attempts: number }>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT txn_id, name, state, attempts FROM steps ORDER BY txn_id, id');
  return rows as Array<{ txn_id: number; name: string; state: string; attempts: number }>;
}
