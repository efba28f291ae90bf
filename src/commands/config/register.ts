// `ganymede config …`'s wiring (check, pin-host-keys); each action imports its command lazily.
import type { Command } from 'commander';
import { GanymedeError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { printResult, say } from '../../output.js';
import { helpFor, jsonFlag, loaded } from '../options.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('the configuration of this host');
  helpFor(config.command('check').description('connect to every configured server and report each one').addOption(jsonFlag()), {
    what: 'Checks the Ganymede MySQL, MongoDB, the API (and the token this host holds), the Cloud Control database and the SFTP\ntargets that the configuration names; prints target, address, result, latency and the error. Exit 0 when all pass.',
    when: 'after installing or changing a host, and whenever something cannot connect.',
    examples: ['ganymede config check', 'GANYMEDE_CONFIG=/etc/ganymede/geo.json ganymede config check --json'],
  }).action(async (options: { json?: boolean }, command: Command) => {
    const { runConfigCheck, describeConfigCheck } = await import('./check.js');
    const result = await runConfigCheck({ loaded: await loaded(command) });
    printResult(result, options.json, describeConfigCheck);
    if (!result.ok) {
      const failed = result.rows.filter((row) => !row.ok).map((row) => row.target);
      throw new GanymedeError(ExitCode.unreachable, `config check: ${failed.length} target${failed.length === 1 ? '' : 's'} failed: ${failed.join(', ')}`);
    }
  });
  helpFor(config.command('pin-host-keys').description('read the host key of each SFTP server the config names without a pin, and pin it').option('--yes', 'write the pins without asking (for scripts)').addOption(jsonFlag()), {
    what: 'Connects to each server just far enough to see its host key, prints each fingerprint, and on confirmation writes it to the\nconfig file as the server\'s *host_key setting (the file is replaced in one rename, its mode kept). Pinned servers are left alone.',
    when: 'once after installing a host, when `config check` warns that a host key is not pinned; compare each fingerprint with the server\'s own first.',
    examples: ['ganymede config pin-host-keys', 'ganymede config pin-host-keys --yes'],
  }).action(async (options: { yes?: boolean; json?: boolean }, command: Command) => {
    const { planHostKeyPins, writeHostKeyPins, describePinPlan } = await import('./host-keys.js');
    const config = await loaded(command);
    const plan = await planHostKeyPins(config, Math.min(config.config.mysql.connect_timeout_ms, 10_000));
    let write = options.yes === true && plan.pins.length > 0;
    if (!options.yes && plan.pins.length > 0 && process.stdin.isTTY && !options.json) {
      say(describePinPlan(plan, false).split('\n').slice(0, -1).join('\n'));
      const { createInterface } = await import('node:readline/promises');
      const prompt = createInterface({ input: process.stdin, output: process.stderr });
      write = /^y(es)?$/i.test((await prompt.question(`write ${plan.pins.length === 1 ? 'this pin' : 'these pins'} to ${plan.configFile}? [y/N] `)).trim());
      prompt.close();
    }
    if (write) writeHostKeyPins(plan);
    printResult({ ...plan, written: write }, options.json, (result) => describePinPlan(result, result.written));
  });
}
