/**
 * Does a process resolve paths the way livesync does (same mount namespace, same root directory)? Injected
 * paths are resolved in the target's namespace and root, so a process elsewhere is a blocker (verdicts.ts).
 *
 * The links that tell (/proc/PID/ns/mnt, /proc/PID/root) stop answering while a process exits: do_exit drops
 * its fs_struct (exit_fs) and its namespaces (exit_task_namespaces) before it turns zombie, and for that
 * window /proc/PID/stat still shows it running. A scan that meets a writer's short-lived child (`sleep 0.01`)
 * there must not call it "another container": an unreadable link is re-read only after checking whether the
 * process is exiting or exited on every thread (PF_EXITING, zombie), or gone (pid absent or reused), and then
 * it is gone. A zombie leader whose other threads run on is alive: its links are read through a live thread.
 * Only links that answer decide "foreign"; links that stay unreadable on a live, non-exiting process are
 * reported as unknown (null), which is a blocker of its own, never a guess.
 */
import { listTasks, procDir, readLink, readStat, statId, type FileId, type ProcStat } from '../sys/procfs.ts';

/** task flag: the thread is in do_exit (include/linux/sched.h) */
const PF_EXITING = 0x00000004;

export interface SelfPlacement {
  mntNs: string | undefined;
  root: FileId | undefined;
}

export type Placement =
  | { gone: true }
  /** null: the link did not answer although the process is alive and not exiting */
  | { gone: false; sameMountNs: boolean | null; sameRoot: boolean | null };

/** Reads of an unreadable link before it is reported unknown (each after a liveness check). */
const READS = 3;

/** A thread that neither exited (zombie, dead) nor is exiting. */
export const liveThread = (t: ProcStat | undefined): boolean => t !== undefined && t.state !== 'Z' && t.state !== 'X' && (t.flags & PF_EXITING) === 0;

/** The threads of `pid` that neither exited nor are exiting (each one's stat read). */
export function liveThreads(pid: number): number[] {
  return listTasks(pid).filter((tid) => liveThread(readStat(procDir(pid, tid))));
}

/**
 * The process `pid` started at `starttime` exited, is exiting on every thread, or no longer exists. The
 * leader alone may have left (pthread_exit, or exit(2) in main): it is a zombie, or exiting, until the last
 * thread ends, and the process lives on in its other threads.
 */
export function exitingOrGone(pid: number, starttime: string): boolean {
  const st = readStat(`/proc/${pid}`);
  if (!st || st.starttime !== starttime) return true;
  return !liveThread(st) && liveThreads(pid).length === 0;
}

/** The links of one thread (the leader's first; a live thread's when the leader already left). */
function readLinks(pid: number): { ns: string | undefined; root: FileId | undefined } {
  let ns = readLink(`/proc/${pid}/ns/mnt`);
  let root = statId(`/proc/${pid}/root`);
  if (ns !== undefined && root !== undefined) return { ns, root };
  for (const tid of listTasks(pid)) {
    if (tid === pid) continue;
    ns ??= readLink(`/proc/${pid}/task/${tid}/ns/mnt`);
    root ??= statId(`/proc/${pid}/task/${tid}/root`);
    if (ns !== undefined && root !== undefined) break;
  }
  return { ns, root };
}

export function placement(pid: number, starttime: string, self: SelfPlacement): Placement {
  let links = readLinks(pid);
  for (let read = 1; links.ns === undefined || links.root === undefined; read++) {
    if (exitingOrGone(pid, starttime)) return { gone: true };
    if (read >= READS) break;
    links = readLinks(pid);
  }
  // links that answered belong to the process scanned only if its pid was not reused meanwhile
  if (readStat(`/proc/${pid}`)?.starttime !== starttime) return { gone: true };
  const { ns, root } = links;
  return {
    gone: false,
    sameMountNs: ns === undefined ? null : ns === self.mntNs,
    sameRoot: root === undefined ? null : root.dev === self.root?.dev && root.ino === self.root.ino,
  };
}
