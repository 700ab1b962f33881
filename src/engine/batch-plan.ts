/**
 * Pure: turns drained dirty entries into the lists one batch hands to rsync.
 *
 *   flat    entries synced one by one (no recursion): files, symlinks, directory attributes, deletions
 *           (a listed path missing from the source is deleted on the target: --delete-missing-args)
 *   forced  flat entries whose content must be compared regardless of size and mtime: DATA entries that were
 *           synced less than SAME_TICK_WINDOW_MS ago (a same-size rewrite inside one mtime tick would fool
 *           rsync's quick check), or every non-recursive entry when the caller asks (the cutover's final delta:
 *           one rsync run instead of two)
 *   deep    directories synced recursively with --delete (new directories, overflow, collapsed bursts)
 *
 * Deep entries absorb flat entries below them. Order inside a list does not matter (rsync sorts).
 */
import { isWithin, type RelPath } from '../util/bpath.ts';
import { DATA, DEEP, type DirtyEntry } from './dirty-set.ts';

/** A file written again within this long after a sync may have the same size and mtime as what was synced. */
export const SAME_TICK_WINDOW_MS = 2_000;

export interface BatchPlan {
  flat: RelPath[];
  forced: RelPath[];
  deep: RelPath[];
  entries: DirtyEntry[];
}

export interface PlanOptions {
  /** when each recently synced path was last handed to rsync (ms since epoch) */
  recentlySynced: ReadonlyMap<RelPath, number>;
  now: number;
  /** compare content of every DATA entry (cutover final delta) */
  forceAll?: boolean;
}

export function planBatch(entries: DirtyEntry[], options: PlanOptions): BatchPlan {
  const deep = entries.filter((e) => e.flags & DEEP).map((e) => e.path).sort();
  const deepSet = new Set(deep);
  const underDeep = (path: RelPath): boolean => {
    for (let i = path.lastIndexOf('/'); ; i = path.lastIndexOf('/', i - 1)) {
      if (deepSet.has(i < 0 ? '' : path.slice(0, i))) return true;
      if (i <= 0) return false;
    }
  };
  const flat: RelPath[] = [];
  const forced: RelPath[] = [];
  for (const e of entries) {
    if (e.flags & DEEP) continue;
    if (deep.length > 0 && underDeep(e.path)) continue;
    const last = options.recentlySynced.get(e.path);
    const sameTickRisk = last !== undefined && options.now - last < SAME_TICK_WINDOW_MS;
    // forceAll (the cutover's final delta, inside the freeze): one rsync for every non-recursive entry, content
    // always compared; a second process spawn would cost more than re-reading a few unchanged files
    if (options.forceAll || (e.flags & DATA && sameTickRisk)) forced.push(e.path);
    else flat.push(e.path);
  }
  return { flat, forced, deep: dropNested(deep), entries };
}

/** Removes deep entries that lie under another deep entry (input sorted). */
function dropNested(sorted: RelPath[]): RelPath[] {
  const out: RelPath[] = [];
  for (const p of sorted) {
    const prev = out[out.length - 1];
    if (prev !== undefined && isWithin(p, prev)) continue;
    out.push(p);
  }
  return out;
}
