import type { LoadedConfig } from '../../config/load.js';
import { usageError } from '../../errors.js';
import { parseCycle } from '../../cycle.js';
import { listTransactions, txnStates, type Transaction, type TxnState } from '../../state/transactions.js';
import { formatBytes, formatTime, renderTable } from '../../render/table.js';
import { withStateDb } from '../context.js';

export interface TxnListOptions {
  loaded: LoadedConfig;
  geo?: string | undefined;
  state?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  limit?: number | undefined;
}

function cycleOption(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const cycle = parseCycle(value);
  if (!cycle) throw usageError(`${flag} ${value}: not a UTC hour`, 'write it as YYYY-MM-DDTHH, e.g. 2026-11-24T20');
  return cycle;
}

export async function runTxnList(options: TxnListOptions): Promise<Transaction[]> {
  if (options.state && !txnStates.includes(options.state as TxnState)) throw usageError(`--state ${options.state}: not a state`, `one of ${txnStates.join(', ')}`);
  const filter = {
    geo: options.geo,
    state: options.state as TxnState | undefined,
    from: cycleOption(options.from, '--from'),
    to: cycleOption(options.to, '--to'),
    limit: options.limit,
  };
  return withStateDb(options.loaded, (db) => listTransactions(db, filter));
}

export function describeTxnList(transactions: Transaction[]): string {
  if (transactions.length === 0) return 'no transactions match';
  return renderTable(
    ['ID', 'CYCLE', 'GEO', 'STATE', 'STEP', 'FILE SIZE', 'UPDATED', 'ERROR'],
    transactions.map((txn) => [
      String(txn.id),
      txn.cycle,
      txn.geo,
      txn.state,
      txn.step ?? '-',
      formatBytes(txn.file?.size),
      formatTime(txn.updatedAt),
      txn.error ?? '',
    ]),
    { maxWidths: [0, 0, 0, 0, 0, 0, 0, 60] },
  );
}
