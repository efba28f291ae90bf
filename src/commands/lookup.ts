// `ganymede lookup COLLECTION ID`: one warehouse document as it is now, and with --history every cycle it
// changed in with the old and new value of each changed field. The reading is src/warehouse/lookup.ts;
// this validates, connects, and lays the result out for people.
import { requireSettings, type LoadedConfig } from '../config/load.js';
import { usageError } from '../errors.js';
import { printable } from '../render/printable.js';
import { openWarehouse } from '../warehouse/client.js';
import { lookupDocument, maxHistoryLimit, parseLookupTarget, type LookupChange, type LookupResult } from '../warehouse/lookup.js';

export interface LookupOptions {
  loaded: LoadedConfig;
  collection: string;
  /** The whole `_id`, or with `geo` its key part alone. */
  id: string;
  geo?: string | undefined;
  history?: boolean | undefined;
  /** With history: at most the newest this many entries. */
  limit?: number | undefined;
}

export async function runLookup(options: LookupOptions): Promise<LookupResult> {
  const target = parseLookupTarget(options.collection, options.id, options.geo);
  const { limit } = options;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > maxHistoryLimit)) {
    throw usageError(`--limit ${limit}: expected a whole number from 1 to ${maxHistoryLimit}`);
  }
  requireSettings(options.loaded, ['mongodb.url'], '`ganymede lookup`');
  const warehouse = await openWarehouse(options.loaded);
  try {
    return await lookupDocument({ db: warehouse.db, target, history: options.history, historyLimit: options.limit });
  } finally {
    await warehouse.close();
  }
}

/** Text values longer than this are cut in the text output (--json has them whole). */
const maxShownChars = 200;

function cut(text: string, quote = ''): string {
  return text.length <= maxShownChars ? `${quote}${text}${quote}` : `${quote}${text.slice(0, maxShownChars)}…${quote} (${text.length} characters)`;
}

/** One value, from its Extended JSON form, as a person reads it. */
export function showValue(value: unknown): string {
  if (value === undefined) return '(none)';
  if (value === null || typeof value !== 'object') return typeof value === 'string' ? cut(value, '"') : String(value);
  const keys = Object.keys(value);
  const inner = (value as Record<string, unknown>)[keys[0]!] as Record<string, unknown> | string;
  if (keys.length === 1) {
    switch (keys[0]) {
      case '$numberDecimal':
      case '$numberLong':
      case '$numberDouble':
        return String(inner);
      case '$date':
        return typeof inner === 'string' ? inner : JSON.stringify(inner);
      case '$binary': {
        const bytes = Buffer.from(String((inner as Record<string, unknown>).base64 ?? ''), 'base64');
        return `binary, ${bytes.length} bytes: ${bytes.subarray(0, 32).toString('hex')}${bytes.length > 32 ? '…' : ''}`;
      }
      case '_ganymede_gridfs':
        return `<in GridFS: ${String((inner as Record<string, unknown>).bytes)} bytes, ${String((inner as Record<string, unknown>).type)}, sha256 ${String((inner as Record<string, unknown>).sha256).slice(0, 16)}…>`;
      case '_ganymede_truncated':
        return `<${String((inner as Record<string, unknown>).bytes)} bytes, not kept; sha256 ${String((inner as Record<string, unknown>).sha256).slice(0, 16)}…>`;
    }
  }
  return cut(JSON.stringify(value));
}

function fieldLabel(field: string, sourceNames: Record<string, string>): string {
  const source = Object.hasOwn(sourceNames, field) ? sourceNames[field] : undefined;
  return source === undefined ? printable(field) : `${printable(field)} (source name ${printable(source)})`;
}

function describeChange(change: LookupChange, sourceNames: Record<string, string>): string[] {
  const fed = change.fedIn ? `  (fed in ${change.fedIn})` : '';
  const lines = [`  ${change.cycle} ${change.op}${fed}`];
  if (change.values) {
    for (const [field, value] of Object.entries(change.values)) lines.push(`    ${fieldLabel(field, sourceNames)}: ${showValue(value.old)} → ${showValue(value.new)}`);
  } else if (change.fields?.length) {
    // Logged before the change log kept values.
    lines.push(`    changed: ${change.fields.join(', ')} (no values kept)`);
  }
  return lines;
}

export function describeLookup(result: LookupResult): string {
  const { collection, id, document, sourceNames } = result;
  const lines: string[] = [];
  if (document) {
    const meta = document._meta as { cycle?: { $date?: unknown }; files?: unknown[] } | undefined;
    const cycle = typeof meta?.cycle?.$date === 'string' ? meta.cycle.$date.slice(0, 13) : '?';
    const files = meta?.files?.length ? `, ${meta.files.length} field${meta.files.length === 1 ? '' : 's'} in GridFS` : '';
    lines.push(`${collection} ${id} (GEO ${result.geo}), as of cycle ${cycle}${files}`);
    for (const [field, value] of Object.entries(document)) {
      if (field === '_id' || field === 'geo' || field === '_meta') continue;
      lines.push(`  ${fieldLabel(field, sourceNames)}: ${showValue(value)}`);
    }
  } else {
    const last = result.history?.at(-1);
    lines.push(`${collection} ${id} (GEO ${result.geo}): not in the warehouse now${last?.op === 'removed' ? ` (removed in cycle ${last.cycle})` : ''}`);
  }
  if (result.history) {
    lines.push(result.history.length === 0 ? 'history: no change-log entries' : 'history, oldest first:');
    if (result.historyComplete === false) lines.push('  … older entries not shown (--limit)');
    for (const change of result.history) lines.push(...describeChange(change, sourceNames));
  }
  return lines.join('\n');
}
