// `agent run --dry-run`: what a run would extract, from the source's statistics; opens no transaction,
// takes no lock, writes nothing.
import type { LoadedConfig } from '../../config/load.js';
import { requireSettings } from '../../config/load.js';
import { connectSource, sourceTarget } from '../../agent/source-db.js';
import { estimateTables, type TableEstimate } from '../../pipeline/extract.js';
import { formatBytes, renderTable } from '../../render/table.js';

export interface AgentDryRunResult {
  database: string;
  address: string;
  tables: TableEstimate[];
}

export async function runAgentDryRun({ loaded }: { loaded: LoadedConfig }): Promise<AgentDryRunResult> {
  requireSettings(loaded, ['agent.source.url'], '`agent run --dry-run`');
  const target = sourceTarget(loaded);
  const source = await connectSource(loaded, target);
  try {
    const tables = await estimateTables(source, { database: target.database, include: loaded.config.agent.source.include, exclude: loaded.config.agent.source.exclude });
    return { database: target.database, address: target.address, tables };
  } finally {
    source.destroy();
  }
}

export function describeAgentDryRun(result: AgentDryRunResult): string {
  const rows = result.tables.reduce((sum, table) => sum + table.estimatedRows, 0);
  const bytes = result.tables.reduce((sum, table) => sum + table.estimatedDataBytes, 0);
  return [
    `dry run: would extract ${result.tables.length} tables of ${result.database} at ${result.address} (estimates from information_schema; nothing was changed)`,
    renderTable(
      ['TABLE', 'ENGINE', '~ROWS', '~SIZE ON DISK'],
      [...result.tables.map((table) => [table.name, table.engine ?? '-', String(table.estimatedRows), formatBytes(table.estimatedDataBytes)]), ['total', '', String(rows), formatBytes(bytes)]],
    ),
  ].join('\n');
}
