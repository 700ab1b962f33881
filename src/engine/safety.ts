/**
 * Safety halts as policy: when the pending deletions must not be propagated. The target is never emptied to
 * follow an accident (a wiped, unmounted or replaced source); an operator decides.
 */
import { listRoot } from '../sys/fsops.ts';
import { isCookie } from './cookies.ts';

/** A percentage --max-delete never halts below this many deletions (small trees churn a lot relative to size). */
export const MASS_DELETE_FLOOR = 10_000;

export interface SafetyOptions {
  source: string;
  target: string;
  /** null = no limit */
  maxDelete: { count: number } | { percent: number } | null;
  allowEmptySource: boolean;
}

/** The source root has no entries (livesync's cookies aside) while the target has some. */
export function sourceEmptied(o: SafetyOptions): boolean {
  if (o.allowEmptySource) return false;
  const visible = (dir: string): number => listRoot(dir).filter((n) => !isCookie(n)).length;
  return visible(o.source) === 0 && visible(o.target) > 0;
}

/** Why `pendingDeletes` deletions must not be propagated, or null. `treeEntries`: the tree size at the seed. */
export function massDelete(o: SafetyOptions, pendingDeletes: number, treeEntries: number): string | null {
  if (pendingDeletes === 0) return null;
  if (sourceEmptied(o)) return `source root ${o.source} was emptied (${pendingDeletes} deletions pending); target left untouched (--allow-empty-source overrides)`;
  const limit = o.maxDelete === null ? 0 : 'count' in o.maxDelete ? o.maxDelete.count : Math.max(MASS_DELETE_FLOOR, Math.ceil((o.maxDelete.percent / 100) * treeEntries));
  if (limit > 0 && pendingDeletes > limit) return `mass delete: ${pendingDeletes} paths deleted in the source within 10 s, above the limit of ${limit} (--max-delete); target left untouched`;
  return null;
}

/**
 * Why the start-up reconcile must not delete `deletes` target entries (counted recursively: an extraneous
 * directory counts with everything in it), or null. A COUNT limit applies as is; a percentage applies to the
 * target's entries as compared (the source's `sourceEntries` plus the extraneous ones), without the steady-state
 * floor: a first start against an unrelated share, or a wrong path, would otherwise wipe it (its entries are all
 * extraneous), and what a stopped job missed piles up over the whole downtime, not 10 s.
 */
export function reconcileDeleteGuard(maxDelete: SafetyOptions['maxDelete'], deletes: number, sourceEntries: number): string | null {
  if (deletes === 0 || maxDelete === null) return null;
  if ('count' in maxDelete) {
    if (maxDelete.count <= 0 || deletes <= maxDelete.count) return null;
    return `reconciling would delete ${deletes} entries on the target, above --max-delete ${maxDelete.count}: is this the right target? target untouched (a larger --max-delete, or 0, overrides)`;
  }
  // deletes > percent of (sourceEntries + deletes), in integers
  const p = maxDelete.percent;
  if (deletes * 100 <= p * (sourceEntries + deletes)) return null;
  return `reconciling would delete ${deletes} entries on the target, above --max-delete ${p}% of the ${sourceEntries + deletes} entries compared: is this the right target? target untouched (a larger --max-delete, or 0, overrides)`;
}

/** How far the deletions need counting for reconcileDeleteGuard to decide (a wrong target may hold millions). */
export function reconcileDeleteCap(maxDelete: SafetyOptions['maxDelete'], sourceEntries: number): number {
  if (maxDelete === null) return 0;
  if ('count' in maxDelete) return maxDelete.count + 1;
  const p = maxDelete.percent;
  // deletes * (100 - p) > p * sourceEntries: the smallest such count decides
  return p >= 100 ? Number.POSITIVE_INFINITY : Math.floor((p * sourceEntries) / (100 - p)) + 1;
}
