/**
 * Survey: the scan (scan.ts) completed with what only kcmp(2) and file handles can tell, then judged
 * (verdicts.ts): threads owning their own fd table, threads sharing one fs_struct (one cwd to move),
 * fds sharing one open file description (within and across processes: they must stay shared), and the
 * paths of inotify watches. Used by plan (before the freeze) and by freeze (the snapshot inside it).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readMountInfo } from '../sys/mount.ts';
import { procDir, readStat, readSysctl } from '../sys/procfs.ts';
import { KCMP, type PtraceHelper } from '../sys/ptrace.ts';
import { scanAll, scanProcess, type RawScan, type ScanCtx } from './scan.ts';
import { relOf } from './tree.ts';
import { judge, type JudgeEnv } from './verdicts.ts';
import type { Item, ProcPlan } from './types.ts';

/** D-state sampling (plan only): a thread counts as stuck when it is in D at every sample. */
const D_SAMPLES = 3;
const D_SAMPLE_INTERVAL_MS = 20;

type Row = [number, number, number, number, number];

/**
 * Splits each list into groups of kcmp-equal members, all lists at once: each round compares every
 * unassigned member with its list's current representative, in one helper call. A kcmp error (a process
 * we may not inspect, a thread gone) counts as `onError`: 'same' where that means less work that could not
 * be done anyway (fd tables), 'different' where it means more work (one chdir per fs_struct).
 */
async function partition<T>(helper: PtraceHelper, lists: T[][], row: (rep: T, other: T) => Row, onError: 'same' | 'different'): Promise<T[][][]> {
  const out: T[][][] = lists.map(() => []);
  let open = lists.map((list, i) => ({ i, rest: list }));
  while (open.length > 0) {
    const rows: Row[] = [];
    for (const { rest } of open) for (const m of rest.slice(1)) rows.push(row(rest[0]!, m));
    const results = await helper.kcmp(rows);
    let k = 0;
    const next: typeof open = [];
    for (const { i, rest } of open) {
      const group = [rest[0]!];
      const left: T[] = [];
      for (const m of rest.slice(1)) {
        const r = results[k++] ?? -1;
        (r === 0 || (r < 0 && onError === 'same') ? group : left).push(m);
      }
      out[i]!.push(group);
      if (left.length > 0) next.push({ i, rest: left });
    }
    open = next;
  }
  return out;
}

/** Threads that unshared CLONE_FILES own another fd table: scan those tables too. */
async function addOwnTables(helper: PtraceHelper, ctx: ScanCtx, holders: RawScan[], multi: RawScan[]): Promise<RawScan[]> {
  const candidates = [...holders, ...multi].filter((s) => s.tasks.length > 1);
  // compared with the thread that stands for the process (a zombie leader has no fd table left)
  const lead = (s: RawScan): number => s.info.tables[0] ?? s.info.pid;
  const groups = await partition(helper, candidates.map((s) => [lead(s), ...s.tasks.filter((t) => t !== lead(s))]), (a, b) => [a, b, KCMP.files, 0, 0], 'same');
  const byPid = new Map(holders.map((h) => [h.info.pid, h]));
  candidates.forEach((scan, i) => {
    const extra = groups[i]!.slice(1).map((g) => g[0]!);
    if (extra.length === 0) return;
    const again = scanProcess(ctx, scan.info.pid, extra);
    if (again && again.items.length > 0) byPid.set(scan.info.pid, again);
  });
  return [...byPid.values()];
}

/** One cwd item per fs_struct: threads that share it are listed together. */
async function mergeCwds(helper: PtraceHelper, scans: RawScan[]): Promise<void> {
  const multi = scans.filter((s) => s.items.filter((i) => i.kind === 'cwd').length > 1);
  const lists = multi.map((s) => s.items.filter((i): i is Extract<Item, { kind: 'cwd' }> => i.kind === 'cwd'));
  const groups = await partition(helper, lists, (a, b) => [a.tids[0]!, b.tids[0]!, KCMP.fs, 0, 0], 'different');
  multi.forEach((scan, i) => {
    const merged = groups[i]!.map((g) => ({ ...g[0]!, tids: g.flatMap((c) => c.tids) }));
    scan.items = [...merged, ...scan.items.filter((it) => it.kind !== 'cwd')];
  });
}

