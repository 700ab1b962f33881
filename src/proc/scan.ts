/**
 * Finds what processes hold in a tree by reading /proc: per-thread working directories, root, executable,
 * every fd of every fd table (files, directories, FIFOs, device nodes, bound unix sockets, inotify watches),
 * file mappings and locks. Cheap device filter first (stat), then the mount id (fdinfo, or our own O_PATH
 * open of the magic link) decides membership (tree.ts). No verdicts here (verdicts.ts), no kcmp (survey.ts).
 * A process whose leader has exited while other threads run on (pthread_exit in main: the leader is a zombie
 * with no fd table, cwd, mm or namespaces left) is alive: it is read through a live thread (/proc/PID/task/TID).
 */
import { cgroupFrozen, cgroupMounts, elfClass, listFds, listPids, listTasks, nsId, procDir, readLink, readMaps, readStat, readStatus, readUnixSockets, statId, type FileId, type MapLine, type ProcStat } from '../sys/procfs.ts';
import { mntIdOf, readFdInfo, readLocks, type LockLine } from '../sys/procfs-fdinfo.ts';
import { liveThread, liveThreads, placement } from './placement.ts';
import { inTree, relOf, resolveTree, stripDeleted } from './tree.ts';
import type { FdType, Item, ProcInfo, Tree } from './types.ts';

const PF_KTHREAD = 0x00200000;
const S_IFMT = 0o170000;
const FD_TYPES: Record<number, FdType> = { 0o100000: 'file', 0o040000: 'dir', 0o010000: 'fifo', 0o020000: 'device', 0o060000: 'device' };

export interface ScanCtx {
  tree: Tree;
  /**
   * The tree's path still resolves to the tree (same mount, device, inode). Then anything on the tree's
   * mount reads back with a path under it, so a path elsewhere is skipped without a stat (a fast pre-filter,
   * never the membership test). After a mount on top or a detach, paths lie: every candidate is stat'ed.
   */
  attached: boolean;
  selfMntNs: string | undefined;
  selfRoot: FileId | undefined;
  /** bound unix sockets per network namespace, read on first need */
  unix: Map<string, Map<string, string>>;
  /** /proc/locks entries on the tree's device, read once per scan */
  locks: LockLine[];
  cgroups: ReturnType<typeof cgroupMounts>;
}

export interface RawScan {
  info: ProcInfo;
  items: Item[];
  /** all live thread ids (for fs_struct / fd table comparisons); info.tables[0] stands for the process */
  tasks: number[];
}

export function scanContext(tree: Tree): ScanCtx {
  const now = resolveTree(tree.path);
  return {
    tree,
    attached: now.ok && now.tree.mntId === tree.mntId && now.tree.dev === tree.dev && now.tree.ino === tree.ino,
    selfMntNs: nsId('self', 'mnt'),
    selfRoot: statId('/proc/self/root'),
    unix: new Map(),
    locks: readLocks().filter((l) => l.dev === tree.dev),
    cgroups: cgroupMounts(),
  };
}

/** Pre-filter: can what this /proc link names be in the tree at all? (see ScanCtx.attached) */
function candidate(ctx: ScanCtx, raw: string): boolean {
  return !ctx.attached || relOf(ctx.tree, stripDeleted(raw).path) !== null;
}

/** A magic link (cwd, root, exe) in the tree: mount id from our own O_PATH open of it. */
function linkInTree(ctx: ScanCtx, link: string): { path: string; rel: string | null; deleted: boolean; id: FileId } | undefined {
  const raw = readLink(link);
  if (raw === undefined || !candidate(ctx, raw)) return undefined;
  const id = statId(link);
  if (!id || id.dev !== ctx.tree.dev) return undefined;
  const mntId = mntIdOf(link);
  if (mntId === undefined) return undefined;
  const { path, deleted } = stripDeleted(raw, id.nlink);
  return inTree(ctx.tree, mntId, path) ? { path, rel: relOf(ctx.tree, path), deleted, id } : undefined;
}

function unixPath(ctx: ScanCtx, pid: number, tid: number, inode: string): string | undefined {
  const ns = nsId(pid, 'net', tid) ?? '';
  let table = ctx.unix.get(ns);
  if (!table) ctx.unix.set(ns, (table = readUnixSockets(pid, tid)));
  return table.get(inode);
}

