// Delivery to the central inbox over SFTP, against OpenSSH's real sshd: the file lands whole under its
// final name, 0600; a server that refuses the path fails the run with that path named, the hour marked
// agent_failed with the same reason, and nothing left behind on either side.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runAgent } from '../../src/commands/agent/run.js';
import { ExitCode } from '../../src/exit-codes.js';
import { GanymedeError } from '../../src/errors.js';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { startSshd, type SshdServer } from '../support/sshd.js';
import { filesIn, inSource, isGanymedeError, sha256File, transactions, workDirOf } from './support.js';

describe('agent run delivering over SFTP', { timeout: 300_000 }, () => {
  let fixture: AgentFixture;
  let sshd: SshdServer;
  let sftpSettings: Record<string, string>;
  const inboxOnServer = () => sshd.localPath(sshd.root);

  before(async () => {
    [fixture, sshd] = await Promise.all([agentFixture('nam'), startSshd()]);
    await inSource(fixture, [
      'CREATE TABLE hosts (id INT PRIMARY KEY, name VARCHAR(40), notes TEXT)',
      "INSERT INTO hosts VALUES (1, 'alpha', REPEAT('lorem ipsum ', 5000)), (2, 'beta', NULL)",
    ]);
    sftpSettings = { 'agent.inbox': `sftp://${sshd.username}@${sshd.host}:${sshd.port}${sshd.root}`, 'agent.sftp_key_file': sshd.privateKeyPath };
  });
  after(async () => {
    await Promise.all([sshd?.stop(), fixture?.dispose()]);
  });

  test('the file lands complete under its final name, 0600, with no .part, as recorded at close', async () => {
    const result = await runAgent({ loaded: fixture.config(sftpSettings), cycle: '2026-11-20T01', retryBaseDelayMs: 10 });
    assert.deepEqual(filesIn(inboxOnServer()), [result.file.name]);
    const landed = join(inboxOnServer(), result.file.name);
    assert.equal(statSync(landed).mode & 0o777, 0o600);
    assert.equal(statSync(landed).size, result.file.size);
    assert.equal(await sha256File(landed), result.file.sha256);
    const [txn] = await transactions(fixture);
    assert.deepEqual(
      { state: txn?.state, name: txn?.fileName, size: txn?.fileSize, sha256: txn?.fileSha256 },
      { state: 'delivered', name: result.file.name, size: result.file.size, sha256: result.file.sha256 },
    );
    assert.deepEqual(filesIn(fixture.inboxDir), [], 'the file:// inbox of the fixture was not used');
    assert.deepEqual(filesIn(workDirOf(fixture)).filter((name) => name !== 'events.jsonl'), []);
  });

  test('agent.inbox_file_mode 0640: the file lands group-readable, for a per-GEO account the centre reads through a group', async () => {
    const result = await runAgent({ loaded: fixture.config({ ...sftpSettings, 'agent.inbox_file_mode': '0640' }), cycle: '2026-11-20T09', retryBaseDelayMs: 10 });
    assert.equal(statSync(join(inboxOnServer(), result.file.name)).mode & 0o777, 0o640);
  });

  test('a server refusing the path fails with a refused error naming it; the hour is agent_failed; no spool is left', async () => {
    await sshd.setReadOnly(true);
    const cycle = '2026-11-20T02';
    let failure: GanymedeError | undefined;
    try {
      await assert.rejects(runAgent({ loaded: fixture.config(sftpSettings), cycle, retryBaseDelayMs: 10 }), (error) => {
        isGanymedeError(ExitCode.refused, new RegExp(`permission denied on ${sshd.root}/nam_${cycle}_d1\\.tar\\.zst\\.gpg\\.part`))(error);
        failure = error as GanymedeError;
        return true;
      });
    } finally {
      await sshd.setReadOnly(false);
    }
    const txn = (await transactions(fixture)).find((row) => row.cycle === cycle);
    assert.equal(txn?.state, 'agent_failed');
    assert.equal(txn?.error, failure?.message, 'the reason recorded is the error the run reported');
    assert.deepEqual(filesIn(inboxOnServer()).filter((name) => name.includes(cycle)), []);
    assert.deepEqual(filesIn(workDirOf(fixture)).filter((name) => name !== 'events.jsonl'), [], 'no spool in the work dir');

    // agent_failed may be opened again: the next run of the hour delivers it.
    const again = await runAgent({ loaded: fixture.config(sftpSettings), cycle, retryBaseDelayMs: 10 });
    assert.equal(again.file.name, `nam_${cycle}_d1.tar.zst.gpg`);
    assert.equal((await transactions(fixture)).find((row) => row.cycle === cycle)?.state, 'delivered');
  });

  test('an SSH key file gone by the time the run starts is a config error, and the next run is not locked out by it', async () => {
    const cycle = '2026-11-20T03';
    const keyCopy = join(fixture.dir, 'sftp_key');
    copyFileSync(sshd.privateKeyPath, keyCopy);
    chmodSync(keyCopy, 0o600);
    // The config is checked when loaded; the file goes away after that, as when a deploy swaps keys.
    const loaded = fixture.config({ ...sftpSettings, 'agent.sftp_key_file': keyCopy });
    rmSync(keyCopy);
    await assert.rejects(runAgent({ loaded, cycle, retryBaseDelayMs: 10 }), isGanymedeError(ExitCode.config, /cannot read the private key .*sftp_key/));
    assert.equal((await transactions(fixture)).find((row) => row.cycle === cycle), undefined, 'no transaction opened');
    const result = await runAgent({ loaded: fixture.config(sftpSettings), cycle, retryBaseDelayMs: 10 });
    assert.equal(result.cycle, cycle);
  });
});
