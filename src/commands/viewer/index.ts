// `viewer add`, `viewer list`, `viewer revoke`: read-only sign-in to the web console, for people who watch
// the pipeline but must not act on it. A viewer's token is printed once (or written to a new 0600 file),
// stored only as a hash; revoking it ends the viewer's console sessions at once.
import type { LoadedConfig } from '../../config/load.js';
import { notFoundError, refusedError, usageError } from '../../errors.js';
import { formatTime, renderTable } from '../../render/table.js';
import { addViewer, findViewer, listViewers, revokeViewer, viewerNamePattern, type Viewer, type ViewerWithSessions } from '../../state/viewers.js';
import { withStateDb } from '../context.js';
import { auditCli } from '../audit.js';
import { withTokenOutput } from '../geo/token-output.js';

export interface ViewerAddOptions {
  loaded: LoadedConfig;
  name: string;
  tokenFile?: string | undefined;
  dryRun?: boolean | undefined;
}

export type ViewerAddResult =
  | { dryRun: true; wouldAdd: string }
  | { dryRun?: undefined; viewer: Viewer; token: string; tokenWentTo: 'file' | 'stdout' };

const noSuchViewer = (name: string) => notFoundError(`no viewer named ${name}`, 'see `ganymede viewer list`');

function checkName(name: string): void {
  if (!viewerNamePattern.test(name)) throw usageError(`"${name}" is not a viewer name: use 1-32 lower-case letters, digits, _ or -`, 'e.g. `ganymede viewer add alice`');
}

export async function runViewerAdd(options: ViewerAddOptions): Promise<ViewerAddResult> {
  checkName(options.name);
  return withStateDb(options.loaded, async (db) => {
    const exists = () => refusedError(`a viewer named ${options.name} exists already`, `revoke it first (\`ganymede viewer revoke ${options.name}\`) to give it a new token`);
    if (await findViewer(db, options.name)) throw exists();
    if (options.dryRun) return { dryRun: true, wouldAdd: options.name };
    return withTokenOutput(options.tokenFile, async () => {
      const added = await addViewer(db, options.name);
      if (!added) throw exists();
      await auditCli(db, 'viewer.add', `viewer:${options.name}`, { tokenHint: added.viewer.tokenHint });
      return added;
    });
  });
}

export async function runViewerList({ loaded }: { loaded: LoadedConfig }): Promise<ViewerWithSessions[]> {
  return withStateDb(loaded, (db) => listViewers(db));
}

export function describeViewerList(viewers: ViewerWithSessions[]): string {
  if (viewers.length === 0) return 'no viewers yet; add one with `ganymede viewer add NAME`';
  return renderTable(
    ['VIEWER', 'TOKEN', 'ADDED', 'LAST SIGN-IN', 'SESSIONS'],
    viewers.map((viewer) => [viewer.name, `${viewer.tokenHint}…`, formatTime(viewer.createdAt), formatTime(viewer.lastSignedInAt), String(viewer.activeSessions)]),
  );
}

export type ViewerRevokeResult = { dryRun?: true; viewer: string; sessionsEnded: number };

export async function runViewerRevoke({ loaded, name, dryRun }: { loaded: LoadedConfig; name: string; dryRun?: boolean | undefined }): Promise<ViewerRevokeResult> {
  checkName(name);
  return withStateDb(loaded, async (db) => {
    if (dryRun) {
      const viewer = (await listViewers(db)).find((candidate) => candidate.name === name);
      if (!viewer) throw noSuchViewer(name);
      return { dryRun: true, viewer: name, sessionsEnded: viewer.activeSessions };
    }
    const revoked = await revokeViewer(db, name);
    if (!revoked) throw noSuchViewer(name);
    await auditCli(db, 'viewer.revoke', `viewer:${name}`, { tokenHint: revoked.viewer.tokenHint, sessionsEnded: revoked.sessionsEnded });
    return { viewer: name, sessionsEnded: revoked.sessionsEnded };
  });
}

export function describeViewerRevoke(result: ViewerRevokeResult): string {
  const sessions = `${result.sessionsEnded} console session${result.sessionsEnded === 1 ? '' : 's'}`;
  return result.dryRun
    ? `dry run: would revoke viewer ${result.viewer}'s token and end its ${sessions}; nothing was changed`
    : `revoked viewer ${result.viewer}: its token no longer signs in; ended ${sessions}`;
}
