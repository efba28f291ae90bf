// The rest of a Cloud Control schema, beside its tables: views, stored functions and procedures,
// triggers and events, as the GEO's server reports them (SHOW CREATE …, information_schema). Shared by
// the agent, which records them in the dump's plan and manifest (format 3), and the centre, which
// treats them as untrusted data: checked for shape and size here, never executed by `load`, never used
// as a path; only `archive restore` creates them, in a target an operator names.
import { z } from 'zod';

export const schemaObjectKinds = ['view', 'function', 'procedure', 'trigger', 'event'] as const;
export type SchemaObjectKind = (typeof schemaObjectKinds)[number];

export interface SchemaObject {
  kind: SchemaObjectKind;
  name: string;
  /**
   * The definition as SHOW CREATE gives it in a session with sql_mode '' and the schema selected (so
   * backticks, and no schema name before the schema's own objects). For a trigger, the original statement.
   */
  createSql: string;
  /** information_schema's DEFINER, `user@host` (a MariaDB role: its name alone). */
  definer: string;
  /** The sql_mode the object was created with and runs under; views keep none (null). */
  sqlMode: string | null;
  characterSetClient: string;
  collationConnection: string;
  /** The schema's collation when the routine, trigger or event was created; null for views. */
  databaseCollation: string | null;
  /** Events: the time_zone their schedule is written in. Null otherwise. */
  timeZone: string | null;
  /** Triggers: the table they belong to, and their place among its triggers (ACTION_ORDER). Null otherwise. */
  table: string | null;
  actionOrder: number | null;
}

/** An object the agent could not read (its user lacks the privilege): named, so a restore can say what is missing. */
export interface UnreadableObject {
  kind: SchemaObjectKind;
  name: string;
  reason: string;
}

export interface SchemaObjects {
  objects: SchemaObject[];
  unreadable: UnreadableObject[];
}

/** Bounds a GEO cannot exceed: plan.json as a whole is at most 64 MiB (dump-layout.ts). */
export const maxSchemaObjects = 10_000;
export const maxObjectSqlBytes = 1024 * 1024;
export const maxSchemaObjectsSqlBytes = 32 * 1024 * 1024;

// Names are only ever quoted into SQL and printed (escaped), never used as a path: MySQL's own rules, less control characters.
const identifier = z.string().min(1).max(64).regex(/^[^\u0000-\u001f]+$/u, 'a name of 1-64 characters without control characters');
const charsetName = z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'a character set or collation name');
const sqlModeText = z.string().regex(/^[A-Z0-9_,]{0,1024}$/, 'a sql_mode (upper-case words and commas)');
// MariaDB's roles can be definers: a name without @host.
const definerText = z.string().regex(/^[^\u0000-\u001f]{1,128}(@[^\u0000-\u001f@]{0,255})?$/u, 'user@host, or a role');
const timeZoneText = z.string().regex(/^[A-Za-z0-9_+:/-]{1,64}$/, 'a time zone (SYSTEM, +00:00, Europe/Paris)');

const objectSchema = z.strictObject({
  kind: z.enum(schemaObjectKinds),
  name: identifier,
  createSql: z.string().min(1).refine((sql) => Buffer.byteLength(sql) <= maxObjectSqlBytes, `at most ${maxObjectSqlBytes} bytes`),
  definer: definerText,
  sqlMode: sqlModeText.nullable(),
  characterSetClient: charsetName,
  collationConnection: charsetName,
  databaseCollation: charsetName.nullable(),
  timeZone: timeZoneText.nullable(),
  table: identifier.nullable(),
  actionOrder: z.number().int().min(0).max(1_000_000).nullable(),
});

export const schemaObjectsSchema = z.strictObject({
  objects: z.array(objectSchema).max(maxSchemaObjects),
  unreadable: z.array(z.strictObject({ kind: z.enum(schemaObjectKinds), name: identifier, reason: z.string().max(1024) })).max(maxSchemaObjects),
});

const createKeyword: Record<SchemaObjectKind, string> = { view: 'VIEW', function: 'FUNCTION', procedure: 'PROCEDURE', trigger: 'TRIGGER', event: 'EVENT' };

/**
 * What the centre would refuse in one object, checked by the agent before it records it: an object a
 * delivery cannot carry (a definition over 1 MiB, say) is listed as unreadable instead of making the
 * whole hour undeliverable.
 */
