// `agent run --dry-run`: what a run would do first (send the closes an earlier run kept, when the API was
// down as it delivered) and what it would extract, from the source's statistics; opens no transaction,
// takes no lock, writes nothing. It refuses what a real run would refuse before extracting (settings,
// --cycle, a plain-http API to another machine, unreadable keys, an inbox that cannot be opened), with the
// same message and exit code: a dry run that passes is worth trusting before the cron line goes in.
import { agentWorkDir, type LoadedConfig } from '../../config/load.js';
import { checkApiUrl } from '../../api/client.js';
import { readAgentKeys } from '../../agent/keys.js';
import { listPendingCloses, pendingClosePath, type PendingClose } from '../../agent/pending-close.js';
import { connectSource, sourceTarget } from '../../agent/source-db.js';
import { formatCycle } from '../../cycle.js';
import { estimateTables, type TableEstimate } from '../../extract/extract.js';
import { formatBytes, renderTable } from '../../render/table.js';
import { cycleToRun, openInbox, requireAgentSettings } from './run.js';

export interface AgentDryRunOptions {
  loaded: LoadedConfig;
  /** --cycle: checked as a real run checks it. */
  cycle?: string | undefined;
}

export interface KeptCloseToSend extends PendingClose {
  /** Where the earlier run kept it. */
  path: string;
  /** False for a close another GEO's agent kept here: a run leaves it alone. */
  wouldSend: boolean;
}

export interface AgentDryRunResult {
  /** What a run does before anything else: the closes earlier runs kept, oldest first. */
  keptCloses: KeptCloseToSend[];
  /** Files named as kept closes that are none (a run killed while writing one): a run removes them. */
  unreadableCloses: string[];
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
  const workDir = agentWorkDir(loaded.config);
  const kept = await listPendingCloses(workDir);
  const keptCloses = kept.closes.map((close) => ({ ...close, path: pendingClosePath(workDir, close.transactionId), wouldSend: close.geo === agent.geo }));
  const target = sourceTarget(loaded);
  const source = await connectSource(loaded, target);
  try {
    const tables = await estimateTables(source, { database: target.database, include: agent.source.include, exclude: agent.source.exclude });
    return { keptCloses, unreadableCloses: kept.unreadable, cycle: formatCycle(cycleStart), database: target.database, address: target.address, tables };
  } finally {
    source.destroy();
  }
}

export function describeAgentDryRun(result: AgentDryRunResult): string {
  const rows = result.tables.reduce((sum, table) => sum + table.estimatedRows, 0);
  const bytes = result.tables.reduce((sum, table) => sum + table.estimatedDataBytes, 0);
  return [
    ...result.keptCloses.map(describeKeptClose),
    ...result.unreadableCloses.map((path) => `dry run: would first remove ${path}: not a close this agent kept whole`),
    `dry run: would extract ${result.tables.length} tables of ${result.database} at ${result.address} for ${result.cycle} (estimates from information_schema; nothing was changed)`,
    renderTable(
      ['TABLE', 'ENGINE', '~ROWS', '~SIZE ON DISK'],
      [...result.tables.map((table) => [table.name, table.engine ?? '-', String(table.estimatedRows), formatBytes(table.estimatedDataBytes)]), ['total', '', String(rows), formatBytes(bytes)]],
    ),
  ].join('\n');
}

/** The close first, as the run would send it: name, size and an abbreviated sha256 to match the centre's records. */
function describeKeptClose(close: KeptCloseToSend): string {
  const what = `${close.file.name} (${close.file.size} bytes, sha256 ${close.file.sha256.slice(0, 12)}…) of ${close.cycle}, transaction ${close.transactionId}, kept in ${close.path} since ${close.deliveredAt}`;
  if (!close.wouldSend) return `dry run: would not send the close of GEO ${close.geo}'s ${what}: this agent is another GEO`;
  return `dry run: would first send the close an earlier run kept: ${what}`;
}
