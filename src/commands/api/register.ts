// `ganymede api`'s wiring: the --listen flag and a lazy import of the server.
import type { Command } from 'commander';
import { GanymedeError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { helpFor, loaded } from '../options.js';

export function registerApi(program: Command): void {
  helpFor(
    program
      .command('api')
      .description('serve the status API (configuration, transaction log, status events) and the web console at /console')
      .option('--listen <host:port>', 'where to listen (default: api.listen, 127.0.0.1:8080)', listenAddress),
    {
      what: 'Agents open, report on and close their transactions through it with their GEO token; operators and tools use the admin token.\nOperators open the web console at /console and sign in with the admin token or a viewer token (`ganymede viewer add`).\nSIGTERM or SIGINT stops it gracefully.',
      when: 'always, as a service (see scripts/ for a systemd unit).',
      examples: ['ganymede api', 'ganymede api --listen 0.0.0.0:8080'],
    },
  ).action(async (options: { listen?: string }, command: Command) => {
    const { runApiServe } = await import('./serve.js');
    await runApiServe({ loaded: await loaded(command, { 'api.listen': options.listen }), listenFromFlag: options.listen !== undefined });
  });
}

/** A wrong --listen is a usage error (exit 2), where the same mistake in api.listen is a configuration error. */
function listenAddress(value: string): string {
  const match = /^(\[[0-9a-fA-F:]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) > 65_535) throw new GanymedeError(ExitCode.usage, `--listen ${value}: expected host:port with a port up to 65535, e.g. 127.0.0.1:8080 or [::1]:8080`);
  return value;
}
