/**
 * Glue only: parsers of /proc/PID/fdinfo/N (offset, flags, mount id, locks, inotify watches, epoll
 * registrations) and /proc/locks, and the mount id of any path, for src/proc/. Typed results, no decisions.
 */
import { closeSync, openSync } from 'node:fs';
import { devKeyOfHex, devKeyOfKernel, slurp, type DevKey } from './procfs.ts';

const O_PATH = 0o10000000;

export interface LockLine {
  /** FLOCK, POSIX, OFDLCK (or DELEG, LEASE) */
  kind: string;
  access: 'READ' | 'WRITE' | string;
  pid: number;
  dev: DevKey;
  ino: string;
  start: number;
  /** null = to end of file */
  end: number | null;
}

/** "1: POSIX  ADVISORY  WRITE 1234 00:2e:5 0 EOF"; blocked waiters ("1: -> ...") are not locks held. */
function parseLock(text: string): LockLine | undefined {
  const f = text.trim().split(/\s+/);
  if (f[1] === '->' || f.length < 8) return undefined;
  const id = f[5] ?? '';
  const cut = id.lastIndexOf(':');
  return {
    kind: f[1] ?? '',
    access: f[3] ?? '',
    pid: Number(f[4]),
    dev: devKeyOfHex(id.slice(0, cut)),
    ino: id.slice(cut + 1),
    start: Number(f[6]),
    end: f[7] === 'EOF' ? null : Number(f[7]),
  };
}

export interface InotifyWatch {
  wd: number;
  ino: string;
  dev: DevKey;
  mask: number;
  handleType: number;
  /** file handle bytes, hex */
  handle: string;
}

export interface EpollTarget {
  tfd: number;
  events: number;
  /** epoll_data as 16 hex digits */
  data: string;
}

export interface FdInfo {
  pos: number;
  /** f_flags in octal notation from the kernel, O_CLOEXEC included when set on the fd */
  flags: number;
  mntId: number;
  ino: string;
  locks: LockLine[];
  inotify: InotifyWatch[];
  epoll: EpollTarget[];
}

function kv(line: string, key: string): string {
  const m = new RegExp(`${key}:\\s*([0-9a-fA-F]+)`).exec(line);
  return m?.[1] ?? '0';
}

export function readFdInfo(base: string, fd: number): FdInfo | undefined {
  const text = slurp(`${base}/fdinfo/${fd}`);
  if (text === undefined) return undefined;
  const info: FdInfo = { pos: 0, flags: 0, mntId: -1, ino: '', locks: [], inotify: [], epoll: [] };
  for (const line of text.split('\n')) {
    if (line.startsWith('pos:')) info.pos = Number(line.slice(4).trim());
    else if (line.startsWith('flags:')) info.flags = parseInt(line.slice(6).trim(), 8);
    else if (line.startsWith('mnt_id:')) info.mntId = Number(line.slice(7).trim());
    else if (line.startsWith('ino:')) info.ino = line.slice(4).trim();
    else if (line.startsWith('lock:')) {
      const lock = parseLock(line.slice(5));
      if (lock) info.locks.push(lock);
    } else if (line.startsWith('inotify wd:')) {
      info.inotify.push({
        wd: parseInt(kv(line, 'wd'), 10),
        ino: String(BigInt(`0x${kv(line, 'ino')}`)),
        dev: devKeyOfKernel(kv(line, 'sdev')),
        mask: parseInt(kv(line, ' mask'), 16),
        handleType: parseInt(kv(line, 'fhandle-type'), 16),
        handle: kv(line, 'f_handle'),
      });
    } else if (line.startsWith('tfd:')) {
      info.epoll.push({ tfd: parseInt(kv(line, 'tfd'), 10), events: parseInt(kv(line, 'events'), 16), data: kv(line, 'data').padStart(16, '0') });
    }
  }
  return info;
}

export function readLocks(): LockLine[] {
  const out: LockLine[] = [];
  for (const line of (slurp('/proc/locks') ?? '').split('\n')) {
    const lock = line ? parseLock(line) : undefined;
    if (lock) out.push(lock);
  }
  return out;
}


/** The mount id of what a path (often a /proc magic link) refers to: open it O_PATH, read our fdinfo. */
export function mntIdOf(path: string | Buffer): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, O_PATH);
  } catch {
    return undefined;
  }
  try {
    return readFdInfo('/proc/self', fd)?.mntId;
  } finally {
    closeSync(fd);
  }
}