export function schemaObjectRefusal(object: SchemaObject): string | undefined {
  const parsed = objectSchema.safeParse(object);
  if (!parsed.success) return parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
  return schemaObjectProblems([object]).map((problem) => problem.replace(/^objects\[0\] \([^)]*\)\.?/, '')).join('; ') || undefined;
}

/**
 * Problems with objects that passed the schema: each must be a CREATE of its own kind and name, in the
 * schema it is created in (no `other_db`. before the name), no name twice, the whole within bounds.
 */
export function schemaObjectProblems(objects: readonly SchemaObject[], where = 'objects'): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  let total = 0;
  for (const [i, object] of objects.entries()) {
    const at = `${where}[${i}] (${object.kind} ${JSON.stringify(object.name)})`;
    total += Buffer.byteLength(object.createSql);
    // Functions and procedures share no namespace with each other's kind, views share theirs with tables.
    const key = `${object.kind === 'view' ? 'table' : object.kind}\0${object.name}`;
    if (seen.has(key)) problems.push(`${at}: appears twice`);
    seen.add(key);
    const named = createdName(object.kind, object.createSql);
    if (named === undefined) problems.push(`${at}.createSql: not a CREATE … ${createKeyword[object.kind]} statement naming one object of this schema`);
    else if (named !== object.name) problems.push(`${at}.createSql: it creates ${JSON.stringify(named)}, not ${JSON.stringify(object.name)}`);
    if ((object.kind === 'trigger') !== (object.table !== null)) problems.push(`${at}.table: ${object.kind === 'trigger' ? 'a trigger names its table' : 'only a trigger names a table'}`);
    if (object.kind !== 'view' && object.sqlMode === null) problems.push(`${at}.sqlMode: a ${object.kind} records the sql_mode it was created with`);
    if ((object.kind === 'event') !== (object.timeZone !== null)) problems.push(`${at}.timeZone: ${object.kind === 'event' ? 'an event records its time zone' : 'only an event records a time zone'}`);
  }
  if (total > maxSchemaObjectsSqlBytes) problems.push(`${where}: the definitions come to ${total} bytes; at most ${maxSchemaObjectsSqlBytes}`);
  return problems;
}

/**
 * The name a definition creates: after `CREATE [OR REPLACE] [ALGORITHM=…] [DEFINER=…] [SQL SECURITY …]
 * [AGGREGATE] KIND [IF NOT EXISTS]`, one identifier, backticked or bare, not qualified by a schema.
 */
export function createdName(kind: SchemaObjectKind, sql: string): string | undefined {
  const head = new RegExp(
    String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?(?:ALGORITHM\s*=\s*\w+\s+)?(?:DEFINER\s*=\s*(?:\x60(?:[^\x60]|\x60\x60)*\x60|'(?:[^']|'')*'|[\w.%-]+|CURRENT_USER(?:\(\))?)(?:\s*@\s*(?:\x60(?:[^\x60]|\x60\x60)*\x60|'(?:[^']|'')*'|[\w.%:-]+))?\s+)?` +
      String.raw`(?:SQL\s+SECURITY\s+\w+\s+)?(?:AGGREGATE\s+)?${createKeyword[kind]}\s+(?:IF\s+NOT\s+EXISTS\s+)?`,
    'i',
  );
  const match = head.exec(sql);
  if (!match) return undefined;
  const rest = sql.slice(match[0].length);
  const quoted = /^\x60((?:[^\x60]|\x60\x60)+)\x60/.exec(rest);
  const bare = /^([A-Za-z0-9_$]+)/.exec(rest);
  const token = quoted ?? bare;
  if (!token) return undefined;
  if (/^\s*\./.test(rest.slice(token[0].length))) return undefined;
  return quoted ? token[1]!.replaceAll('``', '`') : token[1];
}

/** `user@host` as information_schema gives it → the DEFINER clause SHOW CREATE writes. */
export function definerClause(definer: string): string {
  const at = definer.lastIndexOf('@');
  const quote = (part: string) => `\`${part.replaceAll('`', '``')}\``;
  if (at < 0) return `DEFINER=${quote(definer)}`;
  return `DEFINER=${quote(definer.slice(0, at))}@${quote(definer.slice(at + 1))}`;
}
