// `ganymede archive` into the default file:// store, as an operator relies on it: a run with nothing new
// uploads nothing; a GEO's dump of an hour restores to tables equal to its source; a corrupted object is
// named by `archive verify`; a restore point that does not exist is a usage error; and after losing the
// Ganymede schema the newest dump gives back every table as it was.
import assert from 'node:assert/strict';
import { openSync, readSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { listTree, nextCycle, schemaChecksums, sha256Of, shown, smallSource } from './support.js';

const first = '2026-06-01T03';
let centre: Centre;
let admin: mysql.Connection;
const restored: string[] = [];
let checksumsBeforeArchive: Record<string, string> = {};
let newestDump = '';
const storeDir = () => join(centre.dataDir, 'archive');

interface ArchiveRecord { kind: string; objectKey: string; state: string; sha256: string; size: number; geo: string | null; cycle: string | null }

async function archiveList(): Promise<ArchiveRecord[]> {
  const run = await centre.cli(['archive', 'list', '--json']);
  assert.equal(run.code, 0, shown(run));
  return JSON.parse(run.stdout) as ArchiveRecord[];
}

function storeHashes(): Array<[string, string]> {
  return listTree(storeDir()).map((name) => [name, sha256Of(join(storeDir(), name))]);
}

function intoSchema(label: string): string {
  const name = `gmd_restore_${label}_${process.pid}`; // a schema the scratch user may create
  restored.push(name);
  return name;
}

before(async () => {
  centre = await startCentre({ glassbeam: true });
  for (const [i, name] of ['emea', 'apac'].entries()) await centre.addGeo(name, await centre.addSource(`src${name}`, smallSource(i + 1)));
  for (const geo of centre.geos.values()) await geo.deliver(first);
  const drained = await centre.cli(['jupiter', 'drain', '--timeout', '150']);
  assert.equal(drained.code, 0, shown(drained));
  admin = await centre.admin();
});
after(async () => {
  for (const name of restored) await admin?.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => undefined);
  await centre?.dispose();
});

test('archive --dry-run lists what a run would archive and changes nothing: no object, no record', async () => {
  const plan = await centre.cli(['archive', 'run', '--dry-run']);
  assert.equal(plan.code, 0, shown(plan));
  assert.match(plan.stdout, /^would archive the Ganymede schema \(changed since its last archived dump\)$/m);
  for (const geo of ['emea', 'apac']) assert.match(plan.stdout, new RegExp(`^would archive ${geo}/\\S+ \\(${first}, \\d+ bytes\\)$`, 'm'));
  assert.match(plan.stdout, /^dry run: 2 agent files to archive into file:\/\/\S+; nothing was changed$/m);
  assert.deepEqual(listTree(storeDir()), [], 'nothing in the store');
  assert.deepEqual(await archiveList(), [], 'no archive record');
});

test('archive uploads the schema dump and each agent file once; a second run uploads nothing and changes no record', async () => {
  const run = await centre.cli(['archive', '--json']);
  assert.equal(run.code, 0, shown(run));
  const result = JSON.parse(run.stdout) as { ganymedeDump: { objectKey: string } | 'unchanged'; agentDumps: Array<{ objectKey: string }> };
  assert.notEqual(result.ganymedeDump, 'unchanged');
  assert.deepEqual(result.agentDumps.map((dump) => dump.objectKey.split('/').slice(0, 3).join('/')).sort(), [`agent/${first}/apac`, `agent/${first}/emea`]);
  const records = await archiveList();
  assert.deepEqual(records.map((record) => [record.kind, record.state]).sort(), [['agent-dump', 'archived'], ['agent-dump', 'archived'], ['ganymede-db', 'archived']]);
  const objects = storeHashes();
  assert.deepEqual(objects.map(([name]) => name).sort(), records.map((record) => record.objectKey).sort(), 'one object per record, no .part');
  for (const record of records) assert.equal(sha256Of(join(storeDir(), record.objectKey)), record.sha256, `${record.objectKey}: as recorded`);

  const again = await centre.cli(['archive']);
  assert.equal(again.code, 0, shown(again));
  assert.equal(again.stdout, '', 'a run with nothing new prints nothing');
  const againJson = await centre.cli(['archive', '--json']);
  assert.deepEqual(JSON.parse(againJson.stdout).agentDumps, []);
  assert.equal(JSON.parse(againJson.stdout).ganymedeDump, 'unchanged');
  assert.deepEqual(await archiveList(), records, 'records unchanged');
  assert.deepEqual(storeHashes(), objects, 'the store unchanged');
});

test("`archive restore --geo --cycle` gives back the GEO's source tables, CHECKSUM TABLE equal", async () => {
  for (const geo of centre.geos.values()) {
    const into = intoSchema(`geo${geo.name}`);
    const run = await centre.cli(['archive', 'restore', '--geo', geo.name, '--cycle', first, '--into', into]);
    assert.equal(run.code, 0, shown(run));
    assert.match(run.stdout, new RegExp(`restored agent/${first}/${geo.name}/\\S+ into ${into}: 2 tables, \\d+ rows, verified; signed by ${geo.keys.fingerprint}`, 'i'));
    assert.deepEqual(await schemaChecksums(admin, into), await schemaChecksums(admin, geo.sourceDatabase), `${geo.name}`);
  }
});

