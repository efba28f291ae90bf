// An SFTP server: the central inbox, Glassbeam's feed server and the sftp archive. One SSH session per
// transport, opened on first use and opened again after the connection is lost, so the retry wrapper
// only has to call the same method again.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ServerHostKeyAlgorithm } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import { ExitCode } from '../exit-codes.js';
import { configError, failedError, messageOf, refusedError } from '../errors.js';
import {
  checkName,
  checkPrefix,
  checkPutSize,
  coalesce,
  CountedSource,
  isPartName,
  partSuffix,
  prefixDir,
  quietly,
  type PutOptions,
  type PutResult,
  type PutSource,
  type Transport,
  type TransportEntry,
  type TransportStat,
} from './transport.js';
import { isConnectionLost, isMissing, loginError, operationError } from './sftp-errors.js';

export interface SftpTransportOptions {
  host: string;
  port: number;
  username: string;
  /** The directory files go to: absolute, or relative to the login directory. */
  root: string;
  privateKey: Buffer;
  /** How messages name the key (its file path); never the key itself. */
  privateKeyLabel?: string;
  /** `SHA256:…` as `ssh-keygen -l` prints it; when set, any other host key is refused. */
  hostKeyFingerprint?: string;
  /**
   * Or the host key itself as known_hosts has it, `ssh-ed25519 AAAA…` (a host name before and a comment
   * after are allowed): any other key is refused, and only keys of its type are negotiated.
   */
  hostPublicKey?: string;
  connectTimeoutMs?: number;
  /**
   * Mode of stored files, default 0600. A GEO's own chrooted inbox account needs 0640, so that the centre's
   * user reads the (encrypted) file through the directory's group; the client sets the mode explicitly,
   * so no server umask would do it.
   */
  fileMode?: number | undefined;
}

const defaultFileMode = 0o600;
const dirMode = 0o700;
const defaultConnectTimeoutMs = 20_000;
// ssh2's write stream keeps one write in flight per chunk it is given, and splits a big chunk into
// requests of the server's maximum (255 KiB for OpenSSH) sent at once: 64 KiB chunks from a file stream
// ran at 1.6 MB/s here, 1 MiB chunks at ~200 MB/s.
const uploadChunkBytes = 1024 * 1024;
// Likewise its read stream has one read of highWaterMark bytes in flight.
const downloadChunkBytes = 256 * 1024;
// Without keepalives a connection that dies silently (a NAT or firewall dropping it) hangs an upload forever.
const keepaliveIntervalMs = 10_000;
const keepaliveCountMax = 3;

/** The SHA256 fingerprint of a host key blob, as `ssh-keygen -l` prints it. */
export const fingerprintOfKey = (blob: Buffer) => `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;

/**
 * The key type a host key blob starts with, e.g. `ssh-ed25519`, if the blob is well formed: SSH strings
 * (a 4-byte length, then the bytes) that fill it exactly, so a line cut short is not taken for a key.
 */
function keyTypeOf(blob: Buffer): string | undefined {
  const fields: Buffer[] = [];
  for (let at = 0; at < blob.length; ) {
    if (at + 4 > blob.length) return undefined;
    const end = at + 4 + blob.readUInt32BE(at);
    if (end > blob.length) return undefined;
    fields.push(blob.subarray(at + 4, end));
    at = end;
  }
  return fields.length >= 2 && fields[0]!.length <= 64 ? fields[0]!.toString('latin1') : undefined;
}

/** A known_hosts-style line, checked: its type and fingerprint. A line that is not one is a config error. */
export function parseHostPublicKey(line: string): { keyType: string; fingerprint: string } {
  const fields = line.trim().split(/\s+/);
  const at = fields.findIndex((field) => /^(ssh-|ecdsa-|sk-)[a-z0-9@.-]+$/.test(field));
  const keyType = fields[at];
  const encoded = fields[at + 1];
  const blob = encoded && /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64') : undefined;
  if (at < 0 || at > 1 || fields[0]?.startsWith('@') || !keyType || !blob || keyTypeOf(blob) !== keyType) {
    throw configError(`the pinned host key "${line.trim().slice(0, 40)}…" is not a known_hosts line (\`ssh-ed25519 AAAA…\`)`, {
      hint: 'copy it from `ssh-keyscan -t ed25519 HOST` or the server\'s /etc/ssh/ssh_host_ed25519_key.pub, or give the SHA256:… fingerprint instead',
    });
  }
  return { keyType, fingerprint: fingerprintOfKey(blob) };
}

// The signature algorithms that use an RSA host key; other key types name their own algorithm.
const hostKeyAlgorithmsFor = (keyType: string) => (keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [keyType]) as ServerHostKeyAlgorithm[];

