/**
 * The restart reconcile. When the target already holds a tree (a restart after `livesync stop` or kill -9, a
 * target filled by an earlier run or by hand), the seed's full rsync pass is replaced by a comparison of both
 * trees by metadata (src/verify diffTrees: type, size, mode, owner, mtime, symlink target, device, hard links,
 * xattrs and ACLs, each side read, trusting neither) whose differences become the changes a watcher would
 * have reported. The dirty set then syncs exactly those: O(tree) in stats, O(differences) in copies.
 *
 * Why not rsync: a dry run with the migration flags costs ~3x a plain `rsync -a -n` (-A and -X cost ~0.6 s per
 * 100k files each; measured in docs/benchmarks.md), and a real pass copies nothing more than these changes.
 * What it cannot see, like rsync's quick check: a rewrite that kept size and mtime; the pending record of the
 * previous run (the paths it still had dirty) is fed in as changes for that reason.
 *
 * Cost: the comparison stats each entry on both sides, like `rsync -a -n`, in parallel walk workers (started
 * ahead by prepareReconcile while the daemon sets up, one of them reading the target tree ahead meanwhile).
 * xattrs and ACLs are read only where they can have changed since the last good point (last-good.ts; every
 * one when there is none). The same walk lists the
 * source's multi-link files (ReconcilePlan.multiLinks) for the mirror's hard-link index, so no second pass
 * over the tree is needed for them.
 */
import { availableParallelism } from 'node:os';
import { errorText } from '../errors/errors.ts';
import { countEntriesUnder, listRoot } from '../sys/fsops.ts';
import { reconcileDeleteCap, reconcileDeleteGuard, type SafetyOptions } from './safety.ts';
import type { RelPath } from '../util/bpath.ts';
import { prefetchTree, type TreePrefetch } from '../verify/prefetch.ts';
import { prestartWalkers } from '../verify/walk-pool.ts';
import { diffTrees, type MultiLink, type RawDifference } from '../verify/verify.ts';
import type { WatchChange } from '../watch/types.ts';
import { isCookie } from './cookies.ts';
import { lastGoodFile, readLastGood, xattrFloorFor, type FloorVerdict } from './last-good.ts';

/** The target root has entries (livesync's cookies aside): a restart reconciles, a first start seeds. */
export function targetHasTree(target: string): boolean {
  return listRoot(target).some((n) => !isCookie(n));
}

/** Walk workers of the comparison: one per core (the walk is stat-bound; measured in bench/faults.ts). */
const WALKERS = availableParallelism();
/** The target read ahead holds at most this many bytes of records (~100 bytes an entry); the rest is read later. */
const PREFETCH_MAX_BYTES = 64 * 1024 * 1024;

/** What prepareReconcile started, for the reconcile of the same job to take over. */
let prepared: { key: string; floor: FloorVerdict; prefetch: TreePrefetch | null } | null = null;

const keyOf = (o: ReconcileOptions): string => JSON.stringify([o.source, o.target, o.excludes, o.stateDir ?? null, o.name ?? null]);

/** Which xattrs the comparison reads: from the last good point recorded in the state dir, if usable. */
function floorFor(o: ReconcileOptions): FloorVerdict {
  const record = o.stateDir !== undefined && o.name !== undefined ? readLastGood(lastGoodFile(o.stateDir, o.name)) : null;
  return xattrFloorFor(record, o);
}

/**
 * Called as early as possible in the daemon's start-up: when the start will reconcile, the comparison's walk
 * workers start now (a thread and a Node environment each, tens of ms), and one of them reads the target tree
 * ahead (src/verify/prefetch.ts: sound, nothing watches the target) while the daemon loads and sets its
 * watches. The earlier, the more of the target is read by the time the comparison starts.
 */
export function prepareReconcile(o: ReconcileOptions): void {
  if (prepared?.key === keyOf(o) || !targetHasTree(o.target)) return; // already prepared (a second call is free)
  try {
    prestartWalkers(WALKERS);
    const floor = floorFor(o);
    const prefetch = prefetchTree(o.target, { xattrs: floor.floor ? floor.floor.target : true, exclude: o.excludes, maxBytes: PREFETCH_MAX_BYTES });
    prepared = { key: keyOf(o), floor, prefetch };
  } catch {
    // a head start only: the reconcile itself does everything again, and reports what fails
  }
}

/** What prepareReconcile started for this job (null when nothing, or for another job: that is dropped). */
function takePrepared(o: ReconcileOptions): { floor: FloorVerdict; prefetch: TreePrefetch | null } | null {
  const p = prepared;
  prepared = null;
  if (p === null || p.key === keyOf(o)) return p;
  void p.prefetch?.stop();
  return null;
}

/** A source regular file or symlink with more than one link, as the mirror's hard-link index takes it. */
export interface MultiLinkFile {
  path: RelPath;
  dev: number;
  ino: number | bigint;
}

function multiLinkFile(m: MultiLink): MultiLinkFile {
  const colon = m.inode.indexOf(':');
  const ino = BigInt(m.inode.slice(colon + 1));
  return { path: m.rel, dev: Number(m.inode.slice(0, colon)), ino: ino <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(ino) : ino };
}