test('a restore point that does not exist is "not found" (7), a malformed one a usage error (2), each saying what is missing', async () => {
  const cases: Array<[string[], RegExp, number]> = [
    [['--at', '2001-01-01T00:00:00Z'], /no archived Ganymede schema at or before 2001-01-01T00:00:00.000Z/, 7],
    [['--at', 'yesterday-ish'], /--at yesterday-ish: not a time/, 2],
    [['--geo', 'nowhere', '--cycle', first], new RegExp(`nothing archived for GEO nowhere in ${first}`), 7],
    [['--geo', 'emea', '--cycle', nextCycle(first, 5)], new RegExp(`nothing archived for GEO emea in ${nextCycle(first, 5)}`), 7],
    [['--geo', 'emea'], /give --geo and --cycle together/, 2],
  ];
  for (const [args, message, code] of cases) {
    const run = await centre.cli(['archive', 'restore', '--into', intoSchema('never'), ...args]);
    assert.equal(run.code, code, `${args.join(' ')}: ${shown(run)}`);
    assert.match(run.stderr, message, args.join(' '));
  }
  const [schemas] = await admin.query<mysql.RowDataPacket[]>('SELECT schema_name FROM information_schema.schemata WHERE schema_name = ?', [`gmdt_never_${process.pid}`]);
  assert.equal(schemas.length, 0, 'nothing created');
});

test('archive verify restores a sample; a flipped byte in an archived object is reported FAILED, naming it, exit 5', async () => {
  const ok = await centre.cli(['archive', 'verify']);
  assert.equal(ok.code, 0, shown(ok));
  assert.match(ok.stdout, /^ok {6}ganymede\/\S+: \d+ tables, \d+ rows restored and verified$/m);
  assert.match(ok.stdout, /^ok {6}agent\/\S+: 2 tables, \d+ rows restored and verified$/m);
  const newestAgentDump = (await archiveList()).find((record) => record.kind === 'agent-dump')!;
  const file = join(storeDir(), newestAgentDump.objectKey);
  const flip = () => {
    const fd = openSync(file, 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, 100);
    byte[0] = byte[0]! ^ 0xff;
    writeSync(fd, byte, 0, 1, 100);
    closeSync(fd);
  };
  flip();
  try {
    const failed = await centre.cli(['archive', 'verify']);
    assert.equal(failed.code, 5, shown(failed));
    assert.match(failed.stdout, new RegExp(`^FAILED  ${newestAgentDump.objectKey}: the archived object ${newestAgentDump.objectKey} is corrupt: its sha256 is [0-9a-f]{64}, recorded ${newestAgentDump.sha256}$`, 'm'));
    assert.match(failed.stdout, /^ok {6}ganymede\//m, 'the other sample still verified');
    assert.match(failed.stderr, /archive verify: 1 of 2 samples failed/);
  } finally {
    flip();
  }
  assert.equal((await centre.cli(['archive', 'verify'])).code, 0, 'the byte flipped back, verify passes again');
});

test('the newest schema dump restores every table with the CHECKSUM TABLE it had right before the archive run', async () => {
  // Something new in the schema, so this run takes a new dump; the checksums are taken right before it.
  for (const geo of centre.geos.values()) await geo.deliver(nextCycle(first));
  const drained = await centre.cli(['jupiter', 'drain', '--timeout', '150']);
  assert.equal(drained.code, 0, shown(drained));
  checksumsBeforeArchive = await schemaChecksums(admin, centre.database);
  const archived = await centre.cli(['archive', '--json']);
  assert.equal(archived.code, 0, shown(archived));
  newestDump = (JSON.parse(archived.stdout) as { ganymedeDump: { objectKey: string } }).ganymedeDump.objectKey;
  assert.ok(newestDump, 'a new dump was taken');

  const into = intoSchema('restored');
  const run = await centre.cli(['archive', 'restore', '--into', into]);
  assert.equal(run.code, 0, shown(run));
  assert.match(run.stdout, new RegExp(`restored ${newestDump} into ${into}: ${Object.keys(checksumsBeforeArchive).length} tables`));
  assert.deepEqual(await schemaChecksums(admin, into), checksumsBeforeArchive);
});

// Disaster recovery: the archive's catalogue (archive_records) lives in the very schema that was lost, so
// `archive restore` finds the schema dump in the store itself, by its name.
test('after DROP DATABASE of the Ganymede schema, `archive restore --into` gives back every table with the same CHECKSUM TABLE', async () => {
  assert.ok(newestDump, 'the previous test archived a dump');
  await admin.query(`DROP DATABASE \`${centre.database}\``);
  try {
    const into = intoSchema('disaster');
    const run = await centre.cli(['archive', 'restore', '--into', into]);
    assert.equal(run.code, 0, shown(run));
    assert.match(run.stdout, new RegExp(`restored ${newestDump} into ${into}`));
    assert.deepEqual(await schemaChecksums(admin, into), checksumsBeforeArchive);
  } finally {
    // The fixture still tears down through this schema.
    await admin.query(`CREATE DATABASE IF NOT EXISTS \`${centre.database}\``);
  }
});
