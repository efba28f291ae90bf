// The SFTP server of the test rig: OpenSSH's real sshd (internal-sftp), one per call, each from a config
// of its own in a fresh temp dir on 127.0.0.1 and a free port, so the SFTP transport meets the server
// it meets in production. As root, logins are an unprivileged sftp-only user chroot'd to a root-owned
// dir with one writable subdir; otherwise the current user, without chroot.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, chmod, chown, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { findFreePort } from './net.js';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';

const run = promisify(execFile);
const sshdPath = '/usr/sbin/sshd';
// Every component of a ChrootDirectory must be root-owned and not group/world-writable: /tmp (1777) fails.
const chrootBaseDir = '/var/lib/ganymede-test-rig';
export const sftpTestUser = 'ganymede-test';
const readyTimeoutMs = 10_000;
const stopTimeoutMs = 5_000;
const keptLogLines = 200;
const writableMode = 0o755;
const readOnlyMode = 0o555;

export interface UserKey {
  privateKeyPath: string;
  privateKey: Buffer;
  /** The `ssh-ed25519 AAAA… comment` line, as authorized_keys takes it. */
  publicKey: string;
}

export interface SshdOptions {
  /** Log in with this key instead of a freshly generated one. */
  userKey?: UserKey;
  /** More public key lines the login user is allowed in with. */
  authorizedKeys?: string[];
  /** Start with the writable dir read-only (chmod 0555), for "SFTP refuses the path" tests. */
  readOnly?: boolean;
}

export interface SshdServer {
  host: string;
  port: number;
  username: string;
  privateKeyPath: string;
  privateKey: Buffer;
  publicKey: string;
  /** `SHA256:…` as `ssh-keygen -l` prints it. */
  hostKeyFingerprint: string;
  /** The `ssh-ed25519 AAAA…` line of the host key, as known_hosts takes it (without the host). */
  hostPublicKey: string;
  /** sshd's config file; its path is on the listener's command line (pgrep -f). */
  configPath: string;
  /** The identification line the server sent, e.g. `SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3`. */
  banner: string;
  /** The writable dir as the client sees it (`/inbox` under chroot); sessions also start in it. */
  root: string;
  chrooted: boolean;
  /** Where a remote path (absolute, or relative to `root`) lives on this machine's filesystem. */
  localPath(remotePath: string): string;
  /** host, port, username and privateKey, for ssh2-sftp-client's connect(). */
  connectOptions(): { host: string; port: number; username: string; privateKey: Buffer };
  authorizeKey(publicKey: string): Promise<void>;
  setReadOnly(readOnly: boolean): Promise<void>;
  /** sshd's last log lines. */
  logs(): string;
  /** Kills sshd and its sessions, waits for them to exit, removes the dirs. */
  stop(): Promise<void>;
}

/** Makes an ed25519 key pair (OpenSSH format, no passphrase, 0600) that ssh2 can parse. */
export async function createUserKey(dir: string, name = 'user_ed25519'): Promise<UserKey> {
  const privateKeyPath = path.join(dir, name);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@ganymede-test-rig`, '-f', privateKeyPath]);
  const privateKey = await readFile(privateKeyPath);
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error(`test rig: ssh2 cannot parse the key ssh-keygen made: ${parsed.message}`);
  return { privateKeyPath, privateKey, publicKey: (await readFile(`${privateKeyPath}.pub`, 'utf8')).trim() };
}

export async function startSshd(options: SshdOptions = {}): Promise<SshdServer> {
  if (!existsSync(sshdPath)) {
    throw new Error(`test rig: ${sshdPath} not found; install OpenSSH's server (apt-get install openssh-server)`);
  }
  const login = process.getuid?.() === 0 ? await ensureTestUser() : undefined;
  const dirs = await makeDirs(login, options.readOnly ?? false);
  try {
    return await launch(dirs, login?.name ?? os.userInfo().username, options);
  } catch (error) {
    removeDirs(dirs);
    throw error;
  }
}

interface ServerDirs {
  /** Config, keys, authorized_keys, pid file. */
  configDir: string;
  /** The chroot when chrooted; otherwise the writable dir's read-only parent. */
  sftpDir: string;
  writableDir: string;
  chrooted: boolean;
  /** writableDir as the client sees it. */
  root: string;
}

