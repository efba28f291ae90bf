// The cluster test's single-host reference: a centre of its own (Ganymede database, warehouse, Glassbeam) set
// up as the cluster's, whose GEOs of the same names read the same source databases and deliver the same hours
// in the same order (the next only after the last is sent, as in the cluster), drained by one `jupiter drain`;
// run alongside the cluster's hosts: measured on the 2 busy cores (load 14), the cluster's tests took no longer for
// it, and the file 5.1 min, against 7.0 with the reference niced to 10, which left most of it for after the cluster.
// What the cluster wrote is then compared with it: the warehouse document by document, every file at Glassbeam
// byte for byte. A cluster that did a step twice, or half of one, would show there as a difference.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { BSON, type Db as MongoDb } from 'mongodb';
import type mysql from 'mysql2/promise';
import { swiftCentreSettings, swiftInboxUrl } from '../agent/inbox-store-support.js';
import { shown } from '../cycle/support.js';
import { startCentre, type Centre } from '../support/centre-fixture.js';
import { ganymedeBin, type CliRun } from '../support/cli.js';
import type { SshdServer } from '../support/sshd.js';
import type { SwiftServer } from '../support/swift.js';
import { progressCollection } from '../../src/warehouse/progress.js';

/** A bound on one hour's drain, not an assertion on its speed. */
const drainTimeoutS = 420;

/**
 * The settings both centres of the cluster test share. `storePrefix` puts the inbox and feed store below a prefix
 * of the rig's Swift containers, so a second centre on the same Swift never reads the first one's objects.
 */
export function centreSettings(server: SwiftServer, siteName: string, storePrefix?: string): Record<string, unknown> {
  return {
    'site.name': siteName,
    ...swiftCentreSettings(server, storePrefix ? `cluster-${storePrefix}` : 'cluster'),
    ...(storePrefix ? { 'centre.inbox': swiftInboxUrl(server, `inbox/${storePrefix}`), 'feed.store': swiftInboxUrl(server, `feed/${storePrefix}`) } : {}),
    'centre.retry_base_ms': 1000,
    // The big table makes steps last long enough to be cut mid-way; the warehouse stand-in would take minutes over it.
    'warehouse.mappings': [{ table: 'big', skip: true }],
  };
}

/** The reference centre, its GEOs reading the cluster's GEOs' source databases. */
export async function startReference(server: SwiftServer, cluster: Centre, geoNames: string[]): Promise<Centre> {
  const reference = await startCentre({
    glassbeam: true,
    // The default lease, not the cluster's short one: nothing here is cut off, and on a loaded machine a worker
    // slower to start than a 3 s lease would be called crashed and retried until its step failed for good.
    settings: centreSettings(server, 'centre-reference', 'reference'),
    agentSettings: { 'agent.inbox': 'api' },
  });
  try {
    for (const name of geoNames) await reference.addGeo(name, cluster.geos.get(name)!.sourceDatabase);
    return reference;
  } catch (error) {
    await reference.dispose();
    throw error;
  }
}

export interface ReferenceRun {
  /** Settles when both hours are sent, or with what went wrong. */
  done: Promise<void>;
  /** Kills what runs and starts nothing more (after a failure, before the centres are disposed). */
  stop(): void;
}

/**
 * The reference run, in the background: each hour delivered by every GEO (`agent run`), then drained by the one
 * host (`jupiter drain`) until it is sent; all as processes of the built CLI, so the test process, which relays
 * every cluster host's traffic, stays free for that.
 */
export function startReferenceRun(reference: Centre, geoNames: string[], cycles: string[]): ReferenceRun {
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('GANYMEDE_'))), NO_COLOR: '1' };
  let stopped = false;
  let current: ReturnType<typeof execa> | undefined;
  const run = async (configPath: string, args: string[]): Promise<CliRun> => {
    if (stopped) throw new Error('the reference run was stopped');
    current = execa(ganymedeBin, ['--config', configPath, ...args], { env, extendEnv: false, reject: false, timeout: (drainTimeoutS + 30) * 1000, stdin: 'ignore' });
    const result = await current;
    return { code: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
  };
  const done = (async () => {
    for (const cycle of cycles) {
      for (const name of geoNames) {
        const delivered = await run(reference.geos.get(name)!.configPath, ['agent', 'run', '--cycle', cycle]);
        assert.equal(delivered.code, 0, `the reference's ${name} delivering ${cycle}: ${shown(delivered)}`);
      }
      const drained = await run(reference.configPath, ['jupiter', 'drain', '--timeout', String(drainTimeoutS)]);
      assert.equal(drained.code, 0, `the reference's drain of ${cycle}: ${shown(drained)}`);
    }
  })();
  // Awaited by the test that compares; until then a failure must not count as an unhandled rejection.
  done.catch(() => undefined);
  return {
    done,
    stop() {
      stopped = true;
      current?.kill('SIGKILL');
    },
  };
}