function scanTable(ctx: ScanCtx, pid: number, table: number, items: Item[]): void {
  const base = procDir(pid, table);
  const epolls: number[] = [];
  const inotify: Array<Extract<Item, { kind: 'inotify' }>> = [];
  for (const fd of listFds(base)) {
    const link = readLink(`${base}/fd/${fd}`);
    if (link === undefined) continue;
    if (link.startsWith('/')) {
      if (!candidate(ctx, link)) continue;
      const id = statId(`${base}/fd/${fd}`);
      if (!id || id.dev !== ctx.tree.dev) continue;
      const info = readFdInfo(base, fd);
      if (!info) continue;
      const { path, deleted } = stripDeleted(link, id.nlink);
      if (!inTree(ctx.tree, info.mntId, path)) continue;
      const type = FD_TYPES[id.mode & S_IFMT] ?? 'other';
      items.push({ kind: 'fd', table, fd, type, path, rel: relOf(ctx.tree, path), deleted, flags: info.flags, pos: info.pos, ino: id.ino, locks: info.locks, share: -1 });
    } else if (link.startsWith('socket:[')) {
      const bound = unixPath(ctx, pid, table, link.slice(8, -1));
      const id = bound === undefined ? undefined : statId(Buffer.from(bound, 'latin1'));
      const rel = bound === undefined ? null : relOf(ctx.tree, bound);
      if (bound !== undefined && id?.dev === ctx.tree.dev && rel !== null) items.push({ kind: 'socket', table, fd, path: bound, rel });
    } else if (link === 'anon_inode:inotify') {
      const info = readFdInfo(base, fd);
      if (!info?.inotify.some((w) => w.dev === ctx.tree.dev)) continue;
      const watches = info.inotify.map((w) => ({ ...w, path: null, rel: null }));
      const item = { kind: 'inotify' as const, table, fd, flags: info.flags, watches, epolls: [] };
      inotify.push(item);
      items.push(item);
    } else if (link === 'anon_inode:[eventpoll]') epolls.push(fd);
  }
  // epoll sets that hold an inotify fd we would swap: the new file must be added to them again
  for (const epfd of inotify.length > 0 ? epolls : []) {
    for (const t of readFdInfo(base, epfd)?.epoll ?? []) {
      inotify.find((i) => i.fd === t.tfd)?.epolls.push({ epfd, events: t.events, data: t.data });
    }
  }
}

function scanMaps(ctx: ScanCtx, pid: number, maps: MapLine[], exeIno: string | undefined, items: Item[]): void {
  const byFile = new Map<string, MapLine[]>();
  for (const m of maps) {
    if (m.dev !== ctx.tree.dev || m.ino === exeIno) continue;
    const list = byFile.get(m.ino);
    if (list) list.push(m);
    else byFile.set(m.ino, [m]);
  }
  for (const lines of byFile.values()) {
    const first = lines[0]!;
    const { path, deleted } = stripDeleted(first.path);
    const mntId = mntIdOf(`/proc/${pid}/map_files/${first.start}-${first.end}`);
    if (mntId === undefined ? relOf(ctx.tree, path) === null : !inTree(ctx.tree, mntId, path)) continue;
    const perms = [...new Set(lines.map((l) => l.perms))];
    const sharedWritable = perms.some((p) => p[1] === 'w' && p[3] === 's');
    items.push({ kind: 'map', path, rel: relOf(ctx.tree, path), deleted, ranges: lines.length, perms, sharedWritable });
  }
}

/** Locks in /proc/locks held by this pid on tree inodes that none of its fds account for. */
function strayLocks(ctx: ScanCtx, pid: number, items: Item[]): void {
  const seen = new Set(items.flatMap((i) => (i.kind === 'fd' ? i.locks.map((l) => `${l.kind}:${l.ino}:${l.start}`) : [])));
  const inos = new Set(items.flatMap((i) => (i.kind === 'fd' ? [i.ino] : [])));
  for (const lock of ctx.locks) {
    if (lock.pid === pid && !seen.has(`${lock.kind}:${lock.ino}:${lock.start}`) && !inos.has(lock.ino)) items.push({ kind: 'lock', lock });
  }
}

/**
 * The thread that stands for the process (its fd table, root, exe, mm, namespaces, status) and the threads
 * to look at: the leader and every thread; or, when the leader has left (a zombie until the last thread ends,
 * or exiting), the first live thread and the live ones. Undefined when no thread is live: the process is gone.
 */
function threadsOf(pid: number, st: ProcStat): { lead: number; state: string; tasks: number[] } | undefined {
  if (liveThread(st)) return { lead: pid, state: st.state, tasks: st.threads > 1 ? listTasks(pid) : [pid] };
  const tasks = liveThreads(pid);
  const lead = tasks[0];
  return lead === undefined ? undefined : { lead, state: readStat(procDir(pid, lead))?.state ?? st.state, tasks };
}

