/**
 * When the next batch runs, as policy: pure (no timers, no I/O); the mirror (src/engine/mirror.ts) arms one
 * timer for `nextBatch` and asks `deletionsDue` when it fires. Two lanes share the one batch in flight:
 *
 *   lane        what it carries                                     when it is due
 *   writes      every dirty entry but the held ones, and renames    LANE_RULES.writes
 *   deletions   entries flagged SETTLE (deleted or moved-away       LANE_RULES.deletions
 *               paths, recursive entries that absorbed one)
 *
 * A batch due on the writes lane alone leaves the held entries in the dirty set, and its rsync runs never delete
 * (missing paths are skipped: src/sync/rsync-args.ts); a batch due on the deletion lane takes everything. So an
 * `rm -rf` of the whole source is seen whole before anything is deleted, and the safety halts
 * (src/engine/safety.ts) trip while the target is still untouched (issue 3: with a 1 ms debounce the first
 * deletions went out batch by batch before the source root was empty).
 */
import type { WatchChange } from '../watch/types.ts';

export interface ScheduleOptions {
  /** --delay: trailing debounce of the writes lane after its last change */
  delayMs: number;
  /** --max-wait: the writes lane runs at most this long after its first change */
  maxWaitMs: number;
  /** deletions wait until none arrived for this long */
  settleMs: number;
  /** ...but at most this long after the first one (a long `rm -rf` goes out in slices, each checked) */
  settleMaxWaitMs: number;
}

/**
 * Deletions settle for DELETE_SETTLE_MS after the last one, at most DELETE_MAX_WAIT_MS after the first.
 * Measured (docs/benchmarks.md, mirror): 10,000 deletes still land well under the 1 s goal; an `rm -rf` runs
 * its unlinks microseconds apart, so a 100 ms pause means the deleter stopped (or was preempted that long).
 */
export const DELETE_SETTLE_MS = 100;
export const DELETE_MAX_WAIT_MS = 1_000;

/**
 * Once a writes window holds this many changes, a burst is under way: it goes when it was quiet for
 * BURST_QUIET_MS (a writer preempted for a few ms on a busy machine is not a writer done: a 2 ms gap split
 * 10k-file bursts into a run that competed with the writer and a rescan after it). A single small write is a
 * handful of changes and keeps --delay.
 */
export const BURST_CHANGES = 64;
export const BURST_QUIET_MS = 25;

/** First and last change of a lane since that lane last went into a batch (ms since epoch), and how many. */
interface Window {
  first: number;
  last: number;
  changes: number;
}

export type Lane = 'writes' | 'deletions';

/** The lanes a watcher read touches: deletions, moves (the old name is gone), and the rest. */
export function lanesOf(changes: readonly WatchChange[]): Lane[] {
  let writes = false;
  let deletions = false;
  for (const c of changes) {
    if (c.kind === 'delete') deletions = true;
    else if (c.kind === 'move') writes = deletions = true;
    else if (c.kind === 'subtree' && (c.reason === 'overflow' || c.reason === 'unwatched')) deletions = true;
    else writes = true;
  }
  return [...(writes ? (['writes'] as const) : []), ...(deletions ? (['deletions'] as const) : [])];
}

/** What is pending, as the sync queue sees it. */
export interface Pending {
  /** entries that are not held, or renames */
  writes: boolean;
  /** entries flagged SETTLE */
  held: boolean;
}

/**
 * When each lane is due, one row per lane and case (`w`: the lane's window, null when its pending entries came
 * from no change, e.g. a failed batch given back, failed paths due again, touch-ups after deletions).
 */
const LANE_RULES: Record<Lane, (w: Window | null, o: ScheduleOptions) => number> = {
  // trailing debounce capped by --max-wait: one small write (its create, write and close events come within
  // microseconds) goes --delay ms after it; a burst goes once it stopped, in one recursive run. Measured and
  // rejected: a leading edge (the first change of an idle mirror at once) split a 10k-file burst into a small
  // run that slowed the writer down and a rescan later: 1.2x instead of 0.95x the raw rsync (2 cores)
  writes: (w, o) => (w === null ? 0 : Math.min(w.last + (w.changes >= BURST_CHANGES ? Math.max(o.delayMs, BURST_QUIET_MS) : o.delayMs), w.first + o.maxWaitMs)),
  // a deletion waits until deletions stopped arriving (capped); pending without a window: already settled once
  deletions: (w, o) => (w === null ? 0 : Math.min(w.last + o.settleMs, w.first + o.settleMaxWaitMs)),
};

export class BatchClock {
  #o: ScheduleOptions;
  #windows: Record<Lane, Window | null> = { writes: null, deletions: null };

  constructor(options: ScheduleOptions) {
    this.#o = options;
  }

  /** `changes` changes of `lane` were absorbed at `now`. */
  note(lane: Lane, now: number, changes = 1): void {
    const w = this.#windows[lane];
    if (w === null) this.#windows[lane] = { first: now, last: now, changes };
    else {
      w.last = now;
      w.changes += changes;
    }
  }

  /** A batch took the writes lane (`withDeletions`: and the deletion lane). */
  took(withDeletions: boolean): void {
    this.#windows.writes = null;
    if (withDeletions) this.#windows.deletions = null;
  }

  /**
   * When the next batch is due (ms since epoch), or null when nothing is pending. `hurry`: the writes lane is
   * due now (the seed ended, failed paths are due, hard-link names were found, the cutover rolled back).
   */
  nextBatch(pending: Pending, hurry = false): number | null {
    const writes = hurry && pending.writes ? 0 : this.#due('writes', pending);
    const at = Math.min(writes, this.#due('deletions', pending));
    return Number.isFinite(at) ? at : null;
  }

  /** Whether a batch starting at `now` takes the deletion lane too. */
  deletionsDue(now: number, pending: Pending): boolean {
    return this.#due('deletions', pending) <= now;
  }

  #due(lane: Lane, pending: Pending): number {
    if (!(lane === 'writes' ? pending.writes : pending.held)) return Infinity;
    return LANE_RULES[lane](this.#windows[lane], this.#o);
  }
}
