// The one way into a GEO's inbox directory. Its SFTP account can make symbolic links there (to /dev/zero,
// to the centre's private key), FIFOs and directories, and may swap the directory itself for a link. So
// the directory is opened without following links and every name in it is reached through that open
// descriptor (/proc/self/fd/N/name: Node has no openat), and a file is read only when, opened with
// O_NOFOLLOW (a link is an error, not a detour) and O_NONBLOCK (a FIFO cannot block the open), fstat on
// the descriptor says it is a regular file. Anything else is refused unread.
import { createHash } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export class InboxRefusal extends Error {
  override name = 'InboxRefusal';
  /** False when the GEO's directory itself is not a plain directory: nothing in it may be moved either. */
  readonly movable: boolean;

  constructor(message: string, movable: boolean) {
    super(message);
    this.movable = movable;
  }
}

export interface GeoInboxDir {
  /** `<inbox>/<geo>`, for messages. */
  readonly path: string;
  /** A path to `name` through the open directory: a link put in place of the directory is not followed. */
  at(name: string): string;
  close(): Promise<void>;
}

export interface InboxFile {
  readonly size: number;
  /** The whole file from its first byte; the handle stays open for the next read. */
  read(): Readable;
  close(): Promise<void>;
}

// Without /proc (not Linux, or not mounted) names are joined to the checked path: a directory swapped for a
// link between the check and the open is then not caught, the rest still is.
const throughDescriptor = existsSync('/proc/self/fd');

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException).code;

function checkName(name: string, what: string): void {
  if (name === '' || name === '.' || name === '..' || /[/\0]/.test(name)) throw new InboxRefusal(`${what} ${JSON.stringify(name)} is not a plain file name`, false);
}

/** The GEO's inbox directory, opened without following a link; undefined when there is none. */
export async function openGeoInboxDir(inboxRoot: string, geo: string): Promise<GeoInboxDir | undefined> {
  checkName(geo, 'the GEO name');
  const path = join(inboxRoot, geo);
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    if (codeOf(error) === 'ELOOP' || codeOf(error) === 'ENOTDIR') {
      throw new InboxRefusal(`the inbox directory of GEO ${geo} is a symbolic link or not a directory; nothing in it is read or moved`, false);
    }
    throw error;
  }
  return {
    path,
    at(name) {
      checkName(name, 'the file name');
      return throughDescriptor ? `/proc/self/fd/${handle.fd}/${name}` : join(path, name);
    },
    close: () => handle.close(),
  };
}

/**
 * The file from its first byte by positional reads, leaving the handle open: Node 20's
 * FileHandle.createReadStream closes the handle when the stream is destroyed, autoClose or not, and a
 * delivery is read more than once (sha256, decrypt, the verdict on a damaged one).
 */
function readFromStart(handle: FileHandle, chunkBytes = 1024 * 1024): Readable {
  let position = 0;
  return new Readable({
    highWaterMark: chunkBytes,
    read() {
      const chunk = Buffer.allocUnsafe(chunkBytes);
      handle.read(chunk, 0, chunkBytes, position).then(
        ({ bytesRead }) => {
          position += bytesRead;
          this.push(bytesRead === 0 ? null : chunk.subarray(0, bytesRead));
        },
        (error: unknown) => this.destroy(error as Error),
      );
    },
  });
}

/** What fstat says a non-regular file is, for the refusal. */
export function kindOf(stats: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/**
 * Opens `name` in `dir` for reading if it is a regular file; undefined when it is not there. A link, FIFO,
 * socket, device or directory is an InboxRefusal, its message naming only what the entry is: nothing of
 * a link's target (not its size, not its hash) may reach the GEO.
 */
export async function openRegularFile(dir: GeoInboxDir, name: string): Promise<InboxFile | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(dir.at(name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    if (codeOf(error) === 'ELOOP') throw new InboxRefusal(`${name} is a symbolic link; the inbox takes regular files only and never follows a link`, true);
    if (codeOf(error) === 'ENXIO') throw new InboxRefusal(`${name} is a socket; the inbox takes regular files only`, true);
    throw error;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new InboxRefusal(`${name} is ${kindOf(stats)}; the inbox takes regular files only`, true);
    return {
      size: stats.size,
      read: () => readFromStart(handle),
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** `<inbox>/<geo>/<name>` opened as openRegularFile does; undefined when the directory or the file is not there. */
export async function openInboxFile(inboxRoot: string, geo: string, name: string): Promise<InboxFile | undefined> {
  const dir = await openGeoInboxDir(inboxRoot, geo);
  if (!dir) return undefined;
  try {
    return await openRegularFile(dir, name);
  } finally {
    await dir.close();
  }
}

/** The sha256 of the whole file, read from its first byte (stopped by `signal`). */
export async function sha256Of(file: InboxFile, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(file.read(), hash, ...(signal ? [{ signal }] : []));
  return hash.digest('hex');
}
