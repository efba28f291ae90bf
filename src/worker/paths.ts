// Where a transaction's files and scratch schema live at the centre. Named by transaction and delivery,
// so a forced re-delivery never mixes with the one before.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { centreDirs } from '../config/load.js';
import type { Transaction } from '../state/transactions.js';

export function quarantineFile(config: Config, txn: Transaction): string {
  return join(centreDirs(config).quarantine, txn.geo, txn.file!.name);
}

export function txnWorkDir(config: Config, txn: Pick<Transaction, 'id' | 'delivery'>): string {
  return join(centreDirs(config).work, `txn-${txn.id}-d${txn.delivery}`);
}

/**
 * The temporary schema a transaction is loaded into. It carries a hash of the Ganymede database's name,
 * so two centres sharing one MySQL server (staging and production) never drop each other's schemas.
 */
export function scratchSchema(config: Config, txn: Pick<Transaction, 'id' | 'delivery'>): string {
  const owner = createHash('sha1').update(new URL(config.mysql.url ?? 'mysql://x/ganymede').pathname).digest('hex').slice(0, 8);
  return `gmd_${owner}_txn_${txn.id}_d${txn.delivery}`;
}