/** Numbers fds that share one open file description (dup, fork, SCM_RIGHTS) with the same `share`. */
async function markShared(helper: PtraceHelper, scans: RawScan[]): Promise<void> {
  const buckets = new Map<string, Array<Extract<Item, { kind: 'fd' }>>>();
  for (const s of scans) {
    for (const it of s.items) {
      if (it.kind !== 'fd') continue;
      const list = buckets.get(it.ino);
      if (list) list.push(it);
      else buckets.set(it.ino, [it]);
    }
  }
  const groups = await partition(helper, [...buckets.values()], (a, b) => [a.table, b.table, KCMP.file, a.fd, b.fd], 'different');
  let id = 0;
  for (const list of groups) {
    for (const group of list) {
      for (const it of group) it.share = id;
      id++;
    }
  }
}

/** Paths of inotify watches from their file handles, opened on a mount of the watched filesystem. */
async function resolveWatches(helper: PtraceHelper, ctx: ScanCtx, scans: RawScan[]): Promise<void> {
  const watches = scans.flatMap((s) => s.items.flatMap((it) => (it.kind === 'inotify' ? it.watches : [])));
  if (watches.length === 0) return;
  const mounts = readMountInfo();
  const byDir = new Map<string, typeof watches>();
  for (const w of watches) {
    const dir = w.dev === ctx.tree.dev ? ctx.tree.path : mounts.find((m) => m.dev === w.dev)?.mountPoint;
    if (dir === undefined) continue;
    const list = byDir.get(dir);
    if (list) list.push(w);
    else byDir.set(dir, [w]);
  }
  for (const [dir, list] of byDir) {
    const paths = await helper.handlePaths(dir, list.map((w) => ({ type: w.handleType, hex: w.handle })));
    list.forEach((w, i) => {
      const p = paths[i];
      w.path = typeof p === 'string' ? p : null;
      w.rel = w.path !== null && w.dev === ctx.tree.dev ? relOf(ctx.tree, w.path) : null;
    });
  }
}

async function stuckInD(scans: RawScan[]): Promise<Set<number>> {
  // the state of the thread that stands for the process (the leader, or a live thread if it exited)
  let suspects = scans.filter((s) => s.info.state === 'D').map((s) => ({ pid: s.info.pid, tid: s.info.tables[0] }));
  for (let i = 1; i < D_SAMPLES && suspects.length > 0; i++) {
    await sleep(D_SAMPLE_INTERVAL_MS);
    suspects = suspects.filter(({ pid, tid }) => readStat(procDir(pid, tid))?.state === 'D');
  }
  return new Set(suspects.map((s) => s.pid));
}

export interface SurveyOptions {
  exclude: ReadonlySet<number>;
  /** scan only these pids (verification of a frozen set) */
  only?: readonly number[];
  /** sample D states over ~40 ms (plan: yes; inside the freeze: no) */
  sampleD: boolean;
}

export async function survey(helper: PtraceHelper, ctx: ScanCtx, options: SurveyOptions): Promise<{ plans: ProcPlan[]; seen: Map<number, string> }> {
  const { holders, multi, seen } = scanAll(ctx, options.exclude, options.only);
  const scans = await addOwnTables(helper, ctx, holders, multi);
  await mergeCwds(helper, scans);
  await markShared(helper, scans);
  await resolveWatches(helper, ctx, scans);
  const scope = readSysctl('kernel/yama/ptrace_scope');
  const env: JudgeEnv = {
    canSuspendSeccomp: process.getuid?.() === 0,
    yamaScope: scope === undefined ? undefined : Number(scope),
    stuckInD: options.sampleD ? await stuckInD(scans) : new Set(),
    helperPid: helper.pid,
  };
  return { plans: scans.map((s) => judge(s.info, s.items, env)), seen };
}
