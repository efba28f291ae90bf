// Shared by the OpenPGP tests: keys made once per file, payload generators, a throwaway GnuPG home.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import type { PrivateKey, PublicKey } from 'openpgp';
import { generateKeyPair, readPrivateKey, readPublicKey, type GeneratedKeyPair } from '../../src/openpgp/keys.js';
import { openStream, OpenPgpRefusal, type OpenedStream, type OpenOptions, type Verification } from '../../src/openpgp/open.js';

export interface TestParty {
  pair: GeneratedKeyPair;
  publicKey: PublicKey;
  privateKey: PrivateKey;
}

export async function makeParty(name: string, email?: string): Promise<TestParty> {
  const pair = await generateKeyPair(email ? { name, email } : { name });
  return {
    pair,
    publicKey: await readPublicKey(pair.publicKeyArmored, `${name}.pub`),
    privateKey: await readPrivateKey(pair.privateKeyArmored, `${name}.sec`),
  };
}

/** Incompressible bytes, produced on demand: the payload never exists as one buffer. */
export async function* randomChunks(totalBytes: number, chunkBytes = 64 * 1024): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < totalBytes; sent += chunkBytes) yield randomBytes(Math.min(chunkBytes, totalBytes - sent));
}

export function chunksOf(bytes: Uint8Array, chunkBytes = 64 * 1024): Readable {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += chunkBytes) chunks.push(bytes.subarray(at, at + chunkBytes));
  return Readable.from(chunks);
}

/** A sink that keeps only a hash and a count, so big payloads stay out of memory. */
export function hashingSink(): { sink: Writable; result: () => { sha256: string; bytes: number } } {
  const hash = createHash('sha256');
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback();
    },
  });
  return { sink, result: () => ({ sha256: hash.digest('hex'), bytes }) };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface OpenOutcome {
  plaintext: Buffer;
  verification?: Verification;
  error?: Error;
  /** Whether the plaintext stream emitted 'end' (it must not, when refused). */
  ended: boolean;
}

/** Opens a whole sealed buffer and reports what a caller would see, errors included. */
export async function openAll(sealed: Uint8Array, options: OpenOptions): Promise<OpenOutcome> {
  const opened: OpenedStream = openStream(chunksOf(sealed), options);
  let ended = false;
  opened.once('end', () => (ended = true));
  const parts: Buffer[] = [];
  try {
    await pipeline(opened, new Writable({ write: (chunk: Buffer, _e, cb) => (parts.push(chunk), cb()) }));
    return { plaintext: Buffer.concat(parts), verification: await opened.verified, ended };
  } catch (error) {
    const fromVerified = await opened.verified.then(() => undefined, (e: unknown) => e);
    if (!fromVerified) throw new Error(`the stream failed with ${String(error)} but verified resolved`);
    if (error instanceof OpenPgpRefusal && fromVerified !== error) {
      throw new Error(`verified rejected with ${String(fromVerified)}, the stream with ${String(error)}`);
    }
    return { plaintext: Buffer.concat(parts), error: error as Error, ended };
  }
}

/** GnuPG 2.2 in a throwaway home directory; `close()` stops its agent and removes the directory. */
export class GnuPg {
  private constructor(readonly home: string) {}

  static async create(): Promise<GnuPg> {
    // Short path under the system temp dir: gpg-agent's socket path must fit in 108 bytes.
    return new GnuPg(await mkdtemp(join(tmpdir(), 'gnupg-')));
  }

  async run(args: string[], input?: Uint8Array | string): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const result = await execa(
      'gpg',
      ['--batch', '--homedir', this.home, '--pinentry-mode', 'loopback', '--passphrase', '', ...args],
      { ...(input === undefined ? {} : { input }), reject: false },
    );
    return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? -1 };
  }

  async import(armored: string): Promise<void> {
    const { exitCode, stderr } = await this.run(['--import'], armored);
    if (exitCode !== 0) throw new Error(`gpg --import failed: ${stderr}`);
  }

  async writeTemp(name: string, bytes: Uint8Array | string): Promise<string> {
    const path = join(this.home, name);
    await writeFile(path, bytes);
    return path;
  }

  async close(): Promise<void> {
    await execa('gpgconf', ['--homedir', this.home, '--kill', 'all'], { reject: false });
    await rm(this.home, { recursive: true, force: true });
  }
}
