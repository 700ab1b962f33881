/**
 * The vocabulary of the process mechanism (src/proc/): what a process holds in a tree (items), the verdict on
 * each, plans, the frozen set and the typed results of plan/freeze/repoint/thaw. Types only, no behaviour.
 */
import type { DevKey } from '../sys/procfs.ts';
import type { LockLine } from '../sys/procfs-fdinfo.ts';

/** The tree whose users we look for, identified by mount, device and inode (never by path alone). */
export interface Tree {
  /** absolute real path, binary string */
  path: string;
  dev: DevKey;
  ino: string;
  mntId: number;
  /** the path is its mount's root: membership is by mount id alone (paths of a detached mount are relative) */
  mountRoot: boolean;
}

export type FdType = 'file' | 'dir' | 'fifo' | 'device' | 'other';

export interface Watch {
  wd: number;
  mask: number;
  dev: DevKey;
  ino: string;
  handleType: number;
  handle: string;
  /** resolved from the file handle; null when it could not be */
  path: string | null;
  /** relative to the tree when the watched inode is in it */
  rel: string | null;
}

export interface EpollReg {
  epfd: number;
  events: number;
  data: string;
}

/** One thing a process holds in the tree. Paths are binary strings; `rel` is relative to the tree root. */
export type Item =
  /** a working directory, shared by `tids` (one fs_struct) */
  | { kind: 'cwd'; tids: number[]; path: string; rel: string | null; deleted: boolean }
  | { kind: 'root'; path: string; rel: string | null }
  | { kind: 'exe'; path: string; rel: string | null; deleted: boolean }
  /** an open file; `table` is a thread owning the fd table; `share` groups fds on one open file description */
  | {
      kind: 'fd';
      table: number;
      fd: number;
      type: FdType;
      path: string;
      rel: string | null;
      deleted: boolean;
      flags: number;
      pos: number;
      ino: string;
      locks: LockLine[];
      share: number;
    }
  /** a unix socket bound to a path in the tree */
  | { kind: 'socket'; table: number; fd: number; path: string; rel: string | null }
  /** file mappings of one file */
  | { kind: 'map'; path: string; rel: string | null; deleted: boolean; ranges: number; perms: string[]; sharedWritable: boolean }
  /** an inotify instance with at least one watch in the tree (all its watches listed) */
  | { kind: 'inotify'; table: number; fd: number; flags: number; watches: Watch[]; epolls: EpollReg[] }
  /** a lock in /proc/locks on a tree file held by the process that no fd of it accounts for */
  | { kind: 'lock'; lock: LockLine };

export type ItemKind = Item['kind'];

export interface ProcInfo {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  starttime: string;
  uid: number;
  threads: number;
  tracerPid: number;
  seccomp: number;
  elfClass: number | undefined;
  /** same mount namespace / root directory as livesync; null: the link did not answer (alive, not exiting) */
  sameMountNs: boolean | null;
  sameRoot: boolean | null;
  /** in a frozen cgroup (v2 cgroup.freeze, v1 freezer) */
  cgroupFrozen: boolean;
  /** [vdso] start address, hex */
  vdso: string | null;
  /** threads owning distinct fd tables (the leader first) */
  tables: number[];
}

export type Verdict = 'movable' | 'stays' | 'blocker';
export type Action = 'chdir' | 'reopen' | 'reopen-dir' | 'rewatch';

export interface Judged {
  item: Item;
  verdict: Verdict;
  action: Action | null;
  /** kebab reason (table row) */
  reason: string;
  text: string;
}

export interface ProcPlan {
  info: ProcInfo;
  items: Judged[];
  verdict: Verdict;
  /** process-level and item-level blocker reasons */
  blockers: Array<{ reason: string; text: string }>;
  notes: string[];
  suspendSeccomp: boolean;
}

export interface Plan {
  tree: Tree;
  processes: ProcPlan[];
  /** every process the plan looked at: pid -> start time (the freeze surveys only the frozen and new ones) */
  seen: Map<number, string>;
  /** last allocated pid and performance.now() when the plan started: no pid in `seen` can have been reused since, unless pids wrapped around */
  lastPid: number;
  startedAt: number;
  durationMs: number;
}

export interface Frozen {
  tree: Tree;
  /** frozen holders, as scanned inside the freeze */
  processes: ProcPlan[];
  /** every thread the helper holds for this freeze (auto-attached children included) */
  tids: number[];
  /** pid -> start time when seized */
  starttimes: Map<number, string>;
  /** holders that turned out to be blockers inside the freeze: released at once, untouched */
  released: ProcPlan[];
  rounds: number;
  /** performance.now() when the first process stopped */
  frozenAt: number;
}

export type FreezeFailure = 'blockers' | 'seize-failed' | 'freeze-timeout' | 'stopped-by-signal' | 'unstable' | 'helper-failed';

export type FreezeResult =
  | { ok: true; frozen: Frozen; durationMs: number }
  | { ok: false; reason: FreezeFailure; message: string; processes: Array<{ pid: number; comm: string; detail: string }>; durationMs: number };

export type RepointReason =
  | 'no-relative-path'
  | 'missing-on-new-root'
  | 'type-changed'
  | 'copy-shorter-than-offset'
  | 'session-failed'
  | 'inject-failed'
  | 'still-on-old-tree'
  | 'not-on-new-root'
  | 'flags-differ'
  | 'offset-differs'
  | 'sharing-lost'
  | 'process-gone'
  | 'helper-failed'
  | 'bad-new-root';

export interface RepointProblem {
  pid: number;
  comm: string;
  item: string;
  reason: RepointReason;
  detail: string;
}

export interface RepointResult {
  ok: boolean;
  moved: { cwd: number; fds: number; watches: number; locks: number };
  problems: RepointProblem[];
  warnings: string[];
  durationMs: number;
}

export interface ThawResult {
  ok: boolean;
  thawed: number[];
  gone: number[];
  /** the helper had to be ended to release threads that never stopped */
  forced: boolean;
  problems: string[];
  durationMs: number;
}
