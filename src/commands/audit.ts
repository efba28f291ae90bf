// The audit trail: every admin action, through the API or the CLI. `ganymede audit` lists it; `auditCli`
// is how CLI commands record theirs, with the operating-system user as the actor.
import { userInfo } from 'node:os';
import type { LoadedConfig } from '../config/load.js';
import { formatTime, renderTable } from '../render/table.js';
import type { PoolConnection } from 'mysql2/promise';
import type { Db } from '../state/db.js';
import { listAudit, recordAudit, type AuditEntry } from '../state/audit.js';
import { withStateDb } from './context.js';

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid-${process.getuid?.() ?? '?'}`;
  }
}

export async function auditCli(db: Db | PoolConnection, action: string, target: string, detail?: string | Record<string, unknown>): Promise<void> {
  await recordAudit(db, { actor: `os:${osUser()}`, action, target, detail });
}

export async function runAudit(options: { loaded: LoadedConfig; actor?: string; action?: string; target?: string; limit?: number }): Promise<AuditEntry[]> {
  return withStateDb(options.loaded, (db) => listAudit(db, { actor: options.actor, action: options.action, target: options.target, limit: options.limit ?? 200 }));
}

export function describeAudit(entries: AuditEntry[]): string {
  if (entries.length === 0) return 'no audited actions match';
  return renderTable(
    ['AT', 'ACTOR', 'ACTION', 'TARGET', 'FROM', 'DETAIL'],
    entries.map((entry) => [formatTime(entry.at), entry.actor, entry.action, entry.target, entry.sourceAddress ?? '-', entry.detail ?? '']),
    { maxWidths: [0, 0, 0, 0, 0, 60] },
  );
}
