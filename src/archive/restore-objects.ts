// The second half of restoring a GEO's Cloud Control schema: its views, routines, triggers and events,
// created in a target an operator named, after the tables and their data. These are the GEO's own
// definitions, executed as recorded: nowhere else does the centre run them (`load` never reads them).
//
// Order: functions and procedures first (CREATE VIEW checks that a function it calls exists; a routine's
// body is only resolved when called), then views, each after the views it selects from, then triggers
// (after the data, so that loading fired none), in each table's recorded order, then events.
import type { Connection } from 'mysql2';
import { createdName, definerClause, type SchemaObject, type SchemaObjectKind } from '../dump/schema-objects.js';

export interface PlannedObject {
  kind: SchemaObjectKind;
  name: string;
  /** The definer it will be created with: the recorded one, or --definer. */
  definer: string;
  /** The trigger's table. */
  table: string | null;
}

const kindRank: Record<SchemaObjectKind, number> = { function: 0, procedure: 1, view: 2, trigger: 3, event: 4 };

/** The objects in the order they can be created in. */
export function orderSchemaObjects(objects: readonly SchemaObject[]): SchemaObject[] {
  const byName = (a: SchemaObject, b: SchemaObject) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const others = objects.filter((object) => object.kind !== 'view');
  others.sort((a, b) => kindRank[a.kind] - kindRank[b.kind] || (a.kind === 'trigger' ? compareTriggers(a, b) : byName(a, b)));
  const views = orderViews(objects.filter((object) => object.kind === 'view').sort(byName));
  return [...others.filter((o) => kindRank[o.kind] < kindRank.view), ...views, ...others.filter((o) => kindRank[o.kind] > kindRank.view)];
}

function compareTriggers(a: SchemaObject, b: SchemaObject): number {
  const table = (a.table ?? '') < (b.table ?? '') ? -1 : (a.table ?? '') > (b.table ?? '') ? 1 : 0;
  return table || (a.actionOrder ?? 0) - (b.actionOrder ?? 0);
}

/**
 * Views after the views they read. SHOW CREATE VIEW (sql_mode '') backticks every identifier, so a view
 * depends on each other view whose name appears backticked in its text; a column named like a view only
 * adds an ordering that is not needed. MySQL allows no cycle; should a text suggest one, name order breaks it.
 */
export function orderViews(views: readonly SchemaObject[]): SchemaObject[] {
  const names = new Set(views.map((view) => view.name));
  const needs = new Map<string, Set<string>>();
  for (const view of views) {
    const body = view.createSql.slice(view.createSql.search(/\sAS\s/i));
    const referenced = new Set<string>();
    for (const match of body.matchAll(/`((?:[^`]|``)+)`/g)) {
      const name = match[1]!.replaceAll('``', '`');
      if (name !== view.name && names.has(name)) referenced.add(name);
    }
    needs.set(view.name, referenced);
  }
  const done = new Set<string>();
  const ordered: SchemaObject[] = [];
  while (ordered.length < views.length) {
    const ready = views.find((view) => !done.has(view.name) && [...needs.get(view.name)!].every((name) => done.has(name)));
    const next = ready ?? views.find((view) => !done.has(view.name))!;
    done.add(next.name);
    ordered.push(next);
  }
  return ordered;
}

/** The definition with its DEFINER clause replaced (or added, after CREATE, if it had none). */
export function withDefiner(object: SchemaObject, definer: string): string {
  const clause = definerClause(definer);
  const quotedPart = String.raw`(?:\x60(?:[^\x60]|\x60\x60)*\x60|'(?:[^']|'')*'|[\w.%:-]+)`;
  const pattern = new RegExp(String.raw`^(CREATE\s+(?:OR\s+REPLACE\s+)?(?:ALGORITHM\s*=\s*\w+\s+)?)DEFINER\s*=\s*(?:CURRENT_USER(?:\(\))?|${quotedPart}(?:\s*@\s*${quotedPart})?)`, 'i');
  const sql = object.createSql;
  const replaced = pattern.test(sql) ? sql.replace(pattern, (_all, head: string) => `${head}${clause}`) : sql.replace(/^CREATE\s+/i, `CREATE ${clause} `);
  // The name must still be the one recorded: a replacement never changes what is created.
  if (createdName(object.kind, replaced) !== object.name) throw new Error(`${object.kind} ${object.name}: its DEFINER clause could not be replaced`);
  return replaced;
}

/** Recorded definers (or --definer) that the target server does not know, each once, sorted. */
export async function missingDefiners(conn: Connection, definers: readonly string[]): Promise<string[]> {
  const query = (sql: string) => new Promise<Array<Record<string, string>>>((resolve, reject) => conn.query(sql, (error, rows) => (error ? reject(error) : resolve(rows as Array<Record<string, string>>))));
  const [current] = await query('SELECT CURRENT_USER() AS user');
  const known = new Set([current?.user ?? '']);
  // mysql.user needs SELECT on it; a user without it can vouch only for itself, and the others are reported.
  const users = await query('SELECT User AS user, Host AS host FROM mysql.user').catch(() => []);
  // A MariaDB role (Host '') is a definer by its name alone.
  for (const user of users) known.add(user.host === '' ? String(user.user) : `${user.user}@${user.host}`);
  return [...new Set(definers)].filter((definer) => !known.has(definer)).sort();
}

/**
 * Creates one object in the schema `conn` has selected, in a session set as it was created in: its
 * sql_mode, character set and collation, the schema collation it was created under, an event's time zone.
 */
export async function createSchemaObject(conn: Connection, schema: string, object: SchemaObject, definer: string): Promise<void> {
  const run = (sql: string, values: unknown[] = []) => new Promise<void>((resolve, reject) => conn.query(sql, values, (error) => (error ? reject(error) : resolve())));
  const sql = definer === object.definer ? object.createSql : withDefiner(object, definer);
  const settings = ['character_set_client = ?', 'collation_connection = ?'];
  const values: unknown[] = [object.characterSetClient, object.collationConnection];
  if (object.sqlMode !== null) (settings.push('sql_mode = ?'), values.push(object.sqlMode));
  if (object.timeZone !== null) (settings.push('time_zone = ?'), values.push(object.timeZone));
  // Routines, triggers and events keep the schema's collation of when they were created (SHOW CREATE's
  // "Database Collation"); MariaDB and MySQL take it from the session's collation_database.
  if (object.databaseCollation !== null) (settings.push('collation_database = ?'), values.push(object.databaseCollation));
  await run(`SET SESSION ${settings.join(', ')}`, values);
  try {
    await run(sql);
  } catch (error) {
    const message = (error as { sqlMessage?: string }).sqlMessage ?? (error as Error).message;
    throw new Error(`creating ${object.kind} ${JSON.stringify(object.name)} in ${schema} failed: ${message}`);
  } finally {
    await run("SET SESSION sql_mode = DEFAULT, character_set_client = 'utf8mb4', collation_connection = 'utf8mb4_unicode_ci', time_zone = DEFAULT").catch(() => undefined);
  }
}

export function planObjects(objects: readonly SchemaObject[], definer: string | undefined): PlannedObject[] {
  return orderSchemaObjects(objects).map((object) => ({ kind: object.kind, name: object.name, definer: definer ?? object.definer, table: object.table }));
}
