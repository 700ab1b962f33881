/**
 * Glue only: reads /proc for the process mechanism (src/proc/). Typed results; `undefined` when the process,
 * thread or fd vanished meanwhile (races are normal here, never errors). No decisions: what counts as "in
 * the tree" and what to do about it live in src/proc/. Paths are binary strings (one char per byte, latin1,
 * see src/util/bpath.ts). Devices are "major:minor" keys, whatever notation the /proc file uses.
 */
import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, statSync } from 'node:fs';


/** "major:minor", decimal. */
export type DevKey = string;

const scratch = Buffer.alloc(64 * 1024);

/** The whole of a small /proc file (open + read + close; /proc sizes are unknown in advance). */
export function slurp(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    let len = 0;
    const parts: string[] = [];
    for (;;) {
      const n = readSync(fd, scratch, len, scratch.length - len, null);
      len += n;
      if (n === 0 || len === scratch.length) {
        parts.push(scratch.toString('latin1', 0, len));
        if (n === 0) return parts.join('');
        len = 0;
      }
    }
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

export function devKey(major: bigint | number, minor: bigint | number): DevKey {
  return `${major}:${minor}`;
}

/** st_dev as userspace encodes it (glibc gnu_dev_major/minor). */
export function devKeyOfStat(dev: bigint): DevKey {
  return devKey(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn), (dev & 0xffn) | ((dev >> 12n) & ~0xffn));
}

/** "00:2e" (maps, /proc/locks): hex major:minor. */
export function devKeyOfHex(text: string): DevKey {
  const [a, b] = text.split(':');
  return devKey(parseInt(a ?? '', 16), parseInt(b ?? '', 16));
}

/** inotify fdinfo `sdev:` is the kernel-internal dev_t (MAJOR << 20 | MINOR), hex. */
export function devKeyOfKernel(hex: string): DevKey {
  const v = parseInt(hex, 16);
  return devKey(Math.floor(v / 0x100000), v % 0x100000);
}

export interface ProcStat {
  comm: string;
  state: string;
  ppid: number;
  flags: number;
  threads: number;
  /** clock ticks since boot: with the pid, the identity of a process */
  starttime: string;
}

/** `base` is /proc/PID or /proc/PID/task/TID. */
export function readStat(base: string): ProcStat | undefined {
  const text = slurp(`${base}/stat`);
  if (!text) return undefined;
  const close = text.lastIndexOf(')');
  const f = text.slice(close + 2).split(' ');
  return {
    comm: text.slice(text.indexOf('(') + 1, close),
    state: f[0] ?? '?',
    ppid: Number(f[1]),
    flags: Number(f[6]),
    threads: Number(f[17]),
    starttime: f[19] ?? '',
  };
}

export interface ProcStatus {
  tgid: number;
  tracerPid: number;
  /** 0 none, 1 strict, 2 filter */
  seccomp: number;
  uid: number;
}

