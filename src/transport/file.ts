// A directory on this machine: the central inbox when the centre is the same host, and the file archive.
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { failedError, GanymedeError, messageOf, refusedError } from '../errors.js';
import {
  checkName,
  checkPrefix,
  checkPutSize,
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

const fileMode = 0o600;
const dirMode = 0o700;

export class FileTransport implements Transport {
  private readonly root: string;

  constructor(root: string) {
    if (!path.isAbsolute(root)) throw new TypeError(`FileTransport needs an absolute directory, not ${root}`);
    this.root = path.resolve(root);
  }

  describe(): string {
    return pathToFileURL(this.root).href;
  }

  async put(name: string, source: PutSource, options?: PutOptions): Promise<PutResult> {
    const final = this.pathOf(checkName(name));
    const part = `${final}${partSuffix}`;
    const counted = new CountedSource(source);
    let handle: FileHandle | undefined;
    try {
      await this.makeDirs(path.dirname(final));
      // O_TRUNC reuses a .part a failed put left behind; chmod because an existing file keeps its old mode.
      handle = await open(part, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, fileMode);
      await handle.chmod(fileMode);
      for await (const chunk of counted.chunks()) await handle.write(chunk);
      // Without fsync a crash after the rename can leave the final name on an empty or short file.
      await handle.sync();
      await handle.close();
      handle = undefined;
      checkPutSize(this.describe(), name, counted.bytes, (await stat(part)).size, options);
      await rename(part, final);
      await this.syncDir(path.dirname(final));
      return { size: counted.bytes };
    } catch (error) {
      if (handle) await quietly(() => handle!.close());
      await quietly(() => rm(part, { force: true }));
      if (counted.sourceError !== undefined) throw counted.sourceError;
      throw this.mapError(error, `store ${name}`, part);
    }
  }

  async stat(name: string): Promise<TransportStat | undefined> {
    const file = this.pathOf(checkName(name));
    try {
      const info = await stat(file);
      return info.isFile() ? { size: info.size, modifiedAt: info.mtime } : undefined;
    } catch (error) {
      if (codeOf(error) === 'ENOENT' || codeOf(error) === 'ENOTDIR') return undefined;
      throw this.mapError(error, `look up ${name}`, file);
    }
  }

  async list(prefix = ''): Promise<TransportEntry[]> {
    checkPrefix(prefix);
    const entries: TransportEntry[] = [];
    const walk = async (relativeDir: string): Promise<void> => {
      const dir = relativeDir ? this.pathOf(relativeDir) : this.root;
      let names;
      try {
        names = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (codeOf(error) === 'ENOENT' || codeOf(error) === 'ENOTDIR') return;
        throw this.mapError(error, 'list files', dir);
      }
      for (const entry of names) {
        const name = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
        if (!name.startsWith(prefix) && !prefix.startsWith(`${name}/`)) continue;
        if (entry.isDirectory()) await walk(name);
        else if (entry.isFile() && !isPartName(name)) {
          // A file removed between readdir and stat is simply not listed.
          const info = await this.stat(name).catch(() => undefined);
          if (info) entries.push({ name, ...info });
        }
      }
    };
    await walk(prefixDir(prefix));
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async get(name: string): Promise<Readable> {
    const file = this.pathOf(checkName(name));
    let handle: FileHandle;
    try {
      // Opened here so that a missing file fails get() itself, not the first read of the stream.
      handle = await open(file, 'r');
    } catch (error) {
      if (codeOf(error) === 'ENOENT') throw failedError(`${this.describe()}: there is no ${name} to read`, 'check the name, or whether it was removed');
      throw this.mapError(error, `read ${name}`, file);
    }
    return handle.createReadStream();
  }

  async remove(name: string): Promise<void> {
    const file = this.pathOf(checkName(name));
    try {
      await rm(file, { force: true });
    } catch (error) {
      throw this.mapError(error, `remove ${name}`, file);
    }
  }

  async close(): Promise<void> {
    // Nothing stays open between calls.
  }

  private pathOf(name: string): string {
    return path.join(this.root, ...name.split('/'));
  }

  private async makeDirs(dir: string): Promise<void> {
    // recursive mkdir applies the mode only to the dirs it creates, which is what we want.
    await mkdir(dir, { recursive: true, mode: dirMode });
  }

  /** Makes the rename itself durable: it lives in the directory, not in the file. */
  private async syncDir(dir: string): Promise<void> {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } catch (error) {
      // Some filesystems (and all of Windows) cannot fsync a directory; the file itself is synced.
      if (!['EINVAL', 'EISDIR', 'EPERM', 'ENOTSUP'].includes(codeOf(error) ?? '')) throw error;
    } finally {
      await handle.close();
    }
  }

  private mapError(error: unknown, action: string, file: string): GanymedeError {
    if (error instanceof GanymedeError) return error;
    const code = codeOf(error);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      return refusedError(`${this.describe()}: could not ${action}: permission denied on ${file}`, `check the owner and mode of ${path.dirname(file)}`);
    }
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      return failedError(`${this.describe()}: could not ${action}: no space left for ${file}`, 'free some space and send again');
    }
    if (code === 'ENOTDIR' || code === 'EISDIR') {
      return failedError(`${this.describe()}: could not ${action}: ${file} or one of its parents is not what it should be (${code})`, 'a file stands where a directory is needed, or the other way round');
    }
    return failedError(`${this.describe()}: could not ${action} (${file}): ${messageOf(error)}`);
  }
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
