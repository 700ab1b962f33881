/**
 * POLICY: what happens to each thing a process holds in the tree, and which process states make it
 * impossible to move. Two tables, one row per case with its reason; `judge` only classifies and looks up.
 *   movable: re-pointed inside the freeze (the action says how)
 *   stays:   read-only or unreachable by name; keeps the old filesystem busy until the process restarts
 *   blocker: the process cannot be moved safely; it is left untouched (never frozen) and reported
 */
import type { Action, Item, Judged, ProcInfo, ProcPlan, Verdict } from './types.ts';

interface Row {
  verdict: Verdict;
  action: Action | null;
  text: string;
}

const O_PATH = 0o10000000;

/** Item classes -> verdict. Keys are the kebab reasons shown by `livesync ps`. */
export const ITEM_POLICY = {
  // working directory: chdir to the same relative directory on the new root, once per fs_struct (threads too)
  cwd: { verdict: 'movable', action: 'chdir', text: 'chdir to the same directory on the new root' },
  // a deleted working directory has no name to rebuild on the new filesystem
  'cwd-deleted': { verdict: 'blocker', action: null, text: 'working directory was deleted' },
  // chroot inside the tree: the process resolves every path through the old tree; chroot cannot be redone
  'root-in-tree': { verdict: 'blocker', action: null, text: 'chroot inside the tree' },
  // the running executable cannot be swapped (PR_SET_MM_EXE_FILE needs all code unmapped)
  exe: { verdict: 'stays', action: null, text: 'executable: restart to release' },
  // regular file: reopened with the same access mode and flags, same offset, dup3 onto the same number
  file: { verdict: 'movable', action: 'reopen', text: 'reopen with the same flags and offset' },
  // unlinked but open: only this process sees it; nothing on the new tree to reopen
  'file-deleted': { verdict: 'stays', action: null, text: 'deleted but open: restart to release' },
  // directory fd at the start of its stream (or O_PATH): reopened the same way
  dir: { verdict: 'movable', action: 'reopen-dir', text: 'reopen the directory' },
  // a readdir in progress cannot resume on another filesystem (offsets are filesystem cookies)
  'dir-reading': { verdict: 'blocker', action: null, text: 'directory read in progress (offset not 0)' },
  // named pipe: data goes through the kernel, not the file; the open pipe keeps working on its old inode
  fifo: { verdict: 'stays', action: null, text: 'named pipe: keeps its old inode, restart to release' },
  // device node: reopening would open the device again with fresh state
  device: { verdict: 'stays', action: null, text: 'device node: restart to release' },
  // anything else (sockets' files opened as fds, etc.)
  other: { verdict: 'stays', action: null, text: 'special file: restart to release' },
  // a listening/bound unix socket stays tied to the old inode; a copy on the share is not an endpoint
  'socket-bound': { verdict: 'blocker', action: null, text: 'unix socket bound in the tree' },
  // writable MAP_SHARED: writes go to the old file's pages and cannot be switched atomically
  'map-shared-writable': { verdict: 'blocker', action: null, text: 'writable shared mapping' },
  // read-only or private mappings (libraries, data): stay on the old filesystem
  map: { verdict: 'stays', action: null, text: 'mapped: restart to release' },
  // inotify: a new instance with the same watch descriptors and masks replaces the old fd (epoll re-added)
  inotify: { verdict: 'movable', action: 'rewatch', text: 'rebuild the watches on the new root' },
  // a watch whose file handle cannot be resolved to a path cannot be rebuilt
  'inotify-unresolved': { verdict: 'blocker', action: null, text: 'inotify watch on a path that cannot be resolved' },
  // a lock no fd of this process accounts for cannot be taken again on the new file
  'lock-stray': { verdict: 'blocker', action: null, text: 'lock held without a matching fd' },
  // item lost its name relative to the tree (e.g. only reachable through a detached mount)
  'no-name': { verdict: 'blocker', action: null, text: 'no path relative to the tree' },
} as const satisfies Record<string, Row>;

export type ItemReason = keyof typeof ITEM_POLICY;

export function classify(item: Item): ItemReason {
  switch (item.kind) {
    case 'cwd':
      return item.deleted ? 'cwd-deleted' : item.rel === null ? 'no-name' : 'cwd';
    case 'root':
      return 'root-in-tree';
    case 'exe':
      return 'exe';
    case 'fd':
      if (item.deleted) return 'file-deleted';
      if (item.type === 'file' || item.type === 'dir') {
        if (item.rel === null) return 'no-name';
        if (item.type === 'dir') return item.pos === 0 || item.flags & O_PATH ? 'dir' : 'dir-reading';
        return 'file';
      }
      return item.type;
    case 'socket':
      return 'socket-bound';
    case 'map':
      return item.sharedWritable ? 'map-shared-writable' : 'map';
    case 'inotify':
      return item.watches.every((w) => w.path !== null) ? 'inotify' : 'inotify-unresolved';
    case 'lock':
      return 'lock-stray';
  }
}

