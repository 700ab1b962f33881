/**
 * Everything the mirror knows about what is not yet on the target, in one place: the dirty set, the renames
 * to replay, the batch in flight, the failed paths waiting for their retry, the recently synced paths (for the
 * same-tick rule), the hard-link index and its searches. No timers and no events of its own: the mirror
 * (src/engine/mirror.ts) decides when; this decides what.
 */
import { parentOf, display, type RelPath } from '../util/bpath.ts';
import type { EventBus } from '../events/event.ts';
import type { WatchChange } from '../watch/types.ts';
import { DATA, DEEP, DirtySet, GONE, META, SETTLE, type DirtyEntry } from './dirty-set.ts';
import { SAME_TICK_WINDOW_MS } from './batch-plan.ts';
import type { Rename } from './batch-runner.ts';
import type { BatchInput, BatchOutcome } from './batch.ts';
import { DEGRADED_AFTER_ATTEMPTS, FailedPaths } from './failures.ts';
import type { FailedPath } from '../sync/rsync-errors.ts';
import { HardLinkIndex } from './hardlinks.ts';
import { LinkSearch } from './link-search.ts';
import { isCookie } from './cookies.ts';

/** First-seen time given to cookie changes: later than any real change, so they never count as lag. */
export const COOKIE_SINCE = Number.MAX_SAFE_INTEGER;
/** --max-delete also counts the deletions propagated within this many seconds (src/engine/safety.ts). */
export const MASS_DELETE_WINDOW_S = 10;

export class SyncQueue {
  readonly dirty = new DirtySet();
  readonly hardlinks: HardLinkIndex;
  /** the searches for the names of new links (src/engine/link-search.ts) */
  readonly links: LinkSearch;
  /** deletions seen since the last batch started */
  #newDeletes = 0;
  /**
   * issue 3 fix: deletions handed to batches, per second, over the last MASS_DELETE_WINDOW_S. The guard used to
   * count only since the last batch, and a batch runs every few ms, so an rm -rf spread over many batches
   * never tripped --max-delete.
   */
  #takenDeletes = new Map<number, number>();
  #renames: Rename[] = [];
  #inFlight: DirtyEntry[] | null = null;
  #inFlightOldest: number | null = null;
  #failures = new FailedPaths();
  #recent = new Map<RelPath, number>();

  /** `barrier`: the watcher's (every event queued in the kernel absorbed when it resolves) */
  constructor(source: string, barrier: () => Promise<void> = async () => undefined) {
    this.hardlinks = new HardLinkIndex(source);
    this.links = new LinkSearch(source, this.hardlinks, this.dirty, barrier);
  }

  /** Marks what a watcher read reported. `onCookie` is told about cookie files seen. */
  absorb(changes: readonly WatchChange[], now: number, onCookie: (path: RelPath) => void): void {
    const d = this.dirty;
    for (const c of changes) {
      switch (c.kind) {
        case 'change': {
          // livesync's own cookies are synced like anything else but never count as lag
          const cookie = isCookie(c.path);
          const since = cookie ? COOKIE_SINCE : now;
          d.mark(c.path, c.isDir ? META : META | DATA, since);
          if (!c.isDir && c.path !== '') d.mark(parentOf(c.path), META, since);
          if (cookie) onCookie(c.path);
          break;
        }
        case 'delete': {
          // a cookie's removal is livesync's own change too: never lag, never a deletion the guard counts
          const cookie = isCookie(c.path);
          const since = cookie ? COOKIE_SINCE : now;
          if (!cookie) this.#newDeletes++;
          d.mark(c.path, c.isDir ? META | DEEP | GONE : META | GONE, since);
          d.mark(parentOf(c.path), META, since);
          break;
        }
        case 'move':
          this.links.moved();
          this.hardlinks.renamed(c.from, c.to);
          d.move(c.from, c.to, now);
          this.#renames.push({ from: c.from, to: c.to, isDir: c.isDir });
          d.mark(parentOf(c.from), META, now);
          d.mark(parentOf(c.to), META, now);
          break;
        case 'subtree':
          this.links.moved();
          // after an overflow (or in an unwatched directory) deletions were not seen: the recursive sync that
          // finds them deletes, so it waits on the deletion lane like any deletion (src/engine/schedule.ts)
          d.mark(c.path, c.reason === 'overflow' || c.reason === 'unwatched' ? META | DEEP | SETTLE : META | DEEP, now);
          if (c.path !== '') d.mark(parentOf(c.path), META, now);
          break;
      }
    }
  }

