// A warehouse with a history to look up, shared by the change-log values, `ganymede lookup` and
// GET /v1/warehouse tests: two cycles of GEO g1 where item 1 changes (a small field, a field grown past
// the change log's bound, a dotted column, a column dropped and one added), item 3 is removed, and a wide
// row changes 80 fields of 900 characters (more than one entry keeps whole).
import type { Db } from 'mongodb';
import { cycle1, cycle2, etl, type Rig } from './fixture.js';

export const wideColumns = Array.from({ length: 80 }, (_, i) => `c${String(i).padStart(2, '0')}`);
export const wideOld = 'a'.repeat(900);
export const wideNew = 'b'.repeat(900);
export const grownNotes = 'n'.repeat(3000);
/** BIGINT beyond 2^53: a Long, which must come out with every digit. */
export const bigLong = '9007199254740993';

function base(): string[] {
  return [
    'CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, price DECIMAL(10,2), notes TEXT, `a.b` INT, extra INT, big BIGINT)',
    `INSERT INTO items VALUES (1, 'one', 1.50, 'short', 1, 5, ${bigLong}), (2, 'two', 2.00, 'x', 2, NULL, 1), (3, 'three', 3.00, 'gone soon', 3, NULL, 1)`,
    `CREATE TABLE wide (id INT PRIMARY KEY, ${wideColumns.map((c) => `${c} TEXT`).join(', ')})`,
    `INSERT INTO wide VALUES (1, ${wideColumns.map(() => `'${wideOld}'`).join(', ')})`,
  ];
}

const changes = [
  "UPDATE items SET price = 1.75, notes = REPEAT('n', 3000), `a.b` = 10 WHERE id = 1",
  'DELETE FROM items WHERE id = 3',
  "ALTER TABLE items DROP COLUMN extra, ADD COLUMN added VARCHAR(10) DEFAULT 'new'",
  `UPDATE wide SET ${wideColumns.map((c) => `${c} = '${wideNew}'`).join(', ')}`,
];

export interface HistorySchemas {
  first: string;
  second: string;
}

export async function historySchemas(rig: Rig): Promise<HistorySchemas> {
  return { first: await rig.createSchema('hist1', base()), second: await rig.createSchema('hist2', [...base(), ...changes]) };
}

/** Cycle 1 then cycle 2 into `db`, as GEO g1. */
export async function loadHistory(db: Db, schemas: HistorySchemas): Promise<void> {
  await etl(db, schemas.first, cycle1);
  await etl(db, schemas.second, cycle2);
}
