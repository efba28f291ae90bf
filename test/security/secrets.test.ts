// No secret leaks anywhere a person or another program could read it: the whole demo cycle (three
// agents over SFTP reading Cloud Control as a MySQL user with a password, the API, drain, feed and send
// to Glassbeam over SFTP, archive) runs twice with every process at debug level; then every log, work
// dir, inbox, feed, the archive, a dump of the Ganymede database, all console output and every process
// command line seen meanwhile are searched for the admin token, each GEO's token, the MySQL password, and
// the private OpenPGP and SSH keys.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { tempDir } from '../support/ganymede.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const work = tempDir('secrets-demo');
const dir = work.path;
const geos = ['emea', 'apac', 'amer'];
const consoleOutput: string[] = [];

function demo(args: string[] = []) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('GANYMEDE_')));
  return execa(process.execPath, ['--import', 'tsx', join(root, 'scripts/demo/run.ts'), ...args], {
    cwd: root,
    env: { ...env, GANYMEDE_DEMO_DIR: dir, GANYMEDE_LOGGING_LEVEL: 'debug', NO_COLOR: '1' },
    extendEnv: false,
    reject: false,
    all: true,
    timeout: 300_000,
  });
}

interface Services {
  central: { keyFile: string; localRoot: string };
  glassbeam: { keyFile: string; localRoot: string };
}
let services: Services;

/** Every command line seen on the machine while the demo runs (what `ps` shows anyone), sampled. */
const commandLines = new Set<string>();
function sampleCommandLines(): void {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      commandLines.add(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
    } catch {
      // gone meanwhile
    }
  }
}

before(async () => {
  const sampler = setInterval(sampleCommandLines, 50);
  try {
    // The first hour, then the next one (changed rows, a late GEO, a delta feed).
    for (const run of [1, 2]) {
      const result = await demo();
      consoleOutput.push(String(result.all));
      assert.equal(result.exitCode, 0, `demo run ${run}:\n${String(result.all).slice(-3000)}`);
    }
  } finally {
    clearInterval(sampler);
  }
  services = JSON.parse(readFileSync(join(dir, 'services.json'), 'utf8')) as Services;
});
after(async () => {
  await demo(['--clean']);
  work.remove();
});

/** The lines of an armored private block (or OpenSSH private key) that its public half does not share. */
function privateLines(privateText: string, publicText = ''): string[] {
  const shared = new Set(publicText.split('\n').map((line) => line.trim()));
  return privateText
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length >= 40 && !line.startsWith('-----') && !shared.has(line));
}

interface Secret {
  label: string;
  file: string;
  needles: string[];
}

function secrets(): Secret[] {
  const text = (path: string) => readFileSync(path, 'utf8');
  const found: Secret[] = [
    { label: 'the admin token', file: join(dir, 'admin.token'), needles: [text(join(dir, 'admin.token')).trim()] },
    { label: 'the Cloud Control MySQL password', file: join(dir, 'source.password'), needles: [text(join(dir, 'source.password')).trim()] },
    ...geos.map((geo) => ({ label: `the API token of ${geo}`, file: join(dir, `${geo}.token`), needles: [text(join(dir, `${geo}.token`)).trim()] })),
    ...['centre', ...geos].map((name) => ({
      label: `the private OpenPGP key of ${name}`,
      file: join(dir, 'keys', `${name}.key.asc`),
      needles: privateLines(text(join(dir, 'keys', `${name}.key.asc`)), text(join(dir, 'keys', `${name}.pub.asc`))),
    })),
    { label: 'the SSH key of the agents', file: services.central.keyFile, needles: privateLines(text(services.central.keyFile)) },
    { label: 'the SSH key for Glassbeam', file: services.glassbeam.keyFile, needles: privateLines(text(services.glassbeam.keyFile)) },
  ];
  for (const secret of found) {
    assert.ok(secret.needles.length > 0 && secret.needles.every((needle) => needle.length >= 16), `${secret.label}: nothing to search for`);
  }
  return found;
}

function centreDatabase(): string {
  const centre = JSON.parse(readFileSync(join(dir, 'centre.json'), 'utf8')) as { mysql: { url: string } };
  return new URL(centre.mysql.url).pathname.slice(1);
}

/** The leases the ticks gave their workers: each lets its holder settle a step, so it is a secret too. */
async function leaseTokens(): Promise<Secret> {
  const query = await execa('mysql', ['-h', '127.0.0.1', '-u', 'root', '-N', '-e', 'SELECT lease_token FROM step_attempts', centreDatabase()], { reject: false });
  assert.equal(query.exitCode, 0, query.stderr);
  const needles = query.stdout.split('\n').map((line) => line.trim()).filter(Boolean);
  assert.ok(needles.length > 10 && needles.every((needle) => needle.length >= 16), `lease tokens: ${needles.length}`);
  return { label: 'a lease token', file: '', needles };
}

function filesUnder(path: string): string[] {
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) => {
    const full = join(path, entry.name);
    if (entry.isDirectory()) return filesUnder(full);
    return entry.isFile() ? [full] : [];
  });
}

