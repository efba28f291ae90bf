// `ganymede viewer …`'s wiring (add, list, revoke); each action imports ./index.js lazily.
import type { Command } from 'commander';
import { printResult, say } from '../../output.js';
import { helpFor, jsonFlag, loaded } from '../options.js';

export function registerViewer(program: Command): void {
  const viewer = program.command('viewer').description('read-only sign-in to the web console (`ganymede api` serves it at /console)');
  helpFor(
    viewer
      .command('add')
      .description('give a person a read-only token for the web console; prints it once')
      .argument('<name>', 'who it is for: lower-case letters, digits, _ or -')
      .option('--token-file <file>', 'write the token to this new file (0600) instead of stdout')
      .option('--dry-run', 'say whether the viewer would be added; change nothing')
      .addOption(jsonFlag()),
    {
      what: 'A viewer signs in at /console with this token and sees everything the console shows, but cannot retry or cancel anything\nnor read the audit trail. The token is stored only as a hash; lost, it is revoked and added again.',
      when: 'when someone (on call, a manager, a GEO\'s team) should watch the pipeline without acting on it.',
      examples: ['ganymede viewer add alice --token-file alice.token', 'ganymede viewer add oncall --dry-run'],
    },
  ).action(async (name: string, options: { tokenFile?: string; dryRun?: boolean; json?: boolean }, command: Command) => {
    const { runViewerAdd } = await import('./index.js');
    const result = await runViewerAdd({ loaded: await loaded(command), name, tokenFile: options.tokenFile, dryRun: options.dryRun });
    if (result.dryRun) {
      printResult(result, options.json, (r) => `dry run: would add viewer ${r.wouldAdd} and print its token; nothing was changed`);
      return;
    }
    const shown = { name: result.viewer.name, tokenHint: result.viewer.tokenHint, createdAt: result.viewer.createdAt };
    say(`added viewer ${result.viewer.name}: it signs in read-only at the console (/console of \`ganymede api\`)`);
    if (result.tokenWentTo === 'file') {
      say(`its token is in ${options.tokenFile} (shown nowhere else)`);
      if (options.json) printResult({ viewer: shown, tokenFile: options.tokenFile }, true, () => '');
      return;
    }
    say('its token follows; it is shown only this once:');
    printResult(options.json ? { viewer: shown, token: result.token } : result.token, options.json, String);
  });
  helpFor(viewer.command('list').description('the viewers, their token hints, last sign-in and open sessions').addOption(jsonFlag()), {
    when: 'by hand, e.g. in a review of who can see the console.',
    examples: ['ganymede viewer list', 'ganymede viewer list --json'],
  }).action(async (options: { json?: boolean }, command: Command) => {
    const { runViewerList, describeViewerList } = await import('./index.js');
    printResult(await runViewerList({ loaded: await loaded(command) }), options.json, describeViewerList);
  });
  helpFor(viewer.command('revoke').description("remove a viewer: its token stops signing in and its console sessions end at once").argument('<name>').option('--dry-run', 'say how many sessions would end; change nothing').addOption(jsonFlag()), {
    what: 'Every API host checks the session in MySQL on each request, so the viewer\'s open pages stop working at their next click or refresh.',
    when: 'when someone leaves, or a token may have leaked.',
    examples: ['ganymede viewer revoke alice --dry-run', 'ganymede viewer revoke alice'],
  }).action(async (name: string, options: { dryRun?: boolean; json?: boolean }, command: Command) => {
    const { runViewerRevoke, describeViewerRevoke } = await import('./index.js');
    printResult(await runViewerRevoke({ loaded: await loaded(command), name, dryRun: options.dryRun }), options.json, describeViewerRevoke);
  });
}
