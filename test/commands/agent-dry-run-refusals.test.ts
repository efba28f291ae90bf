// `agent run --dry-run` is the check before the cron line goes in: whatever a real run would refuse before
// extracting, the dry run refuses too, with the same message and exit code, and still changes nothing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ExitCode } from '../../src/exit-codes.js';
import { agentEnv, filesIn, transactions } from '../agent/support.js';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { runCli } from '../support/cli.js';
import { writePrivateFile } from '../support/ganymede.js';

/** The error lines a person sees (log lines aside). */
const errorOf = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('ganymede: ') || line.startsWith('  ')).join('\n');

describe('agent run --dry-run refuses what a run refuses', { timeout: 300_000 }, () => {
  let fixture: AgentFixture;
  before(async () => {
    fixture = await agentFixture('dryr');
  });
  after(async () => {
    await fixture?.dispose();
  });

  const cases: Array<{ what: string; args?: string[]; settings?: (fixture: AgentFixture) => Record<string, string>; code: number; message: RegExp }> = [
    { what: 'a --cycle that is not an hour', args: ['--cycle', '2026-13-45T99'], code: ExitCode.usage, message: /^ganymede: --cycle 2026-13-45T99: not a UTC hour/ },
    {
      what: 'a signing key file that holds no key',
      settings: (fixture) => ({ 'agent.signing_key_file': writePrivateFile(join(fixture.dir, 'garbage.key.asc'), 'not an OpenPGP key\n') }),
      code: ExitCode.config,
      message: /^ganymede: .*agent\.signing_key_file .*garbage\.key\.asc/,
    },
    {
      what: 'a plain-http API on another machine',
      settings: () => ({ 'api.url': 'http://192.0.2.10:8080' }),
      code: ExitCode.config,
      message: /^ganymede: api\.url http:\/\/192\.0\.2\.10:8080 is plain http:\/\/ to another machine/,
    },
  ];

  for (const { what, args = [], settings, code, message } of cases) {
    test(`${what}: the same exit code and message as a real run`, async () => {
      const env = agentEnv(fixture, { 'logging.level': 'error', ...settings?.(fixture) });
      const dry = await runCli(['agent', 'run', '--dry-run', ...args], env);
      assert.equal(dry.code, code, `dry run: ${dry.stderr}`);
      assert.match(dry.stderr, message);
      assert.equal(dry.stdout, '', 'no table of what would be extracted');
      const real = await runCli(['agent', 'run', ...args], env);
      assert.equal(real.code, code, `real run: ${real.stderr}`);
      assert.equal(errorOf(dry.stderr), errorOf(real.stderr));
      assert.deepEqual(await transactions(fixture), [], 'no transaction opened by either');
      assert.deepEqual(filesIn(fixture.inboxDir), []);
    });
  }
});
