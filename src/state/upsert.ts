// How an `INSERT … ON DUPLICATE KEY UPDATE` names the row it tried to insert, on the server the Ganymede
// database runs on. `VALUES(col)` there is deprecated since MySQL 8.0.20 (a warning on every call); MySQL
// 8.0.19+ names the row by an alias instead (`VALUES (…) AS new_row … UPDATE c = new_row.c`), which MariaDB
// does not parse; MariaDB calls it `VALUE(col)` since 10.3.3 (VALUES() kept for old statements). So the
// form is chosen once per pool, from its server's VERSION().
import type mysql from 'mysql2/promise';
import { isAtLeast, parseServerVersion, type ServerIdentity } from '../mysql-server.js';

export interface InsertedRow {
  /** Goes right after the VALUES list: ` AS new_row`, or nothing. */
  alias: string;
  /** The inserted row's value of `column`, for the UPDATE part. */
  value(column: string): string;
}

const rowAlias = 'new_row';

export function insertedRowFor(server: ServerIdentity): InsertedRow {
  if (isAtLeast(server, 'mysql', '8.0.19')) return { alias: ` AS ${rowAlias}`, value: (column) => `${rowAlias}.${column}` };
  if (isAtLeast(server, 'mariadb', '10.3.3')) return { alias: '', value: (column) => `VALUE(${column})` };
  return { alias: '', value: (column) => `VALUES(${column})` };
}

const byPool = new WeakMap<object, Promise<InsertedRow>>();

/** The form for `db`'s server, asked once per pool (a failed question is asked again next time). */
export function insertedRow(db: mysql.Pool | mysql.Connection): Promise<InsertedRow> {
  let form = byPool.get(db);
  if (!form) {
    form = db.query<mysql.RowDataPacket[]>('SELECT VERSION() AS version').then(([rows]) => insertedRowFor(parseServerVersion(String(rows[0]?.version ?? ''))));
    form.catch(() => byPool.delete(db));
    byPool.set(db, form);
  }
  return form;
}