interface ProcRow {
  when: (p: ProcInfo, env: JudgeEnv) => boolean;
  text: (p: ProcInfo) => string;
}

export interface JudgeEnv {
  /** PTRACE_O_SUSPEND_SECCOMP usable (kernel with CONFIG_CHECKPOINT_RESTORE, we have CAP_SYS_ADMIN) */
  canSuspendSeccomp: boolean;
  /** /proc/sys/kernel/yama/ptrace_scope, if yama is built in */
  yamaScope: number | undefined;
  /** threads that stayed in uninterruptible sleep across samples */
  stuckInD: ReadonlySet<number>;
  /** the helper's pid: its own tracees are not "already traced" */
  helperPid: number;
}

/** Process states that make it impossible to freeze and re-point the process. */
export const PROCESS_POLICY = {
  // ptrace allows one tracer: strace/gdb/a supervisor already holds it (SEIZE would fail with EPERM)
  'already-traced': { when: (p, env) => p.tracerPid !== 0 && p.tracerPid !== env.helperPid, text: (p) => `already traced by pid ${p.tracerPid}` },
  // yama ptrace_scope 3: no process may attach, root included, until reboot
  'yama-no-attach': { when: (_p, env) => env.yamaScope === 3, text: () => 'kernel.yama.ptrace_scope = 3 forbids attaching' },
  // strict seccomp allows only read/write/exit/sigreturn: injected syscalls would kill the process
  'seccomp-strict': { when: (p) => p.seccomp === 1, text: () => 'seccomp strict mode' },
  // a seccomp filter would filter injected syscalls unless it can be suspended while traced
  'seccomp-filter': { when: (p, env) => p.seccomp === 2 && !env.canSuspendSeccomp, text: () => 'seccomp filter (cannot be suspended here)' },
  // stuck in uninterruptible sleep: it would not stop within the freeze timeout
  'uninterruptible-sleep': { when: (p, env) => env.stuckInD.has(p.pid), text: () => 'uninterruptible sleep (D state) persists' },
  // a frozen cgroup: the threads stop for ptrace but never run an injected syscall (nor anything else)
  'cgroup-frozen': { when: (p) => p.cgroupFrozen, text: () => 'its cgroup is frozen (thaw it first)' },
  // stopped by a signal (job control): thawing would not resume it, injecting into a group-stop is unsound
  stopped: { when: (p) => p.state === 'T', text: () => 'stopped by a signal (kill -CONT it first)' },
  // the injector speaks x86-64 syscalls only
  'not-x86-64': { when: (p) => p.elfClass !== undefined && p.elfClass !== 2, text: () => '32-bit executable' },
  // injected paths resolve in the target's mount namespace and root: they must equal ours
  'other-mount-namespace': { when: (p) => p.sameMountNs === false, text: () => 'in another mount namespace (container)' },
  'different-root': { when: (p) => p.sameRoot === false, text: () => 'has a different root directory' },
  // the namespace or root link kept failing on a live, non-exiting process (an exiting one counts as gone):
  // where its paths resolve is unknown, so nothing may be injected
  'placement-unknown': {
    when: (p) => p.sameMountNs === null || p.sameRoot === null,
    text: (p) => `its ${p.sameMountNs === null ? 'mount namespace' : 'root directory'} could not be read (/proc/${p.pid}/${p.sameMountNs === null ? 'ns/mnt' : 'root'})`,
  },
} as const satisfies Record<string, ProcRow>;

export function judge(info: ProcInfo, items: Item[], env: JudgeEnv): ProcPlan {
  const judged: Judged[] = items.map((item) => {
    const reason = classify(item);
    const row: Row = ITEM_POLICY[reason];
    return { item, verdict: row.verdict, action: row.action, reason, text: row.text };
  });
  const blockers: Array<{ reason: string; text: string }> = [];
  for (const [reason, row] of Object.entries(PROCESS_POLICY) as Array<[string, ProcRow]>) {
    if (row.when(info, env)) blockers.push({ reason, text: row.text(info) });
  }
  for (const j of judged) if (j.verdict === 'blocker' && !blockers.some((b) => b.reason === j.reason)) blockers.push({ reason: j.reason, text: j.text });
  const verdict: Verdict = blockers.length > 0 ? 'blocker' : judged.some((j) => j.verdict === 'movable') ? 'movable' : 'stays';
  const notes: string[] = [];
  const suspendSeccomp = info.seccomp === 2 && env.canSuspendSeccomp;
  if (suspendSeccomp) notes.push('seccomp filter suspended while frozen (PTRACE_O_SUSPEND_SECCOMP)');
  if (judged.some((j) => j.item.kind === 'fd' && j.item.flags & 0o2000 && j.verdict === 'movable')) notes.push('O_APPEND from several writers is not atomic on NFS');
  if (judged.some((j) => j.item.kind === 'inotify')) notes.push('inotify events queued at the freeze are lost; NFS reports no remote changes');
  return { info, items: judged, verdict, blockers, notes, suspendSeccomp };
}
