/**
 * One batch, start to end, as a pure-ish function of what was drained: replay renames, plan the lists, run
 * rsync, and sort the outcome into "landed", "these paths failed" (partial transfer) or "the whole batch must
 * be retried". The mirror applies the outcome to its dirty set and failed-paths map.
 */
import type { RelPath } from '../util/bpath.ts';
import { DATA, DEEP, META, SETTLE, type DirtyEntry } from './dirty-set.ts';
import { planBatch, type BatchPlan } from './batch-plan.ts';
import { replayRenames, runPlan, type ListResult, type Rename, type RenameResult, type WarmRsync } from './batch-runner.ts';
import type { RsyncCommon } from '../sync/rsync-args.ts';
import { failedPaths, onlyVanished, type FailedPath } from '../sync/rsync-errors.ts';
import type { HardLinkIndex } from './hardlinks.ts';
import { existsUnder, isRegularFile, multiLinkFiles } from '../sys/fsops.ts';

export interface BatchInput {
  entries: DirtyEntry[];
  oldest: number | null;
  renames: Rename[];
  recentlySynced: ReadonlyMap<RelPath, number>;
  forceAll?: boolean;
  /** names of multi-link inodes, so a new link lands as a link (rsync -H links only within one list) */
  hardlinks?: HardLinkIndex;
  /** the batch may delete (default); false on the writes lane (src/engine/schedule.ts): missing paths are skipped */
  deletes?: boolean;
}

export type BatchOutcome =
  /** everything landed, except `failed` paths (partial transfer, each with rsync's message) */
  | { kind: 'landed'; plan: BatchPlan; results: ListResult[]; renames: RenameResult[]; failed: FailedPath[]; files: number; bytes: number }
  /** nothing can be trusted to have landed: retry the whole batch */
  | { kind: 'retry'; plan: BatchPlan; results: ListResult[]; renames: RenameResult[]; message: string; exitCode: number | null; outcome: string };

/** `warm`: an rsync started ahead, used when one of the batch's lists matches it (src/engine/batch-runner.ts). */
export async function executeBatch(common: RsyncCommon, input: BatchInput, now: number, signal?: AbortSignal, warm?: WarmRsync): Promise<BatchOutcome> {
  const renames = replayRenames(common.target, input.renames);
  // the batch owns its input: fallback entries join it, so a retried batch gives them back too
  const entries = input.entries;
  for (const r of renames) {
    // a rename that did not happen on the target: sync the destination's content instead
    if (!r.ok) entries.push({ path: r.to, flags: r.isDir ? META | DEEP : META | DATA, since: input.oldest ?? now });
  }
  const plan = planBatch(entries, { recentlySynced: input.recentlySynced, now, forceAll: input.forceAll ?? false });
  // deleted directories go to the flat run (--delete-missing-args --force deletes them recursively)
  const gone = plan.deep.filter((p) => !existsUnder(common.source, p));
  if (gone.length > 0) {
    const goneSet = new Set(gone);
    plan.deep = plan.deep.filter((p) => !goneSet.has(p));
    plan.flat.push(...gone);
  }
  if (input.forceAll) keepMetadataOnlyFilesQuick(common.source, entries, plan);
  const run = { deletes: input.deletes ?? true, ...(signal ? { signal } : {}), ...(warm ? { warm } : {}) };
  const index = input.hardlinks;
  if (index) plan.deep.push(...vanishedSiblings(index, plan, entries, gone));
  if (index) addListedSiblings(index, plan);
  // recursive runs first: a directory they create changes its parent's mtime, which the flat run (the parents'
  // own entries) then sets; and a burst's files start landing without waiting for the small lists
  // the `find` for multi-link files under deep entries: when the index knows names, before the deep run (their
  // known siblings join it); when it knows none, no sibling can join: alongside the deep run, and it only indexes
  // (a name whose siblings are unknown is searched for after the batch, src/engine/link-search.ts)
  const inDeep = index && plan.deep.length > 0 ? multiLinkFiles(common.source, plan.deep) : null;
  const known = index !== undefined && index.size > 0;
  if (index && inDeep && known) addDeepSiblings(index, plan, await inDeep, true);
  const results = await runPlan(common, plan, run, ['deep', 'forced', 'flat']);
  if (index && inDeep && !known) addDeepSiblings(index, plan, await inDeep, false);
  const files = results.reduce((a, r) => a + r.files, 0);
  const bytes = results.reduce((a, r) => a + r.bytes, 0);
  const hard = results.find((r) => r.outcome === 'retry' || r.outcome === 'fatal');
  if (hard) return { kind: 'retry', plan, results, renames, message: hard.message, exitCode: hard.exitCode, outcome: hard.outcome };
  const failed: FailedPath[] = [];
  for (const r of results.filter((x) => x.outcome === 'partial')) {
    const listed = new Map<RelPath, boolean>();
    const paths = r.mode === 'flat' ? plan.flat : r.mode === 'forced' ? plan.forced : plan.deep;
    for (const p of paths) listed.set(p, r.mode === 'deep');
    const found = failedPaths(r.stderr, [common.source, common.target], listed);
    // rsync skipped --delete for the rest of the run (an I/O error while listing): its directories are retried,
    // or the deletions under them were lost for good (churn SEED=4009, 7030: `*deleting` left on the target)
    if (r.deletionsSkipped) for (const p of paths) if (!found.some((f) => f.path === p)) found.push({ path: p, message: 'rsync skipped its deletions after an I/O error while listing' });
    if (found.length === 0 && onlyVanished(r.stderr)) continue; // the failing paths are gone from the source
    if (found.length === 0) return { kind: 'retry', plan, results, renames, message: r.message, exitCode: r.exitCode, outcome: r.outcome };
    failed.push(...found);
  }
  return { kind: 'landed', plan, results, renames, failed, files, bytes };
}