export interface ReconcilePlan {
  changes: WatchChange[];
  /** paths to delete on the target (extra there, or of another type) */
  deletes: number;
  /** entries compared (the source tree's size for the --max-delete percentage) */
  entries: number;
  /** distinct paths that differ */
  differing: number;
  /** which xattrs were compared, and why */
  xattrs: string;
  /** target directories read ahead while the daemon started (prepareReconcile) */
  readAhead: number;
  durationMs: number;
}

const isDir = (kind: string | null): boolean => kind === 'dir';

/**
 * What one path's differences ask for, in the order a watcher would have reported it. A directory missing on
 * the target is a subtree (its content was not walked: nothing to compare it with).
 */
export function changesOf(rel: RelPath, diffs: readonly RawDifference[]): WatchChange[] {
  const first = diffs[0]!;
  const sync = (sourceKind: string | null): WatchChange => (isDir(sourceKind) ? { kind: 'subtree', path: rel, reason: 'rescan' } : { kind: 'change', path: rel, isDir: false });
  const type = diffs.find((d) => d.kind === 'type');
  if (first.kind === 'extra') return [{ kind: 'delete', path: rel, isDir: isDir(first.target) }];
  if (first.kind === 'missing') return [sync(first.source)];
  if (type) return [{ kind: 'delete', path: rel, isDir: isDir(type.target) }, sync(type.source)];
  return [{ kind: 'change', path: rel, isDir: first.look?.kind === 'dir' }];
}

export interface ReconcileOptions {
  source: string;
  target: string;
  excludes: readonly string[];
  /** the job's name and state dir: where the last good point is recorded (without them every xattr is compared) */
  name?: string;
  stateDir?: string;
  signal?: AbortSignal;
}

/** Compares source and target (the job's excludes and -x applied) and plans the changes that make them equal. */
export async function planReconcile(o: ReconcileOptions): Promise<{ plan: ReconcilePlan; multiLinks: MultiLinkFile[] }> {
  const ready = takePrepared(o);
  const floor = ready?.floor ?? floorFor(o);
  const targetScans = ready?.prefetch ? await ready.prefetch.stop() : undefined;
  const readAhead = targetScans?.size ?? 0;
  const diff = await diffTrees({
    source: o.source,
    target: o.target,
    exclude: o.excludes,
    oneFileSystem: true,
    jobs: WALKERS,
    xattrFloor: floor.floor,
    multiLinks: true,
    targetScans,
    signal: o.signal,
  });
  const byPath = new Map<RelPath, RawDifference[]>();
  for (const d of diff.differences) {
    const list = byPath.get(d.rel);
    if (list) list.push(d);
    else byPath.set(d.rel, [d]);
  }
  const changes: WatchChange[] = [];
  let deletes = 0;
  for (const [rel, diffs] of byPath) {
    for (const c of changesOf(rel, diffs)) {
      if (c.kind === 'delete') deletes++;
      changes.push(c);
    }
  }
  const c = diff.counts;
  const entries = c.files + c.dirs + c.symlinks + c.other;
  const plan = { changes, deletes, entries, differing: byPath.size, xattrs: floor.why, readAhead, durationMs: diff.durationMs };
  return { plan, multiLinks: diff.multiLinks.map(multiLinkFile) };
}

export type ReconcileOutcome =
  | {
      kind: 'plan';
      plan: ReconcilePlan;
      summary: string;
      /**
       * every source regular file and symlink with more than one link (excluded names aside), found by the
       * same walk: what `find -links +1` lists (src/sys/fsops.ts multiLinkFiles), for the hard-link index
       */
      multiLinks: MultiLinkFile[];
    }
  /** more deletions than --max-delete COUNT: nothing is queued, the job halts */
  | { kind: 'halt'; why: string }
  /** the comparison could not run (e.g. the native addon is missing): the seed's full rsync pass does it */
  | { kind: 'fallback'; why: string };

/**
 * planReconcile with the policy around it: the --max-delete guard over the target entries it would delete
 * (src/engine/safety.ts reconcileDeleteGuard; an extraneous directory counted with its content) and the fallback.
 */
export async function reconcile(o: ReconcileOptions & { maxDelete: SafetyOptions['maxDelete'] }): Promise<ReconcileOutcome> {
  let planned: Awaited<ReturnType<typeof planReconcile>>;
  try {
    planned = await planReconcile(o);
  } catch (err) {
    return { kind: 'fallback', why: `cannot compare source and target (${errorText(err)}); reconciling with a full rsync pass instead` };
  }
  const { plan, multiLinks } = planned;
  if (plan.deletes > 0 && o.maxDelete !== null) {
    // counted only up to the first entry over the limit: a wrong target may hold millions
    const cap = reconcileDeleteCap(o.maxDelete, plan.entries);
    let deletes = 0;
    for (const c of plan.changes) if (c.kind === 'delete' && deletes < cap) deletes += c.isDir ? countEntriesUnder(o.target, c.path, cap - deletes) : 1;
    const why = reconcileDeleteGuard(o.maxDelete, deletes, plan.entries);
    if (why) return { kind: 'halt', why };
  }
  const ahead = plan.readAhead > 0 ? ` (${plan.readAhead} target directories read ahead)` : '';
  const summary = `reconcile: compared ${plan.entries} entries in ${plan.durationMs} ms${ahead}; ${plan.differing} paths differ (${plan.deletes} to delete on the target); ${plan.xattrs}`;
  return { kind: 'plan', plan, summary, multiLinks };
}