/** A login refused over the host key: both fingerprints, the key the server offers (to pin once confirmed), what to do. */
function hostKeyRefusal(address: string, error: unknown, pin: { fingerprint: string; keyType: string | undefined }, seen: Buffer | undefined): Error | undefined {
  const otherwise = 'otherwise treat the connection as intercepted';
  if (seen && fingerprintOfKey(seen) !== pin.fingerprint) {
    const [seenPrint, type] = [fingerprintOfKey(seen), keyTypeOf(seen) ?? 'unknown type'];
    return refusedError(
      `${address}: the server's host key is ${seenPrint}, not the pinned ${pin.fingerprint}; not connecting, nothing was sent`,
      `if the server's key was changed on purpose, confirm ${seenPrint} on the server (ssh-keygen -l -f /etc/ssh/ssh_host_*_key.pub) and pin it, or its line "${type} ${seen.toString('base64')}"; ${otherwise}`,
    );
  }
  if (pin.keyType && !seen && /no matching host key/i.test(messageOf(error))) {
    return refusedError(
      `${address}: the server has no ${pin.keyType} host key, the type of the pinned ${pin.fingerprint}; not connecting, nothing was sent`,
      `if its keys were replaced on purpose, confirm the new one on the server and pin that line; ${otherwise}`,
    );
  }
  return undefined;
}

interface Session {
  client: SftpClient;
  ready: Promise<void>;
}

export class SftpTransport implements Transport {
  private session: Session | undefined;
  private readonly address: string;
  /** The pinned host key, if any: from hostPublicKey, else hostKeyFingerprint. */
  private readonly pin: { fingerprint: string; keyType: string | undefined } | undefined;

  constructor(private readonly options: SftpTransportOptions) {
    const port = options.port === 22 ? '' : `:${options.port}`;
    const where = options.root.startsWith('/') ? options.root : `/~/${options.root}`;
    this.address = `sftp://${options.username}@${options.host}${port}${where}`;
    this.pin = options.hostPublicKey !== undefined ? parseHostPublicKey(options.hostPublicKey) : options.hostKeyFingerprint !== undefined ? { fingerprint: options.hostKeyFingerprint, keyType: undefined } : undefined;
  }

  describe(): string {
    return this.address;
  }

  async put(name: string, source: PutSource, options?: PutOptions): Promise<PutResult> {
    const remote = this.pathOf(checkName(name));
    const part = `${remote}${partSuffix}`;
    const counted = new CountedSource(source);
    try {
      return await this.run(`store ${name}`, part, async (client) => {
        if (name.includes('/')) await this.makeDirs(client, path.posix.dirname(name));
        // ssh2-sftp-client unpipes but never destroys a source whose upload failed: we do, so it is not left open.
        const readable = Readable.from(coalesce(counted.chunks(), uploadChunkBytes));
        try {
          // Without a mode ssh2 fchmods every new file to 0666, and a server umask does not apply to chmod.
          await client.put(readable, part, { writeStreamOptions: { mode: this.options.fileMode ?? defaultFileMode } });
          checkPutSize(this.address, name, counted.bytes, (await client.stat(part)).size, options);
          await this.replace(client, part, remote);
          return { size: counted.bytes };
        } catch (error) {
          // After a lost connection the .part stays; list() hides it and the next put() truncates it.
          if (!isConnectionLost(error)) await quietly(() => client.delete(part, true));
          throw error;
        } finally {
          readable.destroy();
        }
      });
    } catch (error) {
      if (counted.sourceError !== undefined) throw counted.sourceError;
      throw error;
    }
  }

