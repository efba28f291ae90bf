// `ganymede keys …`'s wiring (generate, rotate, list); each action imports its command lazily.
import type { Command } from 'commander';
import { printResult } from '../../output.js';
import { helpFor, jsonFlag, loaded } from '../options.js';

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('OpenPGP keys');
  helpFor(
    keys
      .command('generate')
      .description('make an OpenPGP key pair: NAME.pub.asc and NAME.key.asc (0600) in DIR')
      .requiredOption('--name <name>', 'the key\'s name: "centre" or the GEO\'s name')
      .requiredOption('--out <dir>', 'where to write the two files (created 0700 if missing)')
      .option('--email <email>', 'an e-mail address for the key\'s user id')
      .option('--dry-run', 'check the name and --out, say which files would be written; write nothing')
      .addOption(jsonFlag()),
    {
      what: 'The centre needs one pair (agents encrypt to its public key); each GEO needs one (it signs with its private key).\nKeys are curve25519, readable by GnuPG 2.2+. Existing files are never overwritten.',
      when: 'at install: once for the centre, once per GEO.',
      examples: ['ganymede keys generate --name centre --out /etc/ganymede/keys', 'ganymede keys generate --name emea --out /etc/ganymede/keys'],
    },
  ).action(async (options: { name: string; out: string; email?: string; json?: boolean; dryRun?: boolean }) => {
    const { runKeysGenerate, planKeysGenerate, describeKeysGeneratePlan } = await import('./generate.js');
    if (options.dryRun) {
      printResult(await planKeysGenerate({ name: options.name, outDir: options.out, email: options.email }), options.json, describeKeysGeneratePlan);
      return;
    }
    const result = await runKeysGenerate({ name: options.name, outDir: options.out, email: options.email });
    printResult(result, options.json, (r) => `key ${r.name}: ${r.fingerprint}\n  public  ${r.publicKeyFile}\n  private ${r.privateKeyFile} (0600; keep it on this host)`);
  });
  helpFor(keys.command('rotate').description("give the centre a new key pair; agents take the new public key over by themselves").option('--dry-run', 'check the key file against the published keys, say what would change; change nothing').addOption(jsonFlag()), {
    what:
      'Puts a new private key in front of centre.private_key_file (rewritten in place, still 0600; the old keys stay in it) and ' +
      'publishes the new public key through the API, signed by the old key. Each agent fetches it at its next run, checks that ' +
      'signature against the key it trusts, and from then on encrypts to the new key (kept in its work dir); a key the API offers ' +
      'without a valid signature is ignored and reported. Decrypt tries every key in the file, so files encrypted to the old key ' +
      'before an agent switched are still opened; `ganymede keys list` shows the deliveries that may still need a retired key. The ' +
      'old keys stay in the file so that archived files can still be restored and read. Run it on one central host, then copy the ' +
      'file to the others: until a host has the newest key, its decrypt steps wait and retry (they never refuse a file for it). ' +
      'Safe to re-run after a crash: it finishes a rotation it began.\n' +
      'If the centre key may have leaked, the chain cannot help (whoever holds the old key can sign a successor too): rotate, then ' +
      'put the new public key (the file this prints) in every agent\'s agent.centre_public_key_file; an agent whose configured key ' +
      'changed drops any key it took over before.',
    when: 'on a schedule (yearly, say); after a leak, with the new public key given to every agent by hand.',
    examples: ['ganymede keys rotate --dry-run', 'ganymede keys rotate', 'ganymede keys list'],
  }).action(async (options: { json?: boolean; dryRun?: boolean }, command: Command) => {
    const { runKeysRotate, planKeysRotate, describeKeysRotatePlan } = await import('./rotate.js');
    if (options.dryRun) {
      printResult(await planKeysRotate({ loaded: await loaded(command) }), options.json, describeKeysRotatePlan);
      return;
    }
    const result = await runKeysRotate({ loaded: await loaded(command) });
    printResult(result, options.json, (r) =>
      [
        `${r.resumed ? 'finished the interrupted rotation: ' : ''}the centre key is now ${r.to} (handed over by ${r.from})`,
        `  private ${r.privateKeyFile} (holds the old key too)`,
        `  public  ${r.publicKeyFile} (for new agents; running agents take it from the API)`,
      ].join('\n'),
    );
  });
  helpFor(keys.command('list').description('the centre keys: the current one, the retired ones, and the deliveries that may still need them').addOption(jsonFlag()), {
    when: 'after `keys rotate`, to see when no waiting delivery needs a retired key any more.',
    examples: ['ganymede keys list', 'ganymede keys list --json'],
  }).action(async (options: { json?: boolean }, command: Command) => {
    const { runKeysList, describeKeysList } = await import('./rotate.js');
    printResult(await runKeysList({ loaded: await loaded(command) }), options.json, describeKeysList);
  });
}
