// The agent's reading of a schema's views, routines, triggers and events (schema-objects.ts), on the
// snapshot's connection: information_schema says what exists and who defined it, SHOW CREATE gives each
// definition with the settings it was created with. They are data dictionary reads, outside the snapshot.
import type { Connection } from 'mysql2';
import { quoteIdentifier } from '../dump/dump-format.js';
import { maxSchemaObjects, schemaObjectRefusal, type SchemaObject, type SchemaObjectKind, type SchemaObjects, type UnreadableObject } from '../dump/schema-objects.js';
import { queryTextRows, runQuery } from '../dump/table-data-stream.js';

interface Listed {
  kind: SchemaObjectKind;
  name: string;
  definer: string;
  table: string | null;
  actionOrder: number | null;
}

/**
 * Every view, function, procedure, trigger and event of `database`. The session must have sql_mode ''
 * (backticks, every clause); the schema is selected here so that SHOW CREATE VIEW writes no schema name
 * before the schema's own tables (run from elsewhere it qualifies them, tying the view to the GEO's name).
 */
export async function readSchemaObjects(conn: Connection, database: string): Promise<SchemaObjects> {
  await runQuery(conn, `USE ${quoteIdentifier(database)}`);
  const listed = await listObjects(conn, database);
  const objects: SchemaObject[] = [];
  const unreadable: UnreadableObject[] = [];
  for (const item of listed) {
    const read = await showCreate(conn, item).catch((error: Error & { sqlMessage?: string }) => error.sqlMessage ?? error.message);
    const refusal = typeof read === 'string' ? read : schemaObjectRefusal(read);
    // Named as the centre accepts a name: at most 64 characters, no control characters.
    const name = item.name.replace(/[\u0000-\u001f]/gu, '?').slice(0, 64) || '?';
    if (refusal !== undefined) unreadable.push({ kind: item.kind, name, reason: refusal.slice(0, 1024) });
    else if (objects.length >= maxSchemaObjects) unreadable.push({ kind: item.kind, name, reason: `a delivery carries at most ${maxSchemaObjects} objects` });
    else objects.push(read as SchemaObject);
  }
  return { objects, unreadable };
}

async function listObjects(conn: Connection, database: string): Promise<Listed[]> {
  const views = await queryTextRows(conn, 'SELECT TABLE_NAME, DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [database]);
  const routines = await queryTextRows(
    conn,
    "SELECT ROUTINE_TYPE, ROUTINE_NAME, DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE IN ('FUNCTION', 'PROCEDURE') ORDER BY ROUTINE_TYPE, ROUTINE_NAME",
    [database],
  );
  const triggers = await queryTextRows(
    conn,
    'SELECT TRIGGER_NAME, DEFINER, EVENT_OBJECT_TABLE, ACTION_ORDER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ' +
      'ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER',
    [database],
  );
  const events = await queryTextRows(conn, 'SELECT EVENT_NAME, DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME', [database]);
  const plain = (kind: SchemaObjectKind, name: string | null | undefined, definer: string | null | undefined): Listed => ({ kind, name: name ?? '', definer: definer ?? '', table: null, actionOrder: null });
  return [
    ...views.map(([name, definer]) => plain('view', name, definer)),
    ...routines.map(([type, name, definer]) => plain(type === 'FUNCTION' ? 'function' : 'procedure', name, definer)),
    ...triggers.map(([name, definer, table, order]) => ({ ...plain('trigger', name, definer), table: table ?? '', actionOrder: Number(order ?? 0) })),
    ...events.map(([name, definer]) => plain('event', name, definer)),
  ];
}

/** SHOW CREATE's columns differ by kind; they are read by name. */
async function showCreate(conn: Connection, item: Listed): Promise<SchemaObject> {
  const keyword = item.kind.toUpperCase();
  const rows = await new Promise<Record<string, unknown>[]>((resolve, reject) => {
    conn.query({ sql: `SHOW CREATE ${keyword} ${quoteIdentifier(item.name)}`, typeCast: false }, (error, result) => (error ? reject(error) : resolve(result as Record<string, unknown>[])));
  });
  const row = rows[0];
  if (!row) throw new Error(`SHOW CREATE ${keyword} returned nothing`);
  const text = (column: string): string | null => {
    const value = row[column];
    return value === null || value === undefined ? null : Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  };
  const createColumn = { view: 'Create View', function: 'Create Function', procedure: 'Create Procedure', trigger: 'SQL Original Statement', event: 'Create Event' }[item.kind];
  const createSql = text(createColumn);
  // Without the privilege to see a routine's body, MySQL answers with a NULL definition rather than an error.
  if (!createSql) throw new Error(`the agent's MySQL user may not read the definition (SHOW CREATE ${keyword} gave none)`);
  return {
    kind: item.kind,
    name: item.name,
    createSql,
    definer: item.definer,
    sqlMode: item.kind === 'view' ? null : (text('sql_mode') ?? ''),
    characterSetClient: text('character_set_client') ?? 'utf8mb4',
    collationConnection: text('collation_connection') ?? 'utf8mb4_general_ci',
    databaseCollation: item.kind === 'view' ? null : text('Database Collation'),
    timeZone: item.kind === 'event' ? (text('time_zone') ?? 'SYSTEM') : null,
    table: item.table,
    actionOrder: item.actionOrder,
  };
}