/** Everything the run left readable: files (gzip'd ones opened), the Ganymede database, console output. */
async function haystack(secretFiles: Set<string>): Promise<Array<{ where: string; content: Buffer }>> {
  const files = [dir, services.central.localRoot, services.glassbeam.localRoot].flatMap(filesUnder).filter((file) => !secretFiles.has(file));
  const items = files.map((file) => {
    const raw = readFileSync(file);
    const content = file.endsWith('.gz') ? gunzipSync(raw) : raw;
    return { where: relative(dir, file).startsWith('..') ? file : relative(dir, file), content };
  });
  const database = centreDatabase();
  const dump = await execa('mysqldump', ['-h', '127.0.0.1', '-u', 'root', '--skip-extended-insert', database], { encoding: 'buffer', reject: false });
  assert.equal(dump.exitCode, 0, `mysqldump ${database}`);
  items.push({ where: `mysqldump of ${database}`, content: Buffer.from(dump.stdout) });
  items.push({ where: 'the console output of the demo and every CLI it ran', content: Buffer.from(consoleOutput.join('\n')) });
  items.push({ where: 'the command lines of the processes seen while it ran', content: Buffer.from([...commandLines].join('\n')) });
  return items;
}

test('the secrets test searches what a debug-level cycle wrote: worker, API and agent debug lines, feed, archive, database', async () => {
  const items = await haystack(new Set());
  const text = (where: RegExp) => items.filter((item) => where.test(item.where)).map((item) => item.content.toString('utf8')).join('\n');
  assert.match(text(/^centre\/log\//), / DEBUG worker decrypt: decrypt of transaction \d+: step \d+/, 'worker logs at debug level');
  assert.match(text(/^api\.log$/), / DEBUG config: read \S+centre\.json; secrets from api\.admin_token/, 'the API at debug level');
  assert.match(text(/^cli\.log$/), / DEBUG api client: GET http:\/\/127\.0\.0\.1:\d+\/v1\/centre-keys 200/, 'the agents at debug level');
  assert.match(text(/^cli\.log$/), / DEBUG tick: spawned \S+ \S+ --config \S+ worker load --txn \d+ as pid \d+; inherits .*GANYMEDE_LOGGING_LEVEL/, 'the tick at debug level');
  assert.ok(items.some((item) => /\.ndjson\.gz$/.test(item.where)), 'the feed sent to Glassbeam');
  assert.ok(items.some((item) => /^archive\//.test(item.where)), 'the archive');
  assert.match(text(/^mysqldump/), /INSERT INTO `events`/, 'the status events in the database');
  assert.match(text(/^the command lines/), /ganymede --config \S+ worker (decrypt|load|etl) --txn \d+$/m, "the workers' command lines were sampled");
  // The search finds a secret where one is: each secret's own file holds it, and a token planted in a
  // log (gzip'd, as logrotate leaves it) and a private key line in a work file are reported.
  const all = secrets();
  for (const secret of all) {
    const content = readFileSync(secret.file, 'utf8');
    assert.ok(secret.needles.every((needle) => content.includes(needle)), secret.label);
  }
  const planted = [join(dir, 'centre', 'log', 'planted.log.gz'), join(dir, 'centre', 'work', 'planted.txt')];
  // The work dir is searched though no step writes there any more (decrypt and load stream): made for the plant.
  mkdirSync(join(dir, 'centre', 'work'), { recursive: true, mode: 0o700 });
  writeFileSync(planted[0]!, gzipSync(`a line with ${all[0]!.needles[0]} in it\n`));
  writeFileSync(planted[1]!, `${all.find((secret) => secret.label.includes('OpenPGP key of centre'))!.needles.at(-1)}\n`);
  try {
    const found = leaks(await haystack(new Set(all.map((secret) => secret.file))), all);
    assert.deepEqual(found.map((leak) => leak.replace(/ \(sha256.*/, '')).sort(), ['the admin token in centre/log/planted.log.gz', 'the private OpenPGP key of centre in centre/work/planted.txt']);
  } finally {
    for (const file of planted) rmSync(file, { force: true });
  }
});

function leaks(items: Array<{ where: string; content: Buffer }>, all: Secret[]): string[] {
  const found: string[] = [];
  for (const item of items) {
    for (const secret of all) {
      const needle = secret.needles.find((candidate) => item.content.includes(candidate));
      if (needle) found.push(`${secret.label} in ${item.where} (sha256 of the leaked text ${createHash('sha256').update(needle).digest('hex').slice(0, 12)})`);
    }
  }
  return found;
}

test('no token, password or private key appears in any log, work file, inbox, feed, archive, database row, console line or command line', async () => {
  const all = secrets();
  const items = await haystack(new Set(all.map((secret) => secret.file)));
  assert.deepEqual(leaks(items, all), []);
  assert.ok(items.length > 40, `searched ${items.length} files and dumps`);
  assert.ok(statSync(join(dir, 'centre', 'log')).isDirectory());
});

test('no lease token a tick gave its worker appears in any command line, log, work file or console line (only in the database that issued it)', async () => {
  const all = secrets();
  const items = (await haystack(new Set(all.map((secret) => secret.file)))).filter((item) => !item.where.startsWith('mysqldump'));
  assert.deepEqual(leaks(items, [await leaseTokens()]), []);
});
