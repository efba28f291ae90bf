// `agent run --dry-run`: what a run would extract, from the source's statistics; opens no transaction,
// takes no lock, writes nothing. It refuses what a real run would refuse before extracting (settings,
// --cycle, a plain-http API to another machine, unreadable keys, an inbox that cannot be opened), with the
// same message and exit code: a dry run that passes is worth trusting before the cron line goes in.
import type { LoadedConfig } from '../../config/load.js';
import { checkApiUrl } from '../../api/client.js';
import { readAgentKeys } from '../../agent/keys.js';
import { connectSource, sourceTarget } from '../../agent/source-db.js';
import { formatCycle } from '../../cycle.js';
import { estimateTables, type TableEstimate } from '../../pipeline/extract.js';
import { formatBytes, renderTable } from '../../render/table.js';
import { cycleToRun, openInbox, requireAgentSettings } from './run.js';

export interface AgentDryRunOptions {
  loaded: LoadedConfig;
  /** --cycle: checked as a real run checks it. */
  cycle?: string | undefined;
}

export interface AgentDryRunResult {
  cycle: string;
  database: string;
  address: string;
  tables: TableEstimate[];
}

export async function runAgentDryRun({ loaded, cycle }: AgentDryRunOptions): Promise<AgentDryRunResult> {
  requireAgentSettings(loaded);
  const cycleStart = cycleToRun(cycle);
  const { agent, api } = loaded.config;
  checkApiUrl(api.url, api.allow_insecure);
  await readAgentKeys(agent.signing_key_file!, agent.centre_public_key_file!);
  await (await openInbox(loaded))?.close();
  const target = sourceTarget(loaded);
  const source = await connectSource(loaded, target);
  try {
    const tables = await estimateTables(source, { database: target.database, include: agent.source.include, exclude: agent.source.exclude });
    return { cycle: formatCycle(cycleStart), database: target.database, address: target.address, tables };
  } finally {
    source.destroy();
  }
}

export function describeAgentDryRun(result: AgentDryRunResult): string {
  const rows = result.tables.reduce((sum, table) => sum + table.estimatedRows, 0);
  const bytes = result.tables.reduce((sum, table) => sum + table.estimatedDataBytes, 0);
  return [
    `dry run: would extract ${result.tables.length} tables of ${result.database} at ${result.address} for ${result.cycle} (estimates from information_schema; nothing was changed)`,
    renderTable(
      ['TABLE', 'ENGINE', '~ROWS', '~SIZE ON DISK'],
      [...result.tables.map((table) => [table.name, table.engine ?? '-', String(table.estimatedRows), formatBytes(table.estimatedDataBytes)]), ['total', '', String(rows), formatBytes(bytes)]],
    ),
  ].join('\n');
}
