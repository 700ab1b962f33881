/**
 * After a re-point, /proc decides whether it took. A frozen process cannot make new references, so checking
 * every movable item of the snapshot is complete: each cwd (per fs_struct), fd and inotify fd must now be on
 * the new root at the same relative path, with the same flags and offset, off the old tree; fds that shared
 * one open file description must still share one (kcmp). A re-point that did not take is a problem in the
 * result, never a silent success (gdb's `call` exits 0 even when the chdir did not happen).
 */
import { readLink, readStat } from '../sys/procfs.ts';
import { mntIdOf, readFdInfo } from '../sys/procfs-fdinfo.ts';
import { KCMP, type PtraceHelper } from '../sys/ptrace.ts';
import { display } from '../util/bpath.ts';
import { inTree, relOf, stripDeleted } from './tree.ts';
import type { Item, ProcPlan, RepointProblem, RepointReason, Tree } from './types.ts';

const O_PATH = 0o10000000;
const O_APPEND = 0o2000;

function describe(item: Item): string {
  if (item.kind === 'cwd') return `cwd ${display(item.rel ?? item.path) || '.'}`;
  if (item.kind === 'fd' || item.kind === 'inotify') return `${item.kind === 'fd' ? 'fd' : 'inotify fd'} ${item.fd}${item.kind === 'fd' ? ` ${display(item.rel ?? item.path)}` : ''}`;
  return item.kind;
}

/** Where a magic link points now: which tree it is in and its relative path there. */
function whereIs(link: string, mntId: number | undefined, oldTree: Tree, newTree: Tree): { onOld: boolean; onNew: boolean; rel: string | null } {
  const raw = readLink(link);
  if (raw === undefined || mntId === undefined) return { onOld: false, onNew: false, rel: null };
  const { path } = stripDeleted(raw);
  return { onOld: inTree(oldTree, mntId, path), onNew: inTree(newTree, mntId, path), rel: relOf(newTree, path) };
}

export async function verifyRepoint(helper: PtraceHelper, oldTree: Tree, newTree: Tree, procs: ProcPlan[]): Promise<RepointProblem[]> {
  const problems: RepointProblem[] = [];
  for (const p of procs) {
    const { pid, comm } = p.info;
    const add = (item: Item, reason: RepointReason, detail: string): void => {
      problems.push({ pid, comm, item: describe(item), reason, detail });
    };
    if (readStat(`/proc/${pid}`)?.starttime !== p.info.starttime) {
      problems.push({ pid, comm, item: 'process', reason: 'process-gone', detail: 'the process exited during the freeze' });
      continue;
    }
    for (const j of p.items) {
      if (j.verdict !== 'movable') continue;
      const was = j.item;
      if (was.kind === 'cwd') {
        for (const tid of was.tids) {
          const link = `/proc/${pid}/task/${tid}/cwd`;
          const now = whereIs(link, mntIdOf(link), oldTree, newTree);
          if (now.onOld) add(was, 'still-on-old-tree', `thread ${tid} is still in the old tree`);
          else if (!now.onNew || now.rel !== was.rel) add(was, 'not-on-new-root', `thread ${tid} is not in the same directory on the new root`);
        }
      } else if (was.kind === 'fd' || was.kind === 'inotify') {
        const base = was.table === pid ? `/proc/${pid}` : `/proc/${pid}/task/${was.table}`;
        const info = readFdInfo(base, was.fd);
        if (was.kind === 'inotify') {
          const wds = (list: Array<{ wd: number }>): string => list.map((w) => w.wd).sort((a, b) => a - b).join(',');
          const onOld = info?.inotify.some((w) => was.watches.some((o) => o.rel !== null && o.dev === w.dev && o.ino === w.ino)) ?? false;
          if (onOld) add(was, 'still-on-old-tree', 'watches still on the old filesystem');
          else if (!info || wds(info.inotify) !== wds(was.watches)) add(was, 'not-on-new-root', `watch descriptors ${info ? wds(info.inotify) : 'none'}, were ${wds(was.watches)}`);
          continue;
        }
        const now = whereIs(`${base}/fd/${was.fd}`, info?.mntId, oldTree, newTree);
        if (now.onOld) add(was, 'still-on-old-tree', 'still refers to the old tree');
        else if (!info || !now.onNew || now.rel !== was.rel) add(was, 'not-on-new-root', 'does not refer to the same file on the new root');
        else if (info.flags !== was.flags) add(was, 'flags-differ', `flags ${info.flags.toString(8)}, were ${was.flags.toString(8)}`);
        else if (was.type === 'file' && !(was.flags & (O_PATH | O_APPEND)) && info.pos !== was.pos) add(was, 'offset-differs', `offset ${info.pos}, was ${was.pos}`);
      }
    }
  }
  problems.push(...(await checkSharing(helper, procs)));
  return problems;
}

/** Every fd of one share group must still be the same open file description. */
async function checkSharing(helper: PtraceHelper, procs: ProcPlan[]): Promise<RepointProblem[]> {
  const groups = new Map<number, Array<{ p: ProcPlan; table: number; fd: number }>>();
  for (const p of procs) {
    for (const j of p.items) {
      if (j.item.kind !== 'fd' || j.verdict !== 'movable') continue;
      const list = groups.get(j.item.share) ?? [];
      list.push({ p, table: j.item.table, fd: j.item.fd });
      groups.set(j.item.share, list);
    }
  }
  const pairs = [...groups.values()].flatMap((list) => list.slice(1).map((m) => [list[0]!, m] as const));
  const results = await helper.kcmp(pairs.map(([a, b]) => [a.table, b.table, KCMP.file, a.fd, b.fd]));
  return pairs.flatMap(([a, b], i) =>
    results[i] === 0
      ? []
      : [{ pid: b.p.info.pid, comm: b.p.info.comm, item: `fd ${b.fd}`, reason: 'sharing-lost' as const, detail: `no longer shares its open file with pid ${a.p.info.pid} fd ${a.fd}` }],
  );
}
