// Shared by the swift:// and s3:// tests of `ganymede archive` with the inbox and the archive on one object
// store (the rig's Swift, reached through a relay that counts the bytes): each delivery (in Swift, one
// uploaded in segments) is archived by a copy the store makes, which the relay shows (nothing of it
// uploaded, one read to check it); a delivery rewritten in the inbox after its hour closed is not archived;
// `archive restore` of the copied hour works; an archive on another store (file://) still gets its files
// streamed; and a superseded delivery and a refused one (from the store's _quarantine/) are copied alike.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { describeArchive } from '../../src/commands/archive/run.js';
import { runAgent } from '../../src/commands/agent/run.js';
import { openInboxStore } from '../../src/inbox/store.js';
import { s3InboxUrl, swiftCentreSettings, swiftInboxUrl, swiftObjects } from '../agent/inbox-store-support.js';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { writePrivateFile } from '../support/ganymede.js';
import { startSwift, type SwiftServer } from '../support/swift.js';
import { blobStatements, cliWith, nextCycle, shown, smallSource } from '../cycle/support.js';
import { startCountingProxy, type CountingProxy } from './counting-proxy.js';

type Kind = 'swift' | 's3';

interface Delivered {
  name: string;
  size: number;
  txnId: number;
}

interface ArchiveJson {
  agentDumps: Array<{ objectKey: string; size: number; copiedInStore: boolean }>;
  retiredFiles: Array<{ reason: string; file: string; objectKey: string; size: number; copiedInStore: boolean }>;
  skipped: Array<{ file: string; reason: string }>;
}

const cycle = '2026-09-14T07';
const differs = 'differs from what its agent reported; not archived';

