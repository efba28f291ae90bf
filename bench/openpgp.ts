// Seal and open ~500 MB of incompressible data with openpgp.js (our streams) and with GnuPG 2.2, side by
// side in one run. Each step runs in a process of its own under /usr/bin/time, so every peak RSS is that
// step's alone. Files live in /dev/shm when it exists, and plaintext goes to /dev/null, so the disk does not
// set the pace (gpg -d and openpgp.js then both run well above what /tmp on a VM disk writes).
// Usage: tsx bench/openpgp.ts [megabytes]
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { generateKeyPair, readPrivateKey, readPublicKey } from '../src/openpgp/keys.js';
import { openStream } from '../src/openpgp/open.js';
import { sealStream } from '../src/openpgp/seal.js';

// Read files in 1 MiB chunks: openpgp.js has a per-chunk cost, and 64 KiB reads make open ~25% slower.
const chunkBytes = 1024 * 1024;
const thisFile = fileURLToPath(import.meta.url);

interface StepResult {
  name: string;
  wallMs: number;
  peakRssKb: number;
  /** Time measured inside our child, without Node and tsx starting up. */
  innerMs?: number;
}

/** The child side: one step, reporting its own streaming time on stdout. */
async function runStep(step: 'seal' | 'open', dir: string, input: string, output: string): Promise<void> {
  const started = performance.now();
  if (step === 'seal') {
    const encryptionKeys = await readPublicKey(await readFile(join(dir, 'centre.pub'), 'utf8'), 'centre.pub', 'encrypt');
    const signingKey = await readPrivateKey(await readFile(join(dir, 'geo.sec'), 'utf8'), 'geo.sec', undefined, 'sign');
    await pipeline(createReadStream(input, { highWaterMark: chunkBytes }), (plain) => sealStream(plain, { encryptionKeys, signingKey }), createWriteStream(output));
  } else {
    const decryptionKeys = await readPrivateKey(await readFile(join(dir, 'centre.sec'), 'utf8'), 'centre.sec', undefined, 'decrypt');
    const expectedSigningKeys = await readPublicKey(await readFile(join(dir, 'geo.pub'), 'utf8'), 'geo.pub', 'verify');
    const opened = openStream(createReadStream(input, { highWaterMark: chunkBytes }), { decryptionKeys, expectedSigningKeys, label: input });
    await pipeline(opened, createWriteStream(output));
    await opened.verified;
  }
  process.stdout.write(JSON.stringify({ innerMs: performance.now() - started }));
}

async function timed(name: string, command: string, args: string[]): Promise<StepResult> {
  const started = performance.now();
  // %M: the child's peak resident set size in KB; printed last on stderr.
  const result = await execa('/usr/bin/time', ['-f', 'peak-rss-kb %M', command, ...args], { reject: false });
  const wallMs = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`${name} failed (${result.exitCode}): ${String(result.stderr)}`);
  const peakRssKb = Number(/peak-rss-kb (\d+)/.exec(String(result.stderr))?.[1]);
  const inner = String(result.stdout).startsWith('{') ? (JSON.parse(String(result.stdout)) as { innerMs: number }) : {};
  return { name, wallMs, peakRssKb, ...inner };
}

async function writeRandomFile(path: string, totalBytes: number): Promise<void> {
  async function* chunks() {
    for (let written = 0; written < totalBytes; written += chunkBytes) yield randomBytes(Math.min(chunkBytes, totalBytes - written));
  }
  await pipeline(chunks(), createWriteStream(path));
}

async function main(): Promise<void> {
  const megabytes = Number(process.argv[2] ?? 500);
  const dir = await mkdtemp(join(workRoot(), 'bench-openpgp-'));
  const gnupgHome = join(dir, 'gnupg');
  const gpg = ['--batch', '--homedir', gnupgHome, '--trust-model', 'always', '--yes'];
  try {
    const data = join(dir, 'data.bin');
    await writeRandomFile(data, megabytes * 1024 * 1024);
    const centre = await generateKeyPair({ name: 'Centre', email: 'centre@example.test' });
    const geo = await generateKeyPair({ name: 'GEO one', email: 'geo1@example.test' });
    await writeFile(join(dir, 'centre.pub'), centre.publicKeyArmored);
    await writeFile(join(dir, 'centre.sec'), centre.privateKeyArmored);
    await writeFile(join(dir, 'geo.pub'), geo.publicKeyArmored);
    await writeFile(join(dir, 'geo.sec'), geo.privateKeyArmored);
    await execa('mkdir', ['-m', '700', gnupgHome]);
    await execa('gpg', [...gpg, '--import', join(dir, 'centre.sec'), join(dir, 'geo.sec')]);

    const node = (step: string, input: string, output: string) => [
      '--import', 'tsx', thisFile, '--step', step, dir, join(dir, input), output.startsWith('/') ? output : join(dir, output),
    ];
    const gpgSeal = [...gpg, '--compress-algo', 'none', '-r', 'centre@example.test', '-u', 'geo1@example.test'];
    const steps: StepResult[] = [];
    steps.push(await timed('openpgp.js seal (encrypt+sign)', process.execPath, node('seal', 'data.bin', 'ours.pgp')));
    steps.push(await timed('gpg --encrypt --sign', 'gpg', [...gpgSeal, '-o', join(dir, 'gpg.pgp'), '--encrypt', '--sign', data]));
    // Both sides verify the signature and MDC and fail the step otherwise, so /dev/null loses no check.
    steps.push(await timed('openpgp.js open (ours)', process.execPath, node('open', 'ours.pgp', '/dev/null')));
    steps.push(await timed('gpg --decrypt (gpg-made)', 'gpg', [...gpg, '-o', '/dev/null', '--decrypt', join(dir, 'gpg.pgp')]));
    steps.push(await timed('openpgp.js open (gpg-made)', process.execPath, node('open', 'gpg.pgp', '/dev/null')));
    steps.push(await timed('gpg --decrypt (ours)', 'gpg', [...gpg, '-o', '/dev/null', '--decrypt', join(dir, 'ours.pgp')]));
    printTable(megabytes, steps);
  } finally {
    await execa('gpgconf', ['--homedir', gnupgHome, '--kill', 'all'], { reject: false });
    await rm(dir, { recursive: true, force: true });
  }
}

function workRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

function printTable(megabytes: number, steps: StepResult[]): void {
  console.log(`openpgp bench: ${megabytes} MB of random data, Node ${process.version}, files in ${workRoot()}, plaintext to /dev/null`);
  console.log('step                              wall s   MB/s  (w/o startup)  peak RSS MB');
  for (const step of steps) {
    const rate = (ms: number) => (megabytes / (ms / 1000)).toFixed(0).padStart(5);
    const inner = step.innerMs === undefined ? '             ' : `(${rate(step.innerMs)} MB/s)`;
    console.log(
      `${step.name.padEnd(32)} ${(step.wallMs / 1000).toFixed(2).padStart(7)} ${rate(step.wallMs)}  ${inner} ${(step.peakRssKb / 1024).toFixed(0).padStart(8)}`,
    );
  }
}

if (process.argv[2] === '--step') {
  const [step, dir, input, output] = process.argv.slice(3) as ['seal' | 'open', string, string, string];
  await runStep(step, dir, input, output);
} else {
  await main();
}