/** Everything `pid` holds in the tree (fd tables of `extraTables` threads too); undefined if gone/kernel. */
export function scanProcess(ctx: ScanCtx, pid: number, extraTables: number[] = [], stat?: ProcStat): RawScan | undefined {
  const st = stat ?? readStat(`/proc/${pid}`);
  if (!st || st.flags & PF_KTHREAD) return undefined;
  const threads = threadsOf(pid, st);
  if (!threads) return undefined;
  const { lead, tasks } = threads;
  const view = procDir(pid, lead);
  const items: Item[] = [];
  for (const tid of tasks) {
    const cwd = linkInTree(ctx, `${procDir(pid, tid)}/cwd`);
    if (cwd) items.push({ kind: 'cwd', tids: [tid], path: cwd.path, rel: cwd.rel, deleted: cwd.deleted });
  }
  const root = linkInTree(ctx, `${view}/root`);
  if (root) items.push({ kind: 'root', path: root.path, rel: root.rel });
  const exe = linkInTree(ctx, `${view}/exe`);
  if (exe) items.push({ kind: 'exe', path: exe.path, rel: exe.rel, deleted: exe.deleted });
  const tables = [lead, ...extraTables.filter((t) => t !== lead)];
  for (const table of tables) scanTable(ctx, pid, table, items);
  const { maps, vdso } = readMaps(pid, lead);
  scanMaps(ctx, pid, maps, exe?.id.ino, items);
  strayLocks(ctx, pid, items);
  const bare = { ...bareInfo(pid, st, vdso, tables), state: threads.state };
  if (items.length === 0) return { info: bare, items, tasks };
  // an exiting process (a writer's short-lived child) no longer answers for its namespace and root: gone
  const where = placement(pid, st.starttime, { mntNs: ctx.selfMntNs, root: ctx.selfRoot });
  if (where.gone) return undefined;
  const status = readStatus(view);
  const info: ProcInfo = {
    ...bare,
    uid: status?.uid ?? -1,
    // ptrace is per thread: a debugger may hold any one of them (the freeze could not stop that one)
    tracerPid: tracerOf(pid, status?.tracerPid ?? 0, tasks.filter((t) => t !== lead)),
    seccomp: status?.seccomp ?? 0,
    elfClass: elfClass(pid, lead),
    sameMountNs: where.sameMountNs,
    sameRoot: where.sameRoot,
    cgroupFrozen: cgroupFrozen(pid, ctx.cgroups, lead),
  };
  return { info, items, tasks };
}

/** The first tracer found on the process's threads (`leadTracer`, the standing thread's, first), 0 when none. */
function tracerOf(pid: number, leadTracer: number, others: readonly number[]): number {
  if (leadTracer !== 0) return leadTracer;
  for (const tid of others) {
    const t = readStatus(procDir(pid, tid))?.tracerPid ?? 0;
    if (t !== 0) return t;
  }
  return 0;
}

function bareInfo(pid: number, st: ProcStat, vdso: string | null, tables: number[]): ProcInfo {
  return {
    pid,
    comm: st.comm,
    state: st.state,
    ppid: st.ppid,
    starttime: st.starttime,
    uid: -1,
    threads: st.threads,
    tracerPid: 0,
    seccomp: 0,
    elfClass: undefined,
    sameMountNs: true,
    sameRoot: true,
    cgroupFrozen: false,
    vdso,
    tables,
  };
}

/**
 * Scans every process (or only `only`), minus `exclude`. Returns the holders, the multi-threaded
 * non-holders (one of their threads may own a separate fd table: survey.ts checks with kcmp), and the
 * start time of every process scanned (a later pid with another start time is a new process).
 */
export function scanAll(ctx: ScanCtx, exclude: ReadonlySet<number>, only?: readonly number[]): { holders: RawScan[]; multi: RawScan[]; seen: Map<number, string> } {
  const holders: RawScan[] = [];
  const multi: RawScan[] = [];
  const seen = new Map<number, string>();
  for (const pid of only ?? listPids()) {
    if (exclude.has(pid)) continue;
    const st = readStat(`/proc/${pid}`);
    if (!st) continue;
    seen.set(pid, st.starttime);
    const scan = scanProcess(ctx, pid, [], st);
    if (!scan) continue;
    if (scan.items.length > 0) holders.push(scan);
    else if (scan.tasks.length > 1) multi.push(scan);
  }
  return { holders, multi, seen };
}