  async stat(name: string): Promise<TransportStat | undefined> {
    const remote = this.pathOf(checkName(name));
    return this.run(`look up ${name}`, remote, async (client) => {
      try {
        const info = await client.stat(remote);
        return info.isFile ? { size: info.size, modifiedAt: new Date(info.modifyTime) } : undefined;
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    });
  }

  async list(prefix = ''): Promise<TransportEntry[]> {
    checkPrefix(prefix);
    return this.run('list files', this.options.root, async (client) => {
      const entries: TransportEntry[] = [];
      const walk = async (relativeDir: string): Promise<void> => {
        let found: SftpClient.FileInfo[];
        try {
          found = await client.list(relativeDir ? this.pathOf(relativeDir) : this.options.root);
        } catch (error) {
          if (isMissing(error)) return;
          throw error;
        }
        for (const entry of found) {
          const name = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
          if (!name.startsWith(prefix) && !prefix.startsWith(`${name}/`)) continue;
          if (entry.type === 'd') await walk(name);
          else if (entry.type === '-' && !isPartName(name)) entries.push({ name, size: entry.size, modifiedAt: new Date(entry.modifyTime) });
        }
      };
      await walk(prefixDir(prefix));
      return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  async get(name: string): Promise<Readable> {
    const remote = this.pathOf(checkName(name));
    return this.run(`read ${name}`, remote, async (client) => {
      // Checked first: a read stream reports a missing file only once it is read.
      const exists = await client.exists(remote);
      if (exists !== '-') throw failedError(`${this.address}: there is no ${name} to read`, 'check the name, or whether it was removed');
      const stream = client.createReadStream(remote, { highWaterMark: downloadChunkBytes });
      // The handle is closed after 'end', when nobody listens any more: a session ended meanwhile fails
      // that close ("No response from server"), which would otherwise be an uncaught error. Errors while
      // reading still reach the reader through the iterator's own listener.
      stream.on('error', () => {});
      return Readable.from(this.mapStreamErrors(stream, `read ${name}`, remote));
    });
  }

  async remove(name: string): Promise<void> {
    const remote = this.pathOf(checkName(name));
    await this.run(`remove ${name}`, remote, (client) => client.delete(remote, true));
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session) await quietly(() => session.client.end());
  }

  private pathOf(name: string): string {
    return path.posix.join(this.options.root, name);
  }

  /** Runs one operation on the session, mapping what failed to one line, and drops a lost session. */
  private async run<T>(action: string, remotePath: string, operation: (client: SftpClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      return await operation(client);
    } catch (error) {
      const mapped = operationError(error, this.address, action, remotePath);
      if (mapped.exitCode === ExitCode.unreachable) await this.drop(client);
      throw mapped;
    }
  }

  private async connect(): Promise<SftpClient> {
    if (!this.session) {
      // A client whose connect() failed is not reusable: every attempt gets a new one.
      const client: SftpClient = new SftpClient('ganymede', {
        // Replaces the library's default, which prints to the console; a lost session is dropped instead.
        error: () => {},
        end: () => this.forget(client),
        close: () => this.forget(client),
      });
      this.session = { client, ready: this.login(client) };
    }
    const session = this.session;
    try {
      await session.ready;
      return session.client;
    } catch (error) {
      await this.drop(session.client);
      throw error;
    }
  }

  private async login(client: SftpClient): Promise<void> {
    const { host, port, username, privateKey } = this.options;
    const pin = this.pin;
    let seen: Buffer | undefined;
    try {
      await client.connect({
        host,
        port,
        username,
        privateKey,
        readyTimeout: this.options.connectTimeoutMs ?? defaultConnectTimeoutMs,
        keepaliveInterval: keepaliveIntervalMs,
        keepaliveCountMax,
        // A server has a key of each type; asking for the pinned type makes it show that one.
        ...(pin?.keyType ? { algorithms: { serverHostKey: hostKeyAlgorithmsFor(pin.keyType) } } : {}),
        hostVerifier: (key: Buffer) => {
          seen = key;
          return pin === undefined || fingerprintOfKey(key) === pin.fingerprint;
        },
      });
    } catch (error) {
      await quietly(() => client.end());
      const refusal = pin && hostKeyRefusal(this.address, error, pin, seen);
      if (refusal) throw refusal;
      const seenHostKey = seen && fingerprintOfKey(seen);
      const keyLabel = this.options.privateKeyLabel;
      throw loginError(error, { address: this.address, username, host, port, keyLabel, pinnedHostKey: pin?.fingerprint, seenHostKey });
    }
    // Nagle's algorithm against the server's delayed ACKs stalled every SFTP request ~40 ms: uploads
    // crawled at 1.6 MB/s on loopback until this was set. ssh2-sftp-client does not type its ssh2 Client.
    (client as unknown as { client: { setNoDelay(noDelay: boolean): void } }).client.setNoDelay(true);
  }

  private forget(client: SftpClient): void {
    if (this.session?.client === client) this.session = undefined;
  }

  private async drop(client: SftpClient): Promise<void> {
    this.forget(client);
    await quietly(() => client.end());
  }

  /** posix-rename@openssh.com replaces the target in one step; plain SFTP rename refuses an existing target. */
  private async replace(client: SftpClient, from: string, to: string): Promise<void> {
    try {
      await client.posixRename(from, to);
    } catch (error) {
      if (!/does not support this extended request/i.test(messageOf(error))) throw error;
      // A server without the extension: readers may briefly see no file, but never a partial one.
      await client.delete(to, true);
      await client.rename(from, to);
    }
  }

  /** Creates the directories of a nested name below the root, 0700 whatever the server's umask. */
  private async makeDirs(client: SftpClient, relativeDir: string): Promise<void> {
    let dir = this.options.root;
    for (const segment of relativeDir.split('/')) {
      dir = path.posix.join(dir, segment);
      if (await client.exists(dir)) continue;
      try {
        await client.mkdir(dir);
        await client.chmod(dir, dirMode);
      } catch (error) {
        // Another upload may have made it in the meantime.
        if ((await client.exists(dir)) !== 'd') throw error;
      }
    }
  }

  private async *mapStreamErrors(stream: Readable, action: string, remotePath: string): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (error) {
      throw operationError(error, this.address, action, remotePath);
    }
  }
}
