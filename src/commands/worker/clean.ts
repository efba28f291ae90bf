// `worker clean`: drops the transaction's temporary schema, and the work files that a version before the
// streamed load unpacked on this host, if any (nothing writes them now). The encrypted file the agent
// delivered stays in the inbox until it is archived.
import { rm } from 'node:fs/promises';
import type { StepOutcome } from '../../state/step-outcomes.js';
import type { StepContext } from '../../worker/runtime.js';
import { scratchSchema, txnWorkDir } from '../../worker/paths.js';
import { connectScratch, scratchQuery } from '../../worker/scratch-db.js';

export async function cleanStep(context: StepContext): Promise<StepOutcome> {
  const schema = scratchSchema(context.loaded.config, context.txn);
  const admin = await connectScratch(context.loaded);
  try {
    await scratchQuery(admin, `DROP DATABASE IF EXISTS \`${schema}\``);
  } finally {
    admin.destroy();
  }
  const dir = txnWorkDir(context.loaded.config, context.txn);
  await rm(dir, { recursive: true, force: true });
  await context.event({ phase: 'clean', message: `dropped ${schema}, removed ${dir}` });
  return {};
}
