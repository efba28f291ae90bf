// What a GEO's token is shown of its own transactions. The error text is written for the centre's operators:
// it names the centre's directories, its servers and what its workers met. A GEO learns why its file was
// refused (the reason is about the file it sent) with the centre's paths cut down to their last name, and
// that the centre failed otherwise, not how; its own agent's reason it gets back as it sent it.
import type { Transaction } from '../state/transactions.js';

// An absolute path of two or more components, as the centre's messages print them.
const centrePathPattern = /(?<![\w.:/])\/(?:[^\s/'"`;,()]+\/)+([^\s/'"`;,()]*)/g;

/** The message with every absolute path cut down to `…/<last name>`. */
export function withoutCentrePaths(message: string): string {
  return message.replace(centrePathPattern, (_path, last: string) => `…/${last}`);
}

export function transactionForGeo(txn: Transaction): Transaction {
  if (txn.error === null || txn.state === 'agent_failed') return txn;
  if (txn.state === 'refused') return { ...txn, error: withoutCentrePaths(txn.error) };
  return { ...txn, error: `the centre could not finish step ${txn.step ?? 'unknown'}; its operators have the details and the step is retried or escalated there` };
}
