// After `load`: the GEO's schema at this hour is recorded (state/geo-schemas.ts), and each change from its
// hour before becomes a status event of its own (phase `schema`, level warn), so `txn show` and the
// console list them. Bounded: an upgrade that changes hundreds of columns gives the first few events and
// one that counts the rest (the feed's manifest and `check` carry them all).
import type { DumpPlan } from '../dump/dump-manifest.js';
import { describeSchemaChange, schemaOfDelivery } from '../dump/table-schema.js';
import { recordGeoSchema } from '../state/geo-schemas.js';
import { formatCycle } from '../cycle.js';
import type { StepContext } from './runtime.js';

export const maxSchemaEvents = 20;

export async function recordSchemaChanges(context: Pick<StepContext, 'db' | 'txn' | 'log' | 'event'>, plan: Pick<DumpPlan, 'tables'>): Promise<number> {
  const { txn } = context;
  const { previousCycle, changes } = await recordGeoSchema(context.db, txn.geoId, txn.cycleStart, schemaOfDelivery(plan));
  if (changes.length === 0 || !previousCycle) return 0;
  const since = `since ${formatCycle(previousCycle)}`;
  for (const change of changes) context.log.warn(`GEO ${txn.geo} hour ${formatCycle(txn.cycleStart)}: schema changed ${since}: ${describeSchemaChange(change)}`);
  for (const change of changes.slice(0, maxSchemaEvents)) {
    await context.event({ phase: 'schema', level: 'warn', table: change.table.slice(0, 64), message: `${describeSchemaChange(change)} (${since})`.slice(0, 1000) });
  }
  if (changes.length > maxSchemaEvents) {
    await context.event({ phase: 'schema', level: 'warn', message: `and ${changes.length - maxSchemaEvents} more schema changes ${since} (all of them: the log, the feed's manifest)` });
  }
  return changes.length;
}
