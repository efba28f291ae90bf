// The feed manifest's `schemas` and `schemaChanges`: the recorded schema of each fed GEO at the hour, each
// table named with the collection it becomes under the warehouse mappings (the same rule as planCollections:
// a `table` mapping's collection, null when it skips the table, else the table's own name).
import { formatCycle } from '../cycle.js';
import type { GeoSchemaRecord } from '../state/geo-schemas.js';
import type { Mapping } from '../warehouse/mappings.js';
import type { FeedGeoSchema, FeedSchemaChange } from './store.js';

export function feedSchemas(records: GeoSchemaRecord[], mappings: Mapping[]): { geos: FeedGeoSchema[]; changes: FeedSchemaChange[] } {
  const byTable = new Map(mappings.filter((mapping) => mapping.table !== undefined).map((mapping) => [mapping.table!, mapping]));
  const collectionOf = (table: string): string | null => {
    const mapping = byTable.get(table);
    if (!mapping) return table;
    return mapping.skip ? null : (mapping.collection ?? table);
  };
  const geos = records.map((record) => ({
    geo: record.geo,
    previousCycle: record.previousCycle ? formatCycle(record.previousCycle) : null,
    tables: record.tables.map((table) => ({ table: table.table, collection: collectionOf(table.table), columns: table.columns })),
  }));
  const changes = records.flatMap((record) =>
    record.previousCycle ? record.changes.map((change) => ({ geo: record.geo, previousCycle: formatCycle(record.previousCycle!), ...change })) : []);
  return { geos, changes };
}
