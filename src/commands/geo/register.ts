// `ganymede geo …`'s wiring (add, list, remove, enable, disable, rotate-token, rotate-key); each action imports its command lazily.
import type { Command } from 'commander';
import { printResult, say } from '../../output.js';
import { helpFor, jsonFlag, loaded } from '../options.js';

export function registerGeo(program: Command): void {
  const geo = program.command('geo').description('the GEOs (regional sites) the centre accepts deliveries from');
  helpFor(
    geo
      .command('add')
      .description('register a GEO and its OpenPGP signing key; prints its API token once')
      .argument('<name>', 'GEO name: lower-case letters, digits, _ or -')
      .requiredOption('--public-key <file>', "the GEO's armored public key (from `ganymede keys generate`)")
      .option('--token-file <file>', 'write the token to this new file (0600) instead of stdout')
      .option('--dry-run', 'check the name, the key and the token file, say what would be added; change nothing')
      .addOption(jsonFlag()),
    {
      when: 'once per new GEO, on a central host.',
      examples: ['ganymede geo add emea --public-key emea.pub.asc --token-file emea.token --dry-run', 'ganymede geo add emea --public-key emea.pub.asc --token-file emea.token'],
    },
  ).action(async (name: string, options: { publicKey: string; tokenFile?: string; json?: boolean; dryRun?: boolean }, command: Command) => {
    const { runGeoAdd, planGeoAdd, describeGeoAddPlan } = await import('./add.js');
    if (options.dryRun) {
      printResult(await planGeoAdd({ loaded: await loaded(command), name, publicKeyFile: options.publicKey, tokenFile: options.tokenFile }), options.json, describeGeoAddPlan);
      return;
    }
    const added = await runGeoAdd({ loaded: await loaded(command), name, publicKeyFile: options.publicKey, tokenFile: options.tokenFile });
    reportToken(added, options, `added GEO ${added.geo.name} (key ${added.geo.keyFingerprint})`);
  });
  helpFor(geo.command('list').description('list the GEOs').addOption(jsonFlag()), { when: 'by hand.', examples: ['ganymede geo list'] }).action(
    async (options: { json?: boolean }, command: Command) => {
      const { runGeoList, describeGeoList } = await import('./list.js');
      printResult(await runGeoList({ loaded: await loaded(command) }), options.json, describeGeoList);
    },
  );
  helpFor(geo.command('remove').description('remove a GEO that never delivered anything').argument('<name>').option('--dry-run', 'say whether it would be removed; change nothing').addOption(jsonFlag()), {
    what: 'A GEO with transactions is kept for their history: disable it instead.',
    when: 'by hand, to undo a mistaken `geo add`.',
    examples: ['ganymede geo remove emea --dry-run', 'ganymede geo remove emea'],
  }).action(async (name: string, options: { dryRun?: boolean; json?: boolean }, command: Command) => {
    const { runGeoRemove, planGeoRemove } = await import('./remove.js');
    if (options.dryRun) {
      const plan = await planGeoRemove({ loaded: await loaded(command), name });
      printResult({ dryRun: true, ...plan }, options.json, () => `dry run: would remove GEO ${name}, which has no transactions; nothing was changed`);
      return;
    }
    const removed = await runGeoRemove({ loaded: await loaded(command), name });
    if (options.json) printResult(removed, true, () => '');
    else say(`removed GEO ${name}`);
  });
  for (const enabled of [true, false]) {
    const verb = enabled ? 'enable' : 'disable';
    helpFor(geo.command(verb).description(enabled ? 'accept deliveries from a GEO again' : "refuse a GEO's token; its deliveries waiting at the centre go to quarantine; nothing is deleted").argument('<name>').option('--dry-run', 'say what would change; change nothing').addOption(jsonFlag()), {
      what: enabled
        ? 'Its token works again. Hours refused while it was disabled are delivered again from the GEO: `ganymede agent run --cycle HOUR --force`.'
        : 'Its API token is refused at once. Each of its transactions not yet in the warehouse is refused when its next step starts ' +
          '(the next tick, or when a retry is due; a step already running finishes): the delivered file moves from the inbox to the ' +
          'quarantine dir. Nothing is deleted.',
      when: 'by hand; takes effect at once.',
      examples: [`ganymede geo ${verb} emea`],
    }).action(async (name: string, options: { json?: boolean; dryRun?: boolean }, command: Command) => {
      const { runGeoSetEnabled, planGeoSetEnabled, describeGeoEnabledPlan } = await import('./change.js');
      if (options.dryRun) {
        const plan = await planGeoSetEnabled({ loaded: await loaded(command), name, enabled });
        printResult({ dryRun: true, ...plan }, options.json, describeGeoEnabledPlan);
        return;
      }
      const changed = await runGeoSetEnabled({ loaded: await loaded(command), name, enabled });
      if (options.json) printResult({ geo: changed.name, enabled: changed.enabled }, true, () => '');
      else say(`GEO ${name} is ${enabled ? 'enabled' : 'disabled'}`);
    });
  }
  helpFor(
    geo
      .command('rotate-token')
      .description("give a GEO a new API token; the old one stops working at once")
      .argument('<name>')
      .option('--token-file <file>', 'write the token to this new file (0600) instead of stdout')
      .option('--dry-run', 'check the GEO and the token file, say what would change; change nothing')
      .addOption(jsonFlag()),
    { when: 'when a token may have leaked, or on a schedule.', examples: ['ganymede geo rotate-token emea --token-file emea.token --dry-run', 'ganymede geo rotate-token emea --token-file emea.token'] },
  ).action(async (name: string, options: { tokenFile?: string; json?: boolean; dryRun?: boolean }, command: Command) => {
    const { runGeoRotateToken, planGeoRotateToken, describeGeoRotateTokenPlan } = await import('./change.js');
    if (options.dryRun) {
      printResult(await planGeoRotateToken({ loaded: await loaded(command), name, tokenFile: options.tokenFile }), options.json, describeGeoRotateTokenPlan);
      return;
    }
    const rotated = await runGeoRotateToken({ loaded: await loaded(command), name, tokenFile: options.tokenFile });
    reportToken(rotated, options, `new token for GEO ${name}; the old one no longer works`);
  });
  helpFor(
    geo
      .command('rotate-key')
      .description("replace a GEO's public signing key; files delivered from now on must carry the new key's signature")
      .argument('<name>')
      .requiredOption('--public-key <file>', 'the new armored public key')
      .option('--revoke-old-key', 'the old key may be compromised: refuse even the files it signed that were delivered before now')
      .option('--dry-run', 'check the key and the GEO, say which key would be put in force, retired or revoked; change nothing')
      .addOption(jsonFlag()),
    {
      what:
        'The overlap: the old key stays on record as retired. It still verifies the files that were delivered before the rotation ' +
        '(by the server clock, when the agent closed the transaction) for as long as they wait in the queue, retries included; a file ' +
        'delivered after the rotation and signed with the old key is refused and quarantined. So do both in the same gap between two ' +
        'hourly runs: put the new private key in the GEO\'s agent.signing_key_file, and rotate here (a run in between signs with a key ' +
        'the centre does not know yet, or with one it has retired: that hour is refused and delivered again with --force). ' +
        'With --revoke-old-key there is no overlap; rotate the GEO\'s token too (`geo rotate-token`) if the old key may have leaked.',
      when: 'when a GEO gets a new key pair, or at once (with --revoke-old-key) when its private key may have leaked.',
      examples: ['ganymede geo rotate-key emea --public-key emea-2027.pub.asc --dry-run', 'ganymede geo rotate-key emea --public-key emea-2027.pub.asc', 'ganymede geo rotate-key emea --public-key emea-new.pub.asc --revoke-old-key'],
    },
  ).action(async (name: string, options: { publicKey: string; revokeOldKey?: boolean; dryRun?: boolean; json?: boolean }, command: Command) => {
    const { runGeoRotateKey, planGeoRotateKey, describeGeoRotateKeyPlan } = await import('./change.js');
    const request = { loaded: await loaded(command), name, publicKeyFile: options.publicKey, revokeOld: options.revokeOldKey };
    if (options.dryRun) {
      printResult(await planGeoRotateKey(request), options.json, describeGeoRotateKeyPlan);
      return;
    }
    const geoRow = await runGeoRotateKey(request);
    if (options.json) printResult({ geo: name, keyFingerprint: geoRow.keyFingerprint, oldKeyRevoked: options.revokeOldKey ?? false }, true, () => '');
    say(`GEO ${name} now signs with key ${geoRow.keyFingerprint}`);
    say(
      options.revokeOldKey
        ? 'the old key is revoked: files it signed are refused, even those already delivered'
        : 'the old key still counts for files delivered before now, and for nothing delivered later',
    );
  });
}

function reportToken(
  result: { geo: { name: string }; token: string; tokenWentTo: 'file' | 'stdout' },
  options: { tokenFile?: string; json?: boolean },
  message: string,
): void {
  say(message);
  if (result.tokenWentTo === 'file') {
    say(`its API token is in ${options.tokenFile} (shown nowhere else)`);
    if (options.json) printResult({ geo: result.geo, tokenFile: options.tokenFile }, true, () => '');
    return;
  }
  say('its API token follows; it is shown only this once:');
  printResult(options.json ? { geo: result.geo, token: result.token } : result.token, options.json, String);
}
