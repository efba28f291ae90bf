// Source names (columns, JSON object keys, nest fields) → MongoDB field names, reversibly. MongoDB 4.4
// refuses to replace a document holding a dotted or `$`-leading key, 5.0+ still refuses a top-level `$`
// field in a replacement, and NUL ends a BSON key; so `.`, a leading `$` and NUL are percent-escaped,
// and `%` too, which makes the escape its own inverse's only reading. At the top level of a document the
// names Ganymede writes itself (`_id`, `geo`, `_meta`) get a `_` appended, and so does any name that is one
// of them followed by `_`s, so `_id_` (a real column) cannot be taken for an escaped `_id`.

const escapes: Record<string, string> = { '%': '%25', '.': '%2E', '$': '%24', '\0': '%00' };
const unescapes = new Map(Object.entries(escapes).map(([char, escaped]) => [escaped, char]));
const reservedTopLevel = /^(?:_id|geo|_meta)_*$/;

export interface FieldNameLevel {
  /** A name at the top level of a state document, where `_id`, `geo` and `_meta` are Ganymede's. */
  topLevel?: boolean;
}

/** The stored field name of a source name. Distinct source names give distinct field names. */
export function escapeFieldName(name: string, level: FieldNameLevel = {}): string {
  // `$` only where it leads: `x$` is a valid field name, and escaping it would rename existing fields.
  const escaped = name.replace(/[%.\0]|^\$/g, (char) => escapes[char]!);
  return level.topLevel && reservedTopLevel.test(escaped) ? `${escaped}_` : escaped;
}

/** The source name a stored field name was made from (the inverse of escapeFieldName at the same level). */
export function unescapeFieldName(field: string, level: FieldNameLevel = {}): string {
  const name = level.topLevel && reservedTopLevel.test(field) && field.endsWith('_') ? field.slice(0, -1) : field;
  return name.replace(/%(?:25|2E|24|00)/g, (escaped) => unescapes.get(escaped)!);
}

/** A parsed JSON value with every object key escaped, at every depth. */
export function escapeJsonKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(escapeJsonKeys);
  if (value === null || typeof value !== 'object') return value;
  // fromEntries defines own properties: a `__proto__` key stays a key instead of setting the prototype.
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, item]) => [escapeFieldName(key), escapeJsonKeys(item)]));
}