/** Steps of a centre with more than one succeeded attempt: what no crash, cut or race may cause. */
export async function stepsSucceededTwice(centre: Centre): Promise<mysql.RowDataPacket[]> {
  const [rows] = await centre.db.query<mysql.RowDataPacket[]>(
    "SELECT a.step_id, s.name, COUNT(*) AS n FROM step_attempts a JOIN steps s ON s.id = a.step_id WHERE a.outcome = 'succeeded' GROUP BY a.step_id, s.name HAVING n > 1",
  );
  return rows;
}

/**
 * Fields that say when this run did something rather than what it wrote: `_ganymede_etl` records when each
 * (GEO, collection) cycle was started and finished. State documents' `_meta` is `{ hash, cycle }`, content
 * only, and the change log's entries are keyed and dated by cycle, so both are compared whole.
 */
const timingFields: Record<string, string[]> = { [progressCollection]: ['startedAt', 'finishedAt'] };

async function collectionNames(db: MongoDb): Promise<string[]> {
  const collections = await db.listCollections({}, { nameOnly: true }).toArray();
  return collections.map((collection) => collection.name).filter((name) => !name.startsWith('system.')).sort();
}

/** A collection's documents in `_id` order as canonical extended JSON: types and field order count too. */
async function documentLines(db: MongoDb, collection: string): Promise<string[]> {
  const omitted = timingFields[collection] ?? [];
  const docs = await db.collection(collection).find({}).sort({ _id: 1 }).toArray();
  return docs.map((doc) => BSON.EJSON.stringify(Object.fromEntries(Object.entries(doc).filter(([field]) => !omitted.includes(field))), { relaxed: false }));
}

/** Equal lists, or a failure naming the first line that differs (a whole diff of thousands of documents says less). */
function assertSameLines(cluster: string[], reference: string[], what: string): void {
  const at = cluster.findIndex((line, index) => line !== reference[index]);
  const first = at >= 0 ? at : cluster.length === reference.length ? -1 : Math.min(cluster.length, reference.length);
  if (first < 0) return;
  assert.equal(cluster[first] ?? '(none)', reference[first] ?? '(none)', `${what}: the cluster's ${cluster.length} and the reference's ${reference.length} differ first at #${first}`);
}

/** Every collection, Ganymede's own included, holds the same documents in both warehouses. */
export async function assertSameWarehouse(cluster: MongoDb, reference: MongoDb): Promise<void> {
  const collections = await collectionNames(reference);
  assert.deepEqual(await collectionNames(cluster), collections, 'the warehouses have the same collections');
  for (const collection of collections) {
    const expected = await documentLines(reference, collection);
    assert.ok(expected.length > 0, `the reference's ${collection} has documents`);
    assertSameLines(await documentLines(cluster, collection), expected, `warehouse collection ${collection}`);
  }
}

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(dir, join(prefix, entry.name)) : [join(prefix, entry.name)]).sort();
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Glassbeam got the same files from both centres, byte for byte, manifests included. */
export function assertSameFeed(cluster: SshdServer, reference: SshdServer, cycles: string[]): void {
  const sent = filesUnder(reference.localPath('.'));
  for (const cycle of cycles) assert.ok(sent.includes(`${cycle}/manifest.json`), `the reference sent the feed of ${cycle}`);
  assert.deepEqual(filesUnder(cluster.localPath('.')), sent, 'Glassbeam holds the same files from the cluster as from the one host');
  for (const name of sent) {
    const [ours, theirs] = [readFileSync(cluster.localPath(name)), readFileSync(reference.localPath(name))];
    if (ours.equals(theirs)) continue;
    // Say where the content parts, not only that the bytes do.
    const lines = (bytes: Buffer) => (name.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8').split('\n');
    const [a, b] = [lines(ours), lines(theirs)];
    const found = a.findIndex((line, index) => line !== b[index]);
    const at = found >= 0 ? found : a.length === b.length ? -1 : Math.min(a.length, b.length);
    assert.fail(`${name}: the cluster sent ${ours.length} bytes (sha256 ${sha256(ours)}), the one host ${theirs.length} (${sha256(theirs)}); ` +
      (at < 0 ? 'the same content, compressed differently' : `content line ${at + 1}: cluster ${a[at] ?? '(none)'} | one host ${b[at] ?? '(none)'}`));
  }
}