/**
 * rsync -H links only names in the same run: carry the known sibling names of every multi-link file the batch
 * touches (flat and forced entries directly here; deep entries through one `find -links +1` of those subtrees,
 * addDeepSiblings).
 */
function addListedSiblings(index: HardLinkIndex, plan: BatchPlan): void {
  // each list is its own rsync run: a sibling joins the run of its partner (a new link `x` in the forced run
  // and its old name in the flat run landed as two copies, and no later event ever relinked them)
  const forSiblings = index.siblingsOf(plan.forced);
  plan.flat.push(...index.siblingsOf(plan.flat));
  plan.forced.push(...forSiblings);
}

/**
 * The siblings of known names below a deleted directory, or below a recursive entry that absorbed a deletion:
 * such a name is in no list (the entry covers it), yet a change made through it before it went reached its
 * surviving siblings elsewhere, and only the index knows them. They join the recursive run, with their group
 * (churn SEED=1034: written through one name, then a directory above that name deleted: the other name stale).
 */
function vanishedSiblings(index: HardLinkIndex, plan: BatchPlan, entries: readonly DirtyEntry[], gone: readonly RelPath[]): RelPath[] {
  const dirs = [...gone, ...entries.filter((e) => e.flags & DEEP && e.flags & SETTLE).map((e) => e.path)];
  const under = index.namesUnder(dirs);
  if (under.length === 0) return [];
  const covered = coveredBy(plan.deep);
  return index.siblingsOf(under).filter((p) => !covered(p));
}

/** Whether a path is one of `deep` or below one (so a recursive run over `deep` carries it). */
function coveredBy(deep: readonly RelPath[]): (p: RelPath) => boolean {
  const deepSet = new Set(deep);
  return (p) => {
    if (deepSet.has(p)) return true;
    for (let i = p.lastIndexOf('/'); ; i = p.lastIndexOf('/', i - 1)) {
      if (deepSet.has(i < 0 ? '' : p.slice(0, i))) return true;
      if (i <= 0) return false;
    }
  };
}

/**
 * Indexes the multi-link files found under deep entries; `join`: their known siblings elsewhere join the deep run.
 * Only names the deep run carries count: the `find` searches the whole tree when a deep entry's name is not UTF-8
 * (src/sys/fsops.ts multiLinkFiles), and a name outside the run taken as part of it made its new link land as a
 * copy, with no search and no later batch to link it (churn: `hf .../inv\#377\#376.bin-7799/f7800/f7832 => ...`).
 */
function addDeepSiblings(index: HardLinkIndex, plan: BatchPlan, inDeep: ReadonlyArray<{ dev: number; ino: number; path: RelPath }>, join: boolean): void {
  const covered = coveredBy(plan.deep);
  const inRun = inDeep.filter((f) => covered(f.path));
  if (inRun.length === 0) return;
  for (const f of inRun) index.add(f.path, f.dev, f.ino);
  const siblings = index.siblingsOf(inRun.map((f) => f.path));
  if (join) plan.deep.push(...siblings.filter((p) => !covered(p)));
}

/**
 * forceAll compares content of every entry; a regular file whose metadata alone changed (chmod, touch) would be
 * copied whole inside the freeze (a 1 GiB file: 1.7 s, measured). Those go to the quick-check run instead;
 * usually there are none, so the final delta stays one rsync.
 */
function keepMetadataOnlyFilesQuick(source: string, entries: readonly DirtyEntry[], plan: BatchPlan): void {
  const flags = new Map(entries.map((e) => [e.path, e.flags]));
  const quick = plan.forced.filter((p) => !((flags.get(p) ?? DATA) & DATA) && isRegularFile(source, p));
  if (quick.length === 0) return;
  const set = new Set(quick);
  plan.forced = plan.forced.filter((p) => !set.has(p));
  plan.flat.push(...quick);
}