async function makeDirs(login: TestUser | undefined, readOnly: boolean): Promise<ServerDirs> {
  // authorized_keys is opened with the login user's uid, so its dir must be traversable.
  const configDir = await mkdtemp(path.join(os.tmpdir(), 'ganymede-sshd-'));
  await chmod(configDir, 0o711);
  let dirs: ServerDirs;
  if (login) {
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    await mkdir(chrootBaseDir, { recursive: true, mode: 0o755 });
    const sftpDir = await mkdtemp(path.join(chrootBaseDir, 'sftp-'));
    await chmod(sftpDir, 0o755);
    dirs = { configDir, sftpDir, writableDir: path.join(sftpDir, 'inbox'), chrooted: true, root: '/inbox' };
    await mkdir(dirs.writableDir, { mode: writableMode });
    await chown(dirs.writableDir, login.uid, login.gid);
  } else {
    const sftpDir = path.join(configDir, 'sftp');
    const writableDir = path.join(sftpDir, 'inbox');
    dirs = { configDir, sftpDir, writableDir, chrooted: false, root: writableDir };
    await mkdir(writableDir, { recursive: true, mode: writableMode });
    // The parent is the user's own: read-only, so "outside the writable dir" is refused here too.
    await chmod(sftpDir, readOnlyMode);
  }
  if (readOnly) await chmod(dirs.writableDir, readOnlyMode);
  return dirs;
}

function localPathIn(dirs: ServerDirs, remotePath: string): string {
  const absolute = path.posix.resolve(dirs.root, remotePath);
  return dirs.chrooted ? path.join(dirs.sftpDir, absolute) : absolute;
}

async function launch(dirs: ServerDirs, username: string, options: SshdOptions): Promise<SshdServer> {
  const { configDir } = dirs;
  const hostKeyPath = path.join(configDir, 'host_ed25519_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ganymede-test-rig-host', '-f', hostKeyPath]);
  const hostPublicKey = (await readFile(`${hostKeyPath}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
  const { stdout: fingerprintLine } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKeyPath}.pub`]);
  const userKey = options.userKey ?? (await createUserKey(configDir));
  const authorizedKeysPath = path.join(configDir, 'authorized_keys');
  const authorized = [userKey.publicKey, ...(options.authorizedKeys ?? [])];
  await writeFile(authorizedKeysPath, authorized.map((line) => `${line.trim()}\n`).join(''), { mode: 0o644 });

  const configPath = path.join(configDir, 'sshd_config');
  const logLines: string[] = [];
  const logs = () => logLines.join('\n');
  let started: { child: ChildProcess; port: number; banner: string } | undefined;
  // A free port found by listening on 0 can be taken by someone else before sshd binds it: try again.
  for (let attempt = 1; !started; attempt++) {
    const port = await findFreePort();
    await writeFile(configPath, sshdConfig(dirs, port, username));
    const child = spawn(sshdPath, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    keepLines(child, logLines);
    try {
      started = { child, port, banner: await waitForBanner(child, port, logs) };
    } catch (error) {
      await killAndWait([child.pid ?? -1]);
      if (attempt >= 3 || !logs().includes('Address already in use')) throw error;
    }
  }
  const { child, port, banner } = started;
  const pid = child.pid!;
  liveSshds.set(pid, dirs);
  return {
    host: '127.0.0.1',
    port,
    username,
    privateKeyPath: userKey.privateKeyPath,
    privateKey: userKey.privateKey,
    publicKey: userKey.publicKey,
    hostKeyFingerprint: fingerprintLine.split(' ')[1] ?? '',
    hostPublicKey,
    configPath,
    banner,
    root: dirs.root,
    chrooted: dirs.chrooted,
    localPath: (remotePath) => localPathIn(dirs, remotePath),
    connectOptions: () => ({ host: '127.0.0.1', port, username, privateKey: userKey.privateKey }),
    authorizeKey: (publicKey) => appendFile(authorizedKeysPath, `${publicKey.trim()}\n`),
    setReadOnly: (readOnly) => chmod(dirs.writableDir, readOnly ? readOnlyMode : writableMode),
    logs,
    async stop() {
      // Each session is a forked sshd that outlives the listener and setsid()s away from its group.
      await killAndWait([pid, ...descendantsOf(pid)]);
      liveSshds.delete(pid);
      removeDirs(dirs);
    },
  };
}

function sshdConfig(dirs: ServerDirs, port: number, login: string): string {
  return [
    'ListenAddress 127.0.0.1',
    `Port ${port}`,
    `HostKey ${path.join(dirs.configDir, 'host_ed25519_key')}`,
    `PidFile ${path.join(dirs.configDir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${path.join(dirs.configDir, 'authorized_keys')}`,
    'StrictModes no',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin no',
    `AllowUsers ${login}`,
    'DisableForwarding yes',
    'LogLevel VERBOSE',
    // -u masks the mode a file is created with (ssh2 asks 0666); a later chmod by the client is not masked.
    'Subsystem sftp internal-sftp -u 077',
    `Match User ${login}`,
    ...(dirs.chrooted ? [`  ChrootDirectory ${dirs.sftpDir}`] : []),
    `  ForceCommand internal-sftp -u 077 -d ${dirs.root}`,
    '',
  ].join('\n');
}

interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

/**
 * The sftp-only login user, created once per machine (useradd writes it to /etc/passwd and /etc/shadow).
 * One creation per process: two concurrent useradds of the same name (two sshds started at once on a new
 * machine) once left a passwd entry whose uid changed after the first sshd had chowned its inbox to it.
 */
let testUser: Promise<TestUser> | undefined;
function ensureTestUser(): Promise<TestUser> {
  testUser ??= createTestUser();
  testUser.catch(() => (testUser = undefined));
  return testUser;
}

async function createTestUser(): Promise<TestUser> {
  const entryIn = (file: string) => readFileSync(file, 'utf8').split('\n').find((line) => line.startsWith(`${sftpTestUser}:`));
  for (let attempt = 1; ; attempt++) {
    const entry = entryIn('/etc/passwd');
    if (entry) {
      // sshd without PAM refuses even key logins to accounts whose password starts with "!" (locked).
      if (entryIn('/etc/shadow')?.split(':')[1]?.startsWith('!')) await run('usermod', ['-p', '*', sftpTestUser]);
      const [, , uid, gid] = entry.split(':');
      return { name: sftpTestUser, uid: Number(uid), gid: Number(gid) };
    }
    try {
      await run('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--password', '*', sftpTestUser]);
    } catch (error) {
      // Another test file may be creating it at the same moment (exit 9: exists; 1: /etc/passwd locked).
      if (attempt >= 5) throw new Error(`test rig: could not create user ${sftpTestUser}: ${(error as Error).message}`);
      await sleep(200);
    }
  }
}


function keepLines(child: ChildProcess, lines: string[]): void {
  child.on('error', (error) => lines.push(`spawn failed: ${error.message}`));
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (lines.push(line) > keptLogLines) lines.shift();
  });
}

/** Waits until the port answers with an SSH identification line; fails early if sshd exits. */
async function waitForBanner(child: ChildProcess, port: number, logs: () => string): Promise<string> {
  const deadline = Date.now() + readyTimeoutMs;
  const failure = (why: string) =>
    new Error(`test rig: sshd on 127.0.0.1:${port} ${why}; its last log lines:\n${logs().split('\n').slice(-20).join('\n')}`);
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw failure(`exited (${child.exitCode ?? child.signalCode})`);
    const banner = await readBanner(port).catch(() => undefined);
    if (banner?.startsWith('SSH-')) return banner;
    await sleep(100);
  }
  throw failure(`did not answer within ${readyTimeoutMs / 1000}s`);
}

function readBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = '';
    socket.setTimeout(2_000, () => socket.destroy(new Error('no banner')));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      const end = received.indexOf('\n');
      if (end >= 0) {
        socket.destroy();
        resolve(received.slice(0, end).trim());
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('closed before the banner')));
  });
}

function descendantsOf(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = Number(readProcStat(Number(name))?.[1]);
    if (ppid) children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const found: number[] = [];
  const walk = (pid: number) => (children.get(pid) ?? []).forEach((child) => (found.push(child), walk(child)));
  walk(rootPid);
  return found;
}

/** State and ppid from /proc/<pid>/stat (the fields after the parenthesised command name). */
function readProcStat(pid: number): [string, string] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state = '', ppid = ''] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [state, ppid];
  } catch {
    return undefined;
  }
}

// A zombie counts as gone: what reaps reparented sessions here may be a PID 1 that does not.
const isAlive = (pid: number) => pid > 0 && ![undefined, 'Z', 'X'].includes(readProcStat(pid)?.[0]);

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}

async function killAndWait(pids: number[]): Promise<void> {
  pids.filter(isAlive).forEach((pid) => signal(pid, 'SIGTERM'));
  const deadline = Date.now() + stopTimeoutMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(25);
  pids.filter(isAlive).forEach((pid) => signal(pid, 'SIGKILL'));
}

/** Removes what startSshd made; read-only dirs first get their write bit back, or a non-root rm fails. */
function removeDirs(dirs: ServerDirs): void {
  for (const dir of [dirs.sftpDir, dirs.writableDir]) if (existsSync(dir)) chmodSync(dir, writableMode);
  rmSync(dirs.configDir, { recursive: true, force: true });
  if (dirs.chrooted) rmSync(dirs.sftpDir, { recursive: true, force: true });
}

// A test file that dies without stop() must not leave listeners or dirs behind for the next run.
const liveSshds = new Map<number, ServerDirs>();
process.once('exit', () => {
  for (const [pid, dirs] of liveSshds) {
    signal(pid, 'SIGTERM');
    removeDirs(dirs);
  }
});
