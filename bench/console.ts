// `npm run bench -- console`: how long the web console's grid takes and how much it weighs for a big centre
// (done in 4 steps): a fresh, migrated Ganymede schema filled with --geos × --hours of transactions, their
// cycles and their recorded schemas (most done, some failed, running, late or missing, as a real day has
// them); `ganymede api` in this process; sign in as the admin through the form; then the grid and its live poll, each asked for
// --repeat times. Server time is what the API's own log line says for the request; bytes are the HTML as
// built and as sent to a browser (which takes brotli) and to a client that takes only gzip.
import type mysql from 'mysql2/promise';
import { randomBytes } from 'node:crypto';
import { runApiServe } from '../src/commands/api/serve.js';
import { hourMs } from '../src/cycle.js';
import { configureLogging } from '../src/log.js';
import { openStateDb, type Db } from '../src/state/db.js';
import { testCentre } from '../test/support/ganymede.js';
import { ConsoleBrowser } from '../test/support/console.js';
import { loadAverage, median } from './support/shell.js';

export interface ConsoleBenchOptions {
  geos: number;
  hours: number;
  repeat: number;
}

const log = (line: string) => process.stderr.write(`bench console: ${line}\n`);

/** Rows in batches: one INSERT per 1000 keeps the statement well under max_allowed_packet. */
async function insertRows(db: Db, sql: string, rows: unknown[][]): Promise<void> {
  for (let at = 0; at < rows.length; at += 1000) {
    const batch = rows.slice(at, at + 1000);
    await db.query<mysql.ResultSetHeader>(`${sql} VALUES ${batch.map((row) => `(${row.map(() => '?').join(', ')})`).join(', ')}`, batch.flat());
  }
}

/** The grid's data, written as the API and the workers leave it; deterministic, so runs compare. */
async function fill(db: Db, geos: number, hours: number): Promise<{ txns: number }> {
  const newest = Math.floor(Date.now() / hourMs) * hourMs;
  const first = newest - (hours - 1) * hourMs;
  const created = new Date(first - 24 * hourMs);
  await insertRows(
    db,
    'INSERT INTO geos (name, enabled, public_key, key_fingerprint, token_hash, token_hint, created_at, updated_at)',
    Array.from({ length: geos }, (_, g) => [`geo${String(g).padStart(3, '0')}`, 1, 'bench only', 'F'.repeat(40), randomBytes(32).toString('hex'), 'gmd_bench', created, created]),
  );
  const [ids] = await db.query<mysql.RowDataPacket[]>('SELECT id FROM geos ORDER BY name');
  const txns: unknown[][] = [];
  const cycles: unknown[][] = [];
  const schemas: unknown[][] = [];
  for (let h = 0; h < hours; h++) {
    const cycle = new Date(first + h * hourMs);
    const age = hours - 1 - h;
    cycles.push([cycle, age === 0 ? 'collecting' : age === 5 ? 'failed' : 'sent', age === 5 ? 'glassbeam: connection refused' : null, cycle, cycle, new Date(cycle.getTime() + 55 * 60_000)]);
    ids.forEach((row, g) => {
      const roll = (g * 7919 + h * 104_729) % 1000;
      if (age > 0 && roll < 5) return; // missing: nothing opened
      const opened = new Date(cycle.getTime() + 60_000 + (roll % 50) * 1000);
      const delivered = new Date(opened.getTime() + 120_000);
      const finished = new Date(delivered.getTime() + 300_000);
      const state = age === 0 ? (['open', 'delivered', 'processing'] as const)[roll % 3] : roll < 15 ? 'failed' : roll < 18 ? 'refused' : roll < 20 ? 'agent_failed' : 'done';
      const step = state === 'processing' ? 'load' : state === 'failed' ? 'etl' : null;
      const error = state === 'failed' ? 'the warehouse (MongoDB) is unreachable: connect ECONNREFUSED 10.0.0.5:27017' : state === 'refused' ? 'the signature is not by GEO key FFFF…' : state === 'agent_failed' ? 'disk full' : null;
      // Every hour past load has its schema on record (the grid joins it); one in a hundred or so changed.
      if (state !== 'open' && state !== 'delivered' && state !== 'refused' && state !== 'agent_failed') {
        schemas.push([row.id, cycle, 'cd'.repeat(32), roll % 97 === 0 ? 2 : 0, roll % 97 === 0 ? '[{"change":"table added","table":"orders"},{"change":"table added","table":"users"}]' : '[]', finished]);
      }
      txns.push([row.id, cycle, state, step, 1, `geo${g}-host`, `bench-${g}-${h}.tar.zst.gpg`, 123_456_789, 'ab'.repeat(32), error, opened, state === 'open' ? null : delivered, state === 'done' ? finished : null, state === 'done' ? finished : null, finished]);
    });
  }
  await insertRows(db, 'INSERT INTO cycles (cycle_start, state, error, created_at, updated_at, sent_at)', cycles);
  await insertRows(
    db,
    'INSERT INTO transactions (geo_id, cycle_start, state, step, delivery, agent_host, file_name, file_size, file_sha256, error, opened_at, delivered_at, warehoused_at, finished_at, updated_at)',
    txns,
  );
  await insertRows(db, 'INSERT INTO geo_schemas (geo_id, cycle_start, schema_sha256, change_count, changes_json, recorded_at)', schemas);
  return { txns: txns.length };
}

