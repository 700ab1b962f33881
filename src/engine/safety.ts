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