export function describeCopyInStore(kind: Kind): void {
  let server: SwiftServer;
  let relay: CountingProxy;
  let centre: Centre;
  const delivered = new Map<string, Delivered>();

  /** The archive on the same store as the inbox, through the same relay and the same login. */
  const sameStore = (): Record<string, string> =>
    kind === 'swift'
      ? { GANYMEDE_ARCHIVE_URL: `swift://archive/centre?auth=${encodeURIComponent(`${relay.url}/auth/v1.0`)}&user=${encodeURIComponent(server.user)}`, GANYMEDE_ARCHIVE_SECRET: server.key }
      : {
          GANYMEDE_ARCHIVE_URL: `s3://archive/centre?endpoint=${encodeURIComponent(relay.url)}&region=${server.s3.region}`,
          GANYMEDE_ARCHIVE_ACCESS_KEY_ID: server.s3.accessKey,
          GANYMEDE_ARCHIVE_SECRET: server.s3.secretKey,
        };

  before(async () => {
    server = await startSwift();
    relay = await startCountingProxy(server.proxyUrl);
    // Every login of the centre and every pre-signed upload goes through the relay (tempauth and SigV4 take its address).
    const throughRelay: SwiftServer = { ...server, authUrl: `${relay.url}/auth/v1.0`, s3: { ...server.s3, endpoint: relay.url } };
    const settings = swiftCentreSettings(throughRelay, `copy-${kind}`);
    // Deliveries past 512 KiB go up in segments: each is a Static Large Object, as a large hour is.
    if (kind === 'swift') settings['centre.inbox'] = swiftInboxUrl(throughRelay, 'inbox', `&segment_bytes=${512 * 1024}`);
    if (kind === 's3') {
      settings['centre.inbox'] = s3InboxUrl(throughRelay, 'inbox');
      settings['centre.inbox_secret_file'] = writePrivateFile(join(process.env.TMPDIR ?? '/tmp', `gmdt-copy-s3-secret-${process.pid}`), server.s3.secretKey);
    }
    centre = await startCentre({ settings, agentSettings: { 'agent.inbox': 'api' } });
    // Random rows: a delivery of about 1.5 MB, far above what the requests around a copy take.
    const source = await centre.addSource(`copy${kind}`, [...smallSource(3), ...blobStatements(24)]);
    for (const name of ['emea', 'tamper']) {
      const run = await (await centre.addGeo(name, source)).deliver(cycle);
      delivered.set(name, { name: run.file.name, size: run.file.size, txnId: run.transactionId });
    }
    // A GEO still holding its upload URL rewrites its delivery after close: same size, other bytes.
    const inbox = await openInboxStore(centre.loaded);
    try {
      const tampered = delivered.get('tamper')!;
      await inbox.put(`tamper/${tampered.name}`, () => Readable.from([Buffer.alloc(tampered.size, 0x5a)]));
    } finally {
      await inbox.close();
    }
  });
  after(async () => {
    await centre?.dispose();
    await relay?.close();
    await server?.stop();
  });

  test(`${kind}: with the archive in the inbox's store, the store copies the delivery; only the copy is read, once, to check it`, async (t) => {
    const emea = delivered.get('emea')!;
    const tamper = delivered.get('tamper')!;
    relay.reset();
    const run = await cliWith(centre, ['archive', '--json'], sameStore());
    assert.equal(run.code, 0, shown(run));
    const result = JSON.parse(run.stdout) as ArchiveJson;
    const objectKey = `agent/${cycle}/emea/${emea.name}`;
    assert.deepEqual(result.agentDumps, [{ objectKey, size: emea.size, copiedInStore: true }]);
    assert.deepEqual(result.skipped, [{ file: `tamper/${tamper.name}`, reason: differs }]);
    // Without --json the same result reads so (and is not logged again on stderr).
    assert.match(describeArchive(result as Parameters<typeof describeArchive>[0]), new RegExp(`archived ${objectKey.replace(/\./g, '\\.')} \\(${emea.size} bytes, copied in the store\\)`));
    assert.doesNotMatch(run.stderr, /copied in the store/);

    // Streaming would have uploaded the 1.5 MB and read each delivery up to three times; the copies read each once.
    const sent = relay.sent();
    const received = relay.received();
    t.diagnostic(`deliveries of ${emea.size} and ${tamper.size} bytes: ${sent} bytes sent to the store, ${received} received`);
    assert.ok(sent < emea.size / 4, `${sent} bytes went to the store for a ${emea.size}-byte delivery`);
    assert.ok(received < 1.25 * (emea.size + tamper.size), `${received} bytes came from the store for deliveries of ${emea.size} and ${tamper.size} bytes`);

    if (kind === 'swift') assert.ok((await swiftObjects(server, 'inbox_segments')).some((name) => name.startsWith(`emea/${emea.name}/`)), 'the delivery is a large object');
    const archived = await swiftObjects(server, 'archive');
    assert.ok(archived.includes(`centre/${objectKey}`), archived.join(', '));
    assert.ok(!archived.some((name) => name.includes('/tamper/')), `the rewritten delivery's copy was removed: ${archived.join(', ')}`);
    const list = await cliWith(centre, ['archive', 'list', '--json'], sameStore());
    assert.deepEqual(
      (JSON.parse(list.stdout) as Array<{ geo: string | null; state: string }>).filter((record) => record.geo !== null).map((record) => [record.geo, record.state]),
      [['emea', 'archived']],
      'no record of the rewritten delivery',
    );
  });

  test(`${kind}: archive restore of the copied hour loads and verifies it`, async () => {
    const into = `gmd_copy_${kind}_${process.pid}`;
    try {
      const run = await cliWith(centre, ['archive', 'restore', '--geo', 'emea', '--cycle', cycle, '--into', into], sameStore());
      assert.equal(run.code, 0, shown(run));
      const objectKey = `agent/${cycle}/emea/${delivered.get('emea')!.name}`;
      assert.match(run.stdout, new RegExp(`^restored ${objectKey.replace(/\./g, '\\.')} into ${into}: 3 tables, \\d+ rows, verified; signed by `));
    } finally {
      await (await centre.admin()).query(`DROP DATABASE IF EXISTS \`${into}\``);
    }
  });

  test(`${kind}: with the archive elsewhere (file://), the delivery is streamed, and the rewritten one still refused`, async () => {
    const next = await centre.geos.get('emea')!.deliver(nextCycle(cycle));
    const run = await cliWith(centre, ['archive', '--json']);
    assert.equal(run.code, 0, shown(run));
    const result = JSON.parse(run.stdout) as ArchiveJson;
    const objectKey = `agent/${nextCycle(cycle)}/emea/${next.file.name}`;
    assert.deepEqual(result.agentDumps, [{ objectKey, size: next.file.size, copiedInStore: false }]);
    assert.deepEqual(result.skipped, [{ file: `tamper/${delivered.get('tamper')!.name}`, reason: differs }]);
    assert.ok(existsSync(join(centre.dataDir, 'archive', objectKey)));
  });

  test(`${kind}: a superseded delivery and a quarantined one are copied in the store too, each checked by a read of its copy`, async () => {
    const tamper = delivered.get('tamper')!;
    // The rewritten delivery refused by decrypt: it moves to the store's _quarantine/.
    const decrypt = await cliWith(centre, ['worker', 'decrypt', '--txn', String(tamper.txnId)]);
    assert.equal(decrypt.code, 5, shown(decrypt));
    // emea delivers an hour, then delivers it again: the first file is superseded.
    const later = nextCycle(cycle, 2);
    const emea = centre.geos.get('emea')!;
    const first = await emea.deliver(later);
    const again = await runAgent({ loaded: emea.loaded(), cycle: later, force: true, retryBaseDelayMs: 10 });

    const run = await cliWith(centre, ['archive', '--json'], sameStore());
    assert.equal(run.code, 0, shown(run));
    const result = JSON.parse(run.stdout) as ArchiveJson;
    assert.deepEqual(result.agentDumps, [{ objectKey: `agent/${later}/emea/${again.file.name}`, size: again.file.size, copiedInStore: true }]);
    const supersededKey = `superseded/${later}/emea/d1/${first.file.name}`;
    const quarantinedKey = `quarantine/${cycle}/tamper/d1/${tamper.name}`;
    assert.deepEqual(result.retiredFiles, [
      { reason: 'quarantined', file: `tamper/${tamper.name}`, objectKey: quarantinedKey, size: tamper.size, copiedInStore: true },
      { reason: 'superseded', file: `emea/${first.file.name}`, objectKey: supersededKey, size: first.file.size, copiedInStore: true },
    ]);
    assert.deepEqual(result.skipped, []);
    const [records] = (await centre.db.query("SELECT kind, sha256 FROM archive_records WHERE kind IN ('superseded', 'quarantined') ORDER BY kind")) as unknown as [Array<{ kind: string; sha256: string }>];
    assert.deepEqual(records, [
      { kind: 'quarantined', sha256: createHash('sha256').update(Buffer.alloc(tamper.size, 0x5a)).digest('hex') },
      { kind: 'superseded', sha256: first.file.sha256 },
    ]);
    const archived = await swiftObjects(server, 'archive');
    for (const key of [supersededKey, quarantinedKey]) assert.ok(archived.includes(`centre/${key}`), `${key}: ${archived.join(', ')}`);
  });
}
