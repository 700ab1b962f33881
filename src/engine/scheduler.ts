/**
 * The mirror's batch timers: one timer (or immediate) for the next batch, at the time the policy
 * (src/engine/schedule.ts BatchClock: the writes lane's debounce, the deletion lane's settle time) says; the
 * backoff timer after a failed batch; and the timer that hands failed paths back to the dirty set when the
 * first of them is due for its retry. Nothing is armed while a batch is in flight: the mirror schedules again
 * after it. Stop, quiesce and halt cancel the batch timer; an immediate already queued re-checks when it runs.
 */
import type { WatchChange } from '../watch/types.ts';
import { BatchClock, DELETE_MAX_WAIT_MS, DELETE_SETTLE_MS, lanesOf, type Pending } from './schedule.ts';
import type { MirrorView } from './mirror-view.ts';

export class Scheduler {
  #view: MirrorView;
  /** starts a batch now */
  #run: () => void;
  #clock: BatchClock;
  #timer: NodeJS.Timeout | null = null;
  /** the next batch when it is due at once (a timeout waits 1 ms at least) */
  #immediate: NodeJS.Immediate | null = null;
  /** schedule(true) since the last batch: the writes lane is due at once */
  #hurry = false;
  #failureTimer: NodeJS.Timeout | null = null;

  constructor(view: MirrorView, run: () => void) {
    this.#view = view;
    this.#run = run;
    const options = view.options;
    // deletions never go out sooner than writes would (--delay 600000: nothing until stop)
    this.#clock = new BatchClock({
      delayMs: options.delayMs,
      maxWaitMs: options.maxWaitMs,
      settleMs: Math.max(DELETE_SETTLE_MS, options.delayMs),
      settleMaxWaitMs: Math.max(DELETE_MAX_WAIT_MS, options.maxWaitMs),
    });
  }

  /** A watcher read was absorbed at `now`: its lanes' windows move. */
  note(changes: readonly WatchChange[], now: number): void {
    for (const lane of lanesOf(changes)) this.#clock.note(lane, now, changes.length);
  }

  /** Arms the timer for the next batch; `now`: the writes lane goes as soon as possible. */
  schedule(now: boolean): void {
    const { queue } = this.#view;
    if (!this.#view.active() || queue.busy) return;
    if (now) this.#hurry = true;
    const at = this.#clock.nextBatch(queue.pendingLanes, this.#hurry);
    if (at === null || this.#immediate) return;
    this.cancel();
    const wait = at - Date.now();
    if (wait <= 0) this.#immediate = setImmediate(() => ((this.#immediate = null), this.#fire()));
    // a timer runs before the loop polls the inotify fd: look again after the poll (an immediate), so changes
    // already queued in the kernel (the daemon was busy) still move the debounce instead of splitting a burst
    else this.#timer = setTimeout(() => ((this.#timer = null), this.schedule(false)), wait);
  }

  /** The batch is due (cancel clears the timer only, so an immediate re-checks here). */
  #fire(): void {
    const { queue } = this.#view;
    if (queue.busy || !this.#view.active()) return;
    const at = this.#clock.nextBatch(queue.pendingLanes, this.#hurry);
    if (at !== null && at > Date.now()) return this.schedule(false);
    this.#hurry = false;
    this.#run();
  }

  /**
   * A batch starts at `now`: whether it takes the deletion lane (their deletions settled) or the writes lane
   * alone (held deletions stay, none made); null when neither is due.
   */
  take(now: number, pending: Pending): { deletions: boolean } | null {
    const deletions = this.#clock.deletionsDue(now, pending);
    if (!pending.writes && !deletions) return null;
    this.#clock.took(deletions);
    return { deletions };
  }

  /** After a failed batch: the next one in `ms` (the backoff), whatever is due. */
  retryIn(ms: number): void {
    this.cancel();
    this.#timer = setTimeout(() => ((this.#timer = null), this.#run()), ms);
  }

  /** Failed paths wait for their backoff; a timer hands them back to the dirty set when the first is due. */
  armFailureRetry(): void {
    const { queue } = this.#view;
    const next = queue.nextRetryAt();
    if (next === null || this.#view.stopping()) return;
    if (this.#failureTimer) clearTimeout(this.#failureTimer);
    this.#failureTimer = setTimeout(() => {
      this.#failureTimer = null;
      queue.requeueDue(Date.now());
      this.armFailureRetry();
      this.schedule(true);
    }, Math.max(0, next - Date.now()));
    this.#failureTimer.unref();
  }

  /** No batch timer (quiesce, halt); `all`: the failed paths' timer too (stop). */
  cancel(all = false): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (all && this.#failureTimer) clearTimeout(this.#failureTimer);
    if (all) this.#failureTimer = null;
  }
}