export async function runConsoleBench(options: ConsoleBenchOptions): Promise<void> {
  const load = await loadAverage();
  console.log(`console bench: load average ${load.toFixed(2)} at the start; ${options.geos} GEOs × ${options.hours} hours; each figure the median of ${options.repeat} requests (min–max in brackets)`);
  // step 1: a scratch Ganymede schema with the history
  const adminToken = `admin_${randomBytes(24).toString('base64url')}`;
  const centre = await testCentre('consolebench', { 'api.listen': '127.0.0.1:0', 'logging.level': 'info' }, { 'api.admin_token': adminToken });
  const lines: string[] = [];
  configureLogging({ level: 'info', format: 'text', write: (line) => void lines.push(line) });
  let stop!: () => void;
  const stopped = new Promise((resolve) => (stop = () => resolve('bench')));
  let served: Promise<unknown> | undefined;
  try {
    const db = await openStateDb(centre.loaded);
    const started = performance.now();
    const { txns } = await fill(db, options.geos, options.hours).finally(() => db.end());
    log(`filled ${txns} transactions in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    // step 2: the API, in this process
    let listening!: (url: string) => void;
    const ready = new Promise<string>((resolve) => (listening = resolve));
    served = runApiServe({ loaded: centre.loaded, stopSignal: stopped, onListening: ({ host, port }) => listening(`http://${host}:${port}`) });
    const url = await Promise.race([ready, served.then(() => Promise.reject(new Error('the API stopped before listening')))]);

    // step 3: sign in as the admin, as a browser would
    const browser = new ConsoleBrowser(url);
    const signedIn = await browser.signIn(adminToken);
    if (signedIn.status !== 303) throw new Error(`sign-in failed: ${signedIn.status} ${signedIn.text.slice(0, 300)}`);

    // step 4: the grid and the poll, the first of each not counted (cold caches, the console's modules loading)
    // The API logs "GET <path> <status> <ms>ms" for every request: the server's own time, from parse to the last byte written.
    const serverMs = (path: string) => {
      const bare = path.split('?')[0]!;
      const line = lines.filter((candidate) => candidate.includes(`GET ${bare} 200 `)).at(-1) ?? '';
      return Number(/ 200 (\d+)ms/.exec(line)?.[1] ?? NaN);
    };
    // What Chromium sends; and a client that takes gzip only; and one that takes nothing.
    const codings = { browser: 'gzip, deflate, br, zstd', gzip: 'gzip', none: undefined };
    const measure = async (path: string, coding: keyof typeof codings) => {
      const before = performance.now();
      const cpuBefore = process.cpuUsage();
      const accept = codings[coding];
      const reply = await browser.get(path, accept ? { 'accept-encoding': accept } : {});
      const cpu = process.cpuUsage(cpuBefore);
      const wallMs = performance.now() - before;
      if (reply.status !== 200) throw new Error(`GET ${path}: ${reply.status} ${reply.text.slice(0, 300)}`);
      return { wallMs, serverMs: serverMs(path), cpuMs: (cpu.user + cpu.system) / 1000, bytes: Number(reply.headers['content-length']) };
    };
    const gridPath = options.hours === 48 ? '/console' : `/console?hours=${options.hours}`;
    await measure(gridPath, 'browser');
    const plain = await measure(gridPath, 'none');
    const gzipped = [];
    for (let i = 0; i < 3; i++) gzipped.push(await measure(gridPath, 'gzip'));
    const grid = [];
    for (let i = 0; i < options.repeat; i++) grid.push(await measure(gridPath, 'browser'));
    const since = new Date(Date.now() - 10_000).toISOString();
    const newest = Math.floor(Date.now() / hourMs) * hourMs;
    const window = (at: number) => new Date(at).toISOString().slice(0, 13);
    const pollPath = `/console/grid.json?from=${window(newest - (options.hours - 1) * hourMs)}&to=${window(newest + hourMs)}&since=${encodeURIComponent(since)}`;
    await measure(pollPath, 'browser');
    const polls = [];
    for (let i = 0; i < options.repeat; i++) polls.push(await measure(pollPath, 'browser'));

    const spread = (values: number[]) => `${median(values).toFixed(0)} ms (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;
    const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;
    console.log(`grid: ${median(grid.map((run) => run.serverMs)).toFixed(0)} ms server time, ${kb(median(grid.map((run) => run.bytes)))} to a browser (brotli; ${kb(median(gzipped.map((run) => run.bytes)))} gzip'd, ${kb(plain.bytes)} of HTML)`);
    console.log(`  server ${spread(grid.map((run) => run.serverMs))} (gzip'd: ${spread(gzipped.map((run) => run.serverMs))}; not compressed: ${plain.serverMs} ms), wall ${spread(grid.map((run) => run.wallMs))} (the API's log line; wall adds the local HTTP round trip)`);
    console.log(`  CPU ${spread(grid.map((run) => run.cpuMs))}: this process's CPU time over the request (the API and the client reading the reply), which a busy machine does not stretch as it stretches wall time; MySQL's is not in it`);
    console.log(`  ${txns} transactions and ${options.hours} cycles in two queries; one cell per GEO-hour, each a link with a title`);
    console.log(`poll (grid.json, changes of the last 10 s): server ${spread(polls.map((run) => run.serverMs))}, ${median(polls.map((run) => run.bytes))} bytes`);
    console.log(`  targets: grid ≤ 200 ms server time and ≤ 200 KB on the wire`);
    if (load > 1) console.log(`  note: load average ${load.toFixed(2)} when the run started; on a busy machine these times vary widely`);
  } finally {
    stop();
    await served?.catch(() => undefined);
    await centre.dispose();
  }
}
