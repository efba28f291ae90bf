// The central inbox's SSH host key pinned in the agent's config (agent.inbox_host_key): a changed key is
// refused before anything is sent; the right one, as a fingerprint or a known_hosts line, delivers.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runAgent } from '../../src/commands/agent/run.js';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { startSshd, type SshdServer } from '../support/sshd.js';
import { filesIn, inSource, transactions } from './support.js';

let fixture: AgentFixture;
let sshd: SshdServer;
let other: SshdServer;
let settings: Record<string, string>;

before(async () => {
  [fixture, sshd, other] = await Promise.all([agentFixture('pin'), startSshd(), startSshd()]);
  await inSource(fixture, ['CREATE TABLE t (id INT PRIMARY KEY)', 'INSERT INTO t VALUES (1), (2)']);
  settings = { 'agent.inbox': `sftp://${sshd.username}@${sshd.host}:${sshd.port}${sshd.root}`, 'agent.sftp_key_file': sshd.privateKeyPath };
});
after(async () => {
  await Promise.all([sshd?.stop(), other?.stop(), fixture?.dispose()]);
});

test('a host key other than the pinned one is refused, naming both, and nothing lands in the inbox', async () => {
  await assert.rejects(
    runAgent({ loaded: fixture.config({ ...settings, 'agent.inbox_host_key': other.hostKeyFingerprint }), cycle: '2026-11-20T01', retryBaseDelayMs: 10 }),
    (error: Error) => error.message.includes(sshd.hostKeyFingerprint) && error.message.includes(other.hostKeyFingerprint),
  );
  assert.deepEqual(filesIn(sshd.localPath(sshd.root)), []);
  const [txn] = await transactions(fixture);
  assert.equal(txn?.state, 'agent_failed');
});

test('the right key delivers, pinned as a fingerprint or as a known_hosts line', async () => {
  const byFingerprint = await runAgent({ loaded: fixture.config({ ...settings, 'agent.inbox_host_key': sshd.hostKeyFingerprint }), cycle: '2026-11-20T02', retryBaseDelayMs: 10 });
  const byLine = await runAgent({ loaded: fixture.config({ ...settings, 'agent.inbox_host_key': sshd.hostPublicKey }), cycle: '2026-11-20T03', retryBaseDelayMs: 10 });
  assert.deepEqual(filesIn(sshd.localPath(sshd.root)).sort(), [byFingerprint.file.name, byLine.file.name].sort());
});
