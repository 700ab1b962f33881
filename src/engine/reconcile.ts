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
 */
import { errorText } from '../errors/errors.ts';
import { listRoot } from '../sys/fsops.ts';
import type { RelPath } from '../util/bpath.ts';
import { diffTrees, type RawDifference } from '../verify/verify.ts';
import type { WatchChange } from '../watch/types.ts';
import { isCookie } from './cookies.ts';

/** The target root has entries (livesync's cookies aside): a restart reconciles, a first start seeds. */
export function targetHasTree(target: string): boolean {
  return listRoot(target).some((n) => !isCookie(n));
}

export interface ReconcilePlan {
  changes: WatchChange[];
  /** paths to delete on the target (extra there, or of another type) */
  deletes: number;
  /** entries compared (the source tree's size for the --max-delete percentage) */
  entries: number;
  /** distinct paths that differ */
  differing: number;
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

/** Compares source and target (the job's excludes and -x applied) and plans the changes that make them equal. */
export async function planReconcile(o: { source: string; target: string; excludes: readonly string[]; signal?: AbortSignal }): Promise<ReconcilePlan> {
  const diff = await diffTrees({ source: o.source, target: o.target, exclude: o.excludes, oneFileSystem: true, signal: o.signal });
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
  return { changes, deletes, entries: c.files + c.dirs + c.symlinks + c.other, differing: byPath.size, durationMs: diff.durationMs };
}

export type ReconcileOutcome =
  | { kind: 'plan'; plan: ReconcilePlan; summary: string }
  /** more deletions than --max-delete COUNT: nothing is queued, the job halts */
  | { kind: 'halt'; why: string }
  /** the comparison could not run (e.g. the native addon is missing): the seed's full rsync pass does it */
  | { kind: 'fallback'; why: string };

/** planReconcile with the policy around it: the --max-delete COUNT guard (as the seed's rsync --max-delete) and the fallback. */
export async function reconcile(o: { source: string; target: string; excludes: readonly string[]; maxDeleteCount: number; signal?: AbortSignal }): Promise<ReconcileOutcome> {
  let plan: ReconcilePlan;
  try {
    plan = await planReconcile(o);
  } catch (err) {
    return { kind: 'fallback', why: `cannot compare source and target (${errorText(err)}); reconciling with a full rsync pass instead` };
  }
  if (o.maxDeleteCount > 0 && plan.deletes > o.maxDeleteCount) {
    return { kind: 'halt', why: `reconciling would delete ${plan.deletes} paths on the target, above --max-delete ${o.maxDeleteCount}; target untouched` };
  }
  const summary = `reconcile: compared ${plan.entries} entries in ${plan.durationMs} ms; ${plan.differing} paths differ (${plan.deletes} to delete on the target)`;
  return { kind: 'plan', plan, summary };
}
