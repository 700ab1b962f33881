/**
 * Start-up: bring the target to a known base before steady state. The watches are already up, so every change
 * made from now on waits in the dirty set (with those carried over from the previous run's pending record).
 *   - a target that holds a tree (a restart): both trees are compared (src/engine/reconcile.ts) and the
 *     differences queued as the changes a watcher would have reported, instead of a full pass
 *   - otherwise (or when the comparison cannot run): the seed (src/sync/seed.ts), retried with backoff while
 *     it fails; a partial seed's failed paths wait in the failed-paths map instead
 * The mirror then indexes the hard links (src/engine/link-search.ts load) and drains the dirty set.
 */
import { backoffMs } from '../sync/rsync-exit.ts';
import { seed } from '../sync/seed.ts';
import { failedPaths } from '../sync/rsync-errors.ts';
import { reconcile, targetHasTree, type ReconcileOutcome } from './reconcile.ts';
import { sourceEmptied } from './safety.ts';
import type { MirrorView } from './mirror-view.ts';

type ReconciledLinks = Extract<ReconcileOutcome, { kind: 'plan' }>['multiLinks'];

export type StartOutcome =
  /**
   * the base is there: `entries` in the tree (the mass-delete guard's base); `reconciled`: by comparison, whose
   * walk also listed the source's multi-link files (`multiLinks`, for the hard-link index)
   */
  | { kind: 'mirroring'; entries: number; reconciled: false }
  | { kind: 'mirroring'; entries: number; reconciled: true; multiLinks: ReconciledLinks }
  | { kind: 'halt'; reason: string }
  | { kind: 'ended' };

export async function establishBase(view: MirrorView): Promise<StartOutcome> {
  const { options: o, info, bus, queue } = view;
  const ended = (): boolean => view.stopping() || view.state() === 'halted';
  for (let attempt = 1; !ended(); attempt++) {
    view.setState('seeding');
    if (sourceEmptied(o)) return { kind: 'halt', reason: `source root ${info.source} is empty but the target is not; refusing to empty the target (--allow-empty-source overrides)` };
    const maxDeleteCount = o.maxDelete && 'count' in o.maxDelete ? o.maxDelete.count : 0;
    // a restart (the target holds a tree): compare both trees and queue the differences instead of a full pass
    const r = targetHasTree(info.target) ? await reconcile({ ...info, excludes: o.excludes, maxDelete: o.maxDelete }) : null;
    if (r?.kind === 'halt') return { kind: 'halt', reason: r.why };
    if (r?.kind === 'fallback') bus.emit({ type: 'warning', code: 'W_RECONCILE', message: r.why });
    if (r?.kind === 'plan') {
      bus.emit({ type: 'info', message: r.summary, data: { ...r.plan, changes: r.plan.changes.length } });
      queue.absorb(r.plan.changes, Date.now(), () => undefined);
      view.emitQueue();
      return { kind: 'mirroring', entries: r.plan.entries, reconciled: true, multiLinks: r.multiLinks };
    }
    if (ended()) break;
    const result = await seed({ ...o, workers: o.seedWorkers, bus, maxDeleteCount });
    if (result.exitCode === 25) return { kind: 'halt', reason: `the seed would delete more than ${maxDeleteCount} paths on the target (--max-delete); target partly reconciled, deletions stopped` };
    // issue 3 fix: a partial seed (23) with known failed paths is a seed; those paths wait with a backoff
    const failed = result.exitCode === 23 ? failedPaths(result.stderr ?? '', [info.source, info.target], new Map([['', true]])) : [];
    // rsync skipped its deletions after an I/O error while listing (a file vanishing under it): extraneous target
    // entries may remain anywhere, so the whole tree waits for a recursive pass like a failed path
    if (result.deletionsSkipped) failed.push({ path: '', message: 'rsync skipped its deletions after an I/O error while listing (a file vanished during the seed); the whole tree is passed again' });
    if (result.outcome === 'ok' || result.outcome === 'vanished' || failed.length > 0) {
      queue.seedFailed(failed, Date.now(), bus);
      return { kind: 'mirroring', entries: result.entries, reconciled: false };
    }
    const wait = backoffMs(attempt);
    bus.emit({ type: 'error', code: 'E_SEED', message: `seed failed (${result.message}); retrying in ${wait} ms` });
    view.setState('degraded', result.message);
    await new Promise((r) => setTimeout(r, wait));
  }
  return { kind: 'ended' };
}