export function readStatus(base: string): ProcStatus | undefined {
  const text = slurp(`${base}/status`);
  if (!text) return undefined;
  const field = (key: string): number => {
    const m = new RegExp(`^${key}:\\s*(-?\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { tgid: field('Tgid'), tracerPid: field('TracerPid'), seccomp: field('Seccomp'), uid: field('Uid') };
}

function numericEntries(dir: string): number[] {
  try {
    return readdirSync(dir)
      .filter((n) => n.charCodeAt(0) >= 48 && n.charCodeAt(0) <= 57)
      .map(Number);
  } catch {
    return [];
  }
}

export const listPids = (): number[] => numericEntries('/proc');

/** The most recently allocated pid in our pid namespace (last field of /proc/loadavg). */
export function lastPid(): number | undefined {
  const n = Number((slurp('/proc/loadavg') ?? '').trim().split(' ').pop());
  return Number.isFinite(n) ? n : undefined;
}
export const listTasks = (pid: number): number[] => numericEntries(`/proc/${pid}/task`);
export const listFds = (base: string): number[] => numericEntries(`${base}/fd`);

/**
 * /proc/PID, or /proc/PID/task/TID for one thread's view: its fd table, cwd, mm, namespaces and root are
 * per thread, and a leader that exited while other threads run on (a zombie) has none of them left.
 */
export function procDir(pid: number | 'self', tid?: number): string {
  return tid === undefined || tid === pid ? `/proc/${pid}` : `/proc/${pid}/task/${tid}`;
}

/** readlink(2) as a binary string. */
export function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path, { encoding: 'buffer' }).toString('latin1');
  } catch {
    return undefined;
  }
}

export interface FileId {
  dev: DevKey;
  ino: string;
  mode: number;
  nlink: number;
  size: number;
}

/** stat(2), following links (so /proc/PID/fd/N gives the open file itself). */
export function statId(path: string | Buffer): FileId | undefined {
  try {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (!st) return undefined;
    return { dev: devKeyOfStat(st.dev), ino: String(st.ino), mode: Number(st.mode), nlink: Number(st.nlink), size: Number(st.size) };
  } catch {
    return undefined;
  }
}

export interface MapLine {
  start: string;
  end: string;
  perms: string;
  dev: DevKey;
  ino: string;
  path: string;
}

/** File-backed mappings (inode ≠ 0), and the [vdso] start address (hex) if any; `tid`: through that thread. */
export function readMaps(pid: number, tid?: number): { maps: MapLine[]; vdso: string | null } {
  const text = slurp(`${procDir(pid, tid)}/maps`) ?? '';
  const maps: MapLine[] = [];
  let vdso: string | null = null;
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ (\S+) (\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    if (m[6] === '[vdso]') vdso = m[1] ?? null;
    if (m[5] === '0') continue;
    maps.push({ start: m[1] ?? '', end: m[2] ?? '', perms: m[3] ?? '', dev: devKeyOfHex(m[4] ?? ''), ino: m[5] ?? '', path: m[6] ?? '' });
  }
  return { maps, vdso };
}

/** Bound unix sockets of a network namespace (read through /proc/PID/net/unix): socket inode -> path. */
export function readUnixSockets(pid: number | 'self', tid?: number): Map<string, string> {
  const out = new Map<string, string>();
  const text = slurp(`${procDir(pid, tid)}/net/unix`) ?? '';
  for (const line of text.split('\n')) {
    const m = /^\s*\S+: \S+ \S+ \S+ \S+ \S+\s+(\d+) (\/.*)$/.exec(line);
    if (m) out.set(m[1] ?? '', m[2] ?? '');
  }
  return out;
}

/** Namespace identity ("mnt:[4026531841]"); `tid`: of that thread. */
export function nsId(pid: number | 'self', ns: 'mnt' | 'net', tid?: number): string | undefined {
  return readLink(`${procDir(pid, tid)}/ns/${ns}`);
}

/** ELF class of the executable: 1 = 32-bit, 2 = 64-bit. */
export function elfClass(pid: number, tid?: number): number | undefined {
  let fd: number;
  try {
    fd = openSync(`${procDir(pid, tid)}/exe`, 'r');
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.alloc(5);
    return readSync(fd, head, 0, 5, 0) === 5 && head.readUInt32BE(0) === 0x7f454c46 ? head[4] : undefined;
  } finally {
    closeSync(fd);
  }
}

export function readWchan(base: string): string {
  return slurp(`${base}/wchan`) ?? '';
}

/** A sysctl under /proc/sys as text, or undefined when absent (e.g. yama not built in). */
export function readSysctl(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${name}`, 'latin1').trim();
  } catch {
    return undefined;
  }
}

/** Where the cgroup v2 hierarchy and the v1 freezer are mounted in our namespace (from mountinfo). */
export function cgroupMounts(): { v2: string | undefined; freezer: string | undefined } {
  let v2: string | undefined;
  let freezer: string | undefined;
  for (const line of (slurp('/proc/self/mountinfo') ?? '').split('\n')) {
    const [pre, post] = line.split(' - ');
    const mountPoint = pre?.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    const [fsType, , options] = (post ?? '').split(' ');
    if (fsType === 'cgroup2' && v2 === undefined) v2 = mountPoint;
    if (fsType === 'cgroup' && options?.split(',').includes('freezer') && freezer === undefined) freezer = mountPoint;
  }
  return { v2, freezer };
}

/** Whether the process's cgroup is frozen (v2 cgroup.events "frozen 1", v1 freezer.state FROZEN/FREEZING). */
export function cgroupFrozen(pid: number, mounts: { v2: string | undefined; freezer: string | undefined }, tid?: number): boolean {
  for (const line of (slurp(`${procDir(pid, tid)}/cgroup`) ?? '').split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, controllers = '', path = ''] = m;
    if (controllers === '' && mounts.v2 && /^frozen 1$/m.test(slurp(`${mounts.v2}${path}/cgroup.events`) ?? '')) return true;
    if (controllers.split(',').includes('freezer') && mounts.freezer && /FROZEN|FREEZING/.test(slurp(`${mounts.freezer}${path}/freezer.state`) ?? '')) return true;
  }
  return false;
}

/** True when `pid` or one of its ancestors (the ppid chain below pid 1) is in `ancestors`. */
export function descendsFrom(pid: number, ancestors: ReadonlySet<number>): boolean {
  for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 64; p = readStat(`/proc/${p}`)?.ppid, hops++) {
    if (ancestors.has(p)) return true;
  }
  return false;
}