  /** The mass-delete guard's count: deletions not yet in a batch, plus those batched in the last MASS_DELETE_WINDOW_S. */
  get pendingDeletes(): number {
    const second = Math.floor(Date.now() / 1000);
    let n = this.#newDeletes;
    for (const [s, count] of this.#takenDeletes) {
      if (second - s >= MASS_DELETE_WINDOW_S) this.#takenDeletes.delete(s);
      else n += count;
    }
    return n;
  }

  get pendingCount(): number {
    return this.dirty.size + this.#renames.length;
  }

  /** What is pending per lane (src/engine/schedule.ts): held deletions, and everything else. */
  get pendingLanes(): { writes: boolean; held: boolean } {
    return { writes: this.dirty.size > this.dirty.held || this.#renames.length > 0, held: this.dirty.held > 0 };
  }

  get inFlightCount(): number {
    return this.#inFlight?.length ?? 0;
  }

  get busy(): boolean {
    return this.#inFlight !== null;
  }

  /** Failed paths whose backoff has passed go back into the dirty set. */
  requeueDue(now: number): void {
    for (const f of this.#failures.due(now)) this.dirty.mark(f.path, f.flags, f.since);
  }

  nextRetryAt(): number | null {
    return this.#failures.nextRetryAt();
  }

  /**
   * Hands out everything pending as one batch (O(entries)); it is in flight until `landed` or `giveBack`.
   * `holdDeletions`: the writes lane only; entries flagged SETTLE stay, and the batch may not delete.
   */
  take(options: { includeFailed?: boolean; forceAll?: boolean; holdDeletions?: boolean } = {}): BatchInput {
    if (options.includeFailed) for (const f of this.#failures.list()) this.dirty.mark(f.path, f.flags, f.since);
    const hold = options.holdDeletions === true;
    const drained = this.dirty.drain(hold ? SETTLE : 0);
    if (!hold) {
      const second = Math.floor(Date.now() / 1000);
      if (this.#newDeletes > 0) this.#takenDeletes.set(second, (this.#takenDeletes.get(second) ?? 0) + this.#newDeletes);
      this.#newDeletes = 0;
    }
    this.#inFlight = drained.entries;
    this.#inFlightOldest = drained.oldest;
    return {
      entries: drained.entries,
      oldest: drained.oldest,
      renames: this.#renames.splice(0),
      recentlySynced: this.#recent,
      hardlinks: this.hardlinks,
      forceAll: options.forceAll ?? false,
      deletes: !hold,
    };
  }

  /** The batch could not be trusted to have landed: everything goes back, first-seen times kept. */
  giveBack(input: BatchInput): void {
    this.dirty.restore(input.entries);
    this.#renames.unshift(...input.renames);
    this.#inFlight = null;
    this.#inFlightOldest = null;
    this.dirty.releaseInFlight();
  }

  /**
   * The batch landed except `outcome.failed`: record failures and recoveries (as events), remember what was
   * synced for the same-tick rule, and queue the parents of deletions for an mtime touch-up. Returns the
   * number of failed paths.
   */
  landed(input: BatchInput, outcome: Extract<BatchOutcome, { kind: 'landed' }>, started: number, bus: EventBus): number {
    this.#inFlight = null;
    this.#inFlightOldest = null;
    this.dirty.releaseInFlight(); // renames no longer carry its entries (src/engine/dirty-set.ts)
    const byPath = new Map(input.entries.map((e) => [e.path, e]));
    const failed = new Set<RelPath>();
    const now = Date.now();
    for (const f of outcome.failed) {
      failed.add(f.path);
      const e = byPath.get(f.path);
      const rec = this.#failures.record(f.path, f.message, e?.flags ?? META | DATA, e?.since ?? input.oldest ?? started, now);
      bus.emit({ type: 'path-failed', path: display(f.path), message: f.message, attempts: rec.attempts });
    }
    for (const e of input.entries) {
      if (!failed.has(e.path) && this.#failures.clear(e.path)) bus.emit({ type: 'path-recovered', path: display(e.path) });
    }
    // a failed path below a recursive entry that landed was synced by it (its retry mark was absorbed by that
    // entry, or came later: it stayed failed, and counted as lag, for good; churn SEED=4009)
    const deep = new Set(input.entries.filter((e) => e.flags & DEEP && !failed.has(e.path)).map((e) => e.path));
    for (const f of deep.size > 0 ? this.#failures.list() : []) {
      if (!failed.has(f.path) && underAny(deep, f.path) && this.#failures.clear(f.path)) bus.emit({ type: 'path-recovered', path: display(f.path) });
    }
    for (const [p, t] of this.#recent) if (started - t > SAME_TICK_WINDOW_MS) this.#recent.delete(p);
    for (const p of outcome.plan.flat) this.#recent.set(p, started);
    for (const p of outcome.plan.forced) this.#recent.set(p, started);
    // rsync sets a directory's mtime before deleting inside it: touch up the parents of deletions next batch
    for (const e of input.entries) if (e.flags & GONE && e.path !== '') this.dirty.mark(parentOf(e.path), META, isCookie(e.path) ? COOKIE_SINCE : now);
    // a link whose other names are unknown landed as a copy: it is unsynced until the search and the next batch
    this.links.landed(Math.min(input.oldest ?? started, started));
    return failed.size;
  }

  /**
   * issue 3 fix: paths a partial seed (rsync exit 23) could not sync wait in the failed-paths map, retried with
   * backoff (recursively: a directory that failed may have skipped its contents), instead of the whole job
   * retrying the seed forever in degraded while nothing else is mirrored.
   */
  seedFailed(failed: readonly FailedPath[], since: number, bus: EventBus): void {
    for (const f of failed) {
      const rec = this.#failures.record(f.path, f.message, META | DATA | DEEP, since, Date.now());
      bus.emit({ type: 'path-failed', path: display(f.path), message: f.message, attempts: rec.attempts });
    }
  }

  /** First-seen time of the oldest change not yet on the target (cookies excluded), or null. */
  oldestUnsynced(): number | null {
    return earliest([this.dirty.oldest, this.#inFlightOldest, this.#failures.oldest(), this.links.oldest]);
  }

  /** A batch will carry the path: it is dirty, or failed and waiting for its retry. O(depth). */
  isPending(path: RelPath): boolean {
    return this.dirty.has(path) || this.#failures.has(path);
  }

  failedPaths(): Array<{ path: string; message: string; attempts: number }> {
    return this.#failures.list().map((f) => ({ path: display(f.path), message: f.message, attempts: f.attempts }));
  }

  /** Why the job is degraded by its failed paths (some failed DEGRADED_AFTER_ATTEMPTS times), or null. */
  persistentFailure(): string | null {
    const failing = this.#failures.failingSince(DEGRADED_AFTER_ATTEMPTS);
    if (failing.length === 0) return null;
    const first = failing[0]!;
    return `${failing.length} path${failing.length === 1 ? '' : 's'} failing after ${DEGRADED_AFTER_ATTEMPTS}+ attempts (${display(first.path)}: ${first.message})`;
  }

  clearFailures(paths: readonly RelPath[]): void {
    for (const p of paths) this.#failures.clear(p);
  }

  /** Pending work to persist: in-flight, dirty and failed entries, and renames not yet replayed. */
  pending(): { entries: DirtyEntry[]; renames: Rename[] } {
    const failed = this.#failures.list().map((f) => ({ path: f.path, flags: f.flags, since: f.since }));
    return { entries: [...(this.#inFlight ?? []), ...this.dirty.peek(), ...failed], renames: [...this.#renames] };
  }

  /** Forget everything pending (after the cutover: those changes happened on the old tree). */
  discard(): void {
    this.dirty.drain();
    this.#renames.length = 0;
  }

  /** Names of hard-link groups the relink pass found split on the target: synced together again. */
  relink(names: readonly RelPath[], since: number): void {
    for (const p of names) this.dirty.mark(p, META | DATA, since);
  }
}

/** `path` is one of `dirs` or below one. */
function underAny(dirs: ReadonlySet<RelPath>, path: RelPath): boolean {
  if (dirs.has(path) || dirs.has('')) return true;
  for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) if (dirs.has(path.slice(0, i))) return true;
  return false;
}

/** The earliest real time among `times` (null and cookie times left out), or null. */
function earliest(times: ReadonlyArray<number | null>): number | null {
  const real = times.filter((t): t is number => t !== null && t < COOKIE_SINCE);
  return real.length === 0 ? null : Math.min(...real);
}
