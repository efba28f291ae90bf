// Retry and Cancel from the console (admin only): GET shows what would happen — the same dry run as
// `ganymede txn retry/cancel --dry-run` — and a form to confirm; POST (with the form token and confirm=yes)
// does it through the very functions the CLI uses, audited as the admin token from the caller's address.
import { HttpError } from '../../api/http.js';
import { cancelTxn, retryTxn, type AuditChange } from '../../commands/txn/change.js';
import { formatCycle } from '../../cycle.js';
import { GanymedeError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { recordAudit } from '../../state/audit.js';
import type { SessionRequest } from '../context.js';
import { consolePath, html } from '../html.js';
import { csrfField, layout } from '../layout.js';
import { page, redirect, type ConsoleReply } from '../reply.js';
import { loadTxn } from './txn.js';

type Action = 'retry' | 'cancel';

/** A refusal of the CLI's functions as the console answers it: nothing to do is a 409, and so on. */
function asHttpError(error: unknown): unknown {
  if (!(error instanceof GanymedeError)) return error;
  const status = error.exitCode === ExitCode.notFound ? 404 : error.exitCode === ExitCode.nothingToDo || error.exitCode === ExitCode.refused ? 409 : error.exitCode === ExitCode.unreachable ? 503 : 500;
  return new HttpError(status, error.hint ? `${error.message} (${error.hint})` : error.message);
}

async function run(request: SessionRequest, action: Action, id: number, dryRun: boolean) {
  const { db, settings } = request.server;
  const audit: AuditChange = async (connection, name, target, detail) => {
    await recordAudit(connection, { actor: 'admin-token', action: name, target, detail: { ...detail, via: 'console' }, sourceAddress: request.source });
  };
  try {
    return action === 'retry' ? await retryTxn(db, id, { dryRun, audit }) : await cancelTxn(settings.loaded, db, id, { dryRun, audit });
  } catch (error) {
    throw asHttpError(error);
  }
}

function actionOf(request: SessionRequest): Action {
  const action = request.params[1];
  if (action !== 'retry' && action !== 'cancel') throw new HttpError(404, 'no such action');
  return action;
}

export async function confirmTxnAction(request: SessionRequest): Promise<ConsoleReply> {
  const action = actionOf(request);
  const txn = await loadTxn(request);
  const plan = await run(request, action, txn.id, true);
  const what =
    'step' in plan
      ? html`<strong>${plan.step}</strong> becomes due again with a fresh attempt count; the next tick runs it.`
      : html`${plan.stepsCancelled} step${plan.stepsCancelled === 1 ? '' : 's'} stop (a running worker loses its lease)${plan.schemasDropped.length ? html`, and the scratch schema ${plan.schemasDropped.join(', ')} is dropped` : ''}. The delivered file stays in the inbox.`;
  const title = `${action === 'retry' ? 'Retry' : 'Cancel'} transaction ${txn.id}?`;
  const body = html`<h1>${title}</h1><p>${txn.geo}, ${formatCycle(txn.cycleStart)}, now ${txn.state}${txn.error ? html`: <span class="error">${txn.error}</span>` : ''}</p>
<p class="note ${action === 'cancel' ? 'warn' : ''}">${what} It is recorded in the audit trail as the admin's, from ${request.source}.</p>
<form method="post" action="${consolePath(['txn', txn.id, action])}">${csrfField(request.signedIn)}<input type="hidden" name="confirm" value="yes">
<button type="submit" class="${action === 'cancel' ? 'danger' : 'primary'}">${action === 'retry' ? 'Yes, retry it' : 'Yes, cancel it'}</button> <a href="${consolePath(['txn', txn.id])}">No, back to the transaction</a></form>`;
  return page(layout({ title, signedIn: request.signedIn, section: 'grid', body }));
}

export async function postTxnAction(request: SessionRequest): Promise<ConsoleReply> {
  const action = actionOf(request);
  const txn = await loadTxn(request);
  // Without the confirmation (a form of some other page, a replayed request), show it first.
  if (request.form.get('confirm') !== 'yes') return confirmTxnAction(request);
  await run(request, action, txn.id, false);
  return redirect(consolePath(['txn', txn.id], { did: action }));
}
