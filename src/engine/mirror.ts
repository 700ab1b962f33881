/**
 * The mirror: one job keeping TARGET identical to SOURCE, as a state machine. Follow one event: the watcher
 * (src/watch/) reports a WatchChange → `#absorb` marks the SyncQueue's dirty set (sync-queue.ts, dirty-set.ts)
 * → the Scheduler (scheduler.ts; policy in schedule.ts: an idle mirror starts at once, later changes wait for
 * the --delay debounce, deletions for their settle time) arms one timer → `#runBatch` runs one batch
 * (batch-cycle.ts → batch.ts: renames replayed, lists to rsync) → landed paths are done, failed paths wait in
 * the failed-paths map with a backoff, a failed batch goes back whole and the next one waits for a backoff.
 *
 *   starting ──watches ready──▶ seeding ──seed ok──▶ catching-up ──queue empty──▶ in-sync
 *                                 │                     ▲      │                      │
 *                                 └──seed failed──▶ degraded ◀─┴──batch failed / target lost
 *                                                       └──retry ok──▶ catching-up
 *   any ──source root gone──▶ halted (the target is left untouched; an operator must resolve)
 *   any ──stop()──▶ stopping (in-flight batch finishes, pending paths persisted)
 *
 * Order that loses nothing: watches first, then the seed; events during the seed wait in the dirty set and
 * are synced after it. Only one batch is in flight, so a path is never in two concurrent batches.
 * The other parts work through one view of the job (mirror-view.ts): start-up (seed or reconcile: startup.ts),
 * the heartbeat (heartbeat.ts), the flush barrier (flush.ts), the relink pass for hard links (relink.ts) and
 * the cutover's final delta (final-delta.ts).
 */
import type { EventBus, MirrorState } from '../events/event.ts';
import type { FlushResult, JobControl, JobInfo } from './job.ts';
import type { WatchChange } from '../watch/types.ts';
import { identity, unlinkUnder, type Identity } from '../sys/fsops.ts';
import type { DirtyEntry, DirtySet } from './dirty-set.ts';
import { WarmRsync, type Rename } from './batch-runner.ts';
import { SyncQueue } from './sync-queue.ts';
import { backoffMs } from '../sync/rsync-exit.ts';
import { heartbeatCookie } from './cookies.ts';
import { Waiters } from './waiters.ts';
import type { MirrorOptions, MirrorView } from './mirror-view.ts';
import { establishBase, type StartOutcome } from './startup.ts';
import { Scheduler } from './scheduler.ts';
import { runBatchCycle } from './batch-cycle.ts';
import { Heartbeat } from './heartbeat.ts';
import { FlushBarrier } from './flush.ts';
import { RelinkPass } from './relink.ts';
import { pinTarget } from './target-pin.ts';
import { runFinalDelta, type FinalDeltaResult } from './final-delta.ts';

export type { MirrorOptions } from './mirror-view.ts';

/** Lag above which an in-sync job reports catching-up again, and below which it is in-sync. */
export const CATCHING_UP_LAG_MS = 10_000;

export class Mirror implements JobControl {
  readonly info: JobInfo;
  readonly bus: EventBus;
  #o: MirrorOptions;
  #q: SyncQueue;
  #state: MirrorState = 'starting';
  #seeded = false;
  #paused = false;
  #stopping = false;
  /** an rsync started while idle, for the next small batch (src/engine/batch-runner.ts) */
  #warm: WarmRsync;
  /** consecutive failed batches (backoff) */
  #attempt = 0;
  #batchId = 0;
  #treeEntries = 0;
  /** the roots' identities at start: a batch writes only into the same target, from the same source */
  #roots: { source: Identity; target: Identity } | null = null;
  #lastWatches = '';
  #idle = new Waiters();
  #stopped = new Waiters();
  #view: MirrorView;
  #sched: Scheduler;
  #heartbeat: Heartbeat;
  #flush: FlushBarrier;
  #relink: RelinkPass;

  constructor(options: MirrorOptions) {
    this.#o = options;
    const q = (this.#q = new SyncQueue(options.source, () => options.watcher.settle()));
    this.#warm = new WarmRsync(options);
    const info = (this.info = options.info);
    const bus = (this.bus = options.bus);
    this.#view = {
      options, info, bus, queue: q, idle: this.#idle,
      state: () => this.#state,
      stopping: () => this.#stopping,
      paused: () => this.#paused,
      active: () => this.#seeded && !this.#stopping && !this.#paused && this.#state !== 'halted',
      retrying: () => this.#attempt > 0,
      setState: (state, reason) => this.#setState(state, reason),
      schedule: (now) => this.#sched.schedule(now),
      emitQueue: () => this.#emitQueue(),
      emitWatches: () => this.#emitWatchesIfChanged(),
    };
    this.#sched = new Scheduler(this.#view, () => void this.#runBatch());
    this.#heartbeat = new Heartbeat(this.#view);
    this.#flush = new FlushBarrier(this.#view);
    this.#relink = new RelinkPass(this.#view);
    options.watcher.onChanges = (changes) => this.#absorb(changes);
    options.watcher.onProblem = (p) => {
      if (p.kind === 'root-gone') this.#halt(`source root ${info.source} disappeared or was replaced`);
      else if (p.kind === 'overflow') bus.emit({ type: 'overflow', total: options.watcher.stats().overflows });
      else bus.emit({ type: 'watch-failed', path: p.path ?? '', errno: p.errno, message: p.message });
    };
  }

  get state(): MirrorState {
    return this.#state;
  }

  get dirty(): DirtySet {
    return this.#q.dirty;
  }

  /** Runs until stop() or a halt. Resolves when stopped. */
  async run(): Promise<void> {
    this.bus.emit({ type: 'job', name: this.info.name, source: this.info.source, target: this.info.target, stateDir: this.info.stateDir, watcher: this.info.watcher });
    this.#setState('starting');
    const source = identity(this.info.source);
    const target = identity(this.info.target);
    if (!('dev' in source) || !('dev' in target)) throw new Error('source or target vanished before start');
    this.#roots = { source, target };
    // from here on every rsync of the job runs with the target pinned to this filesystem (src/sys/pin-exec.ts)
    const unpinned = await pinTarget(this.#o, target);
    if (unpinned) this.bus.emit({ type: 'warning', code: 'W_TARGET_UNPINNED', message: `rsync runs without the target pinned (${unpinned}): a share unmounted in the instant between a batch's check and its rsync could take writes into the bare mountpoint` });
    const t0 = performance.now();
    await this.#o.watcher.start();
    this.bus.emit({ type: 'watch-ready', watchedDirs: this.#o.watcher.stats().watchedDirs, durationMs: Math.round(performance.now() - t0), watcher: this.#o.watcher.kind });
    if (this.#o.carryOver?.length) this.#absorb([...this.#o.carryOver]);
    if (!this.#stopping) {
      const base = await establishBase(this.#view);
      if (base.kind === 'halt') this.#halt(base.reason);
      else if (base.kind === 'mirroring') await this.#startMirroring(base);
    }
    if (this.#o.heartbeat && !this.#stopping) this.#heartbeat.start();
    await this.#stopped.wait();
  }

  /** After the seed or the reconcile: the dirty set (events since the watches, differences) drains in batches. */
  async #startMirroring(base: Extract<StartOutcome, { kind: 'mirroring' }>): Promise<void> {
    this.#treeEntries = base.entries;
    // before the first batch: a link made during the seed must find its sibling in the index
    await this.#q.links.load(base.reconciled, base.reconciled ? base.multiLinks : undefined);
    this.#seeded = true;
    this.#sched.armFailureRetry(); // the seed's failed paths, if any
    this.#setState('catching-up');
    // scheduling is a no-op on an empty queue: without this a quiet job with --no-heartbeat stayed catching-up
    if (this.#q.pendingCount === 0) this.#afterBatch([]);
    else this.#sched.schedule(true);
  }

  #absorb(changes: WatchChange[]): void {
    const now = Date.now();
    this.#q.absorb(changes, now, (cookie) => this.#flush.cookieSeen(cookie));
    this.#sched.note(changes, now);
    this.bus.emit({ type: 'changes', count: changes.length });
    this.#emitQueue();
    // a directory came or went: the watch count may have changed
    if (changes.some((c) => c.kind === 'subtree' || (c.kind !== 'change' && c.isDir))) this.#emitWatchesIfChanged();
    this.#sched.schedule(false);
  }

  /** One batch (src/engine/batch-cycle.ts), then the state it leaves the job in. */
  async #runBatch(): Promise<void> {
    const roots = this.#roots!;
    const r = await runBatchCycle({ view: this.#view, scheduler: this.#sched, warm: this.#warm, sourceId: roots.source, targetId: roots.target, treeEntries: this.#treeEntries, nextId: () => ++this.#batchId });
    if (r.kind === 'halt') return this.#halt(r.reason);
    if (r.kind === 'retry') return this.#retryLater(r.reason);
    if (r.kind === 'idle') return this.#afterBatch([]);
    this.#attempt = 0;
    this.#sched.armFailureRetry();
    this.#q.links.resolve(() => this.#sched.schedule(true));
    this.#afterBatch(r.entries);
  }

  #afterBatch(synced: readonly DirtyEntry[]): void {
    this.#emitQueue();
    this.#emitWatchesIfChanged();
    this.#heartbeat.synced(synced);
    const lag = this.oldestUnsynced();
    if (this.#state === 'degraded' || this.#state === 'catching-up' || this.#state === 'in-sync') {
      const failing = this.#q.persistentFailure();
      if (failing !== null) this.#setState('degraded', failing);
      else if (lag === null || Date.now() - lag < 1_000) this.#setState('in-sync');
      else if (Date.now() - lag > CATCHING_UP_LAG_MS) this.#setState('catching-up');
    }
    this.#idle.wake();
    if (this.#stopping) return this.#finishStop();
    this.#relink.afterBatch();
    this.#sched.schedule(false);
    // going idle: start the rsync for the next small write, in the next loop turn so that a flush or status answer
    // woken above goes out before the fork (measured 2-9 ms of fork between a batch landing and a flush's reply)
    setImmediate(() => {
      // only while healthy: one started while the target is gone would only fail (pin-exec) or, unpinned, work in the bare mountpoint
      const healthy = this.#state === 'in-sync' || this.#state === 'catching-up';
      if (healthy && !this.#q.busy && !this.#q.pendingLanes.writes && !this.#paused && !this.#stopping) this.#warm.prepare();
    });
  }

  #retryLater(reason: string): void {
    this.#attempt++;
    this.#setState('degraded', reason);
    this.#idle.wake();
    if (this.#stopping) return this.#finishStop();
    this.#sched.retryIn(backoffMs(this.#attempt));
  }

  /** First-seen time of the oldest change not yet on the target, or null when everything is synced. */
  oldestUnsynced(): number | null {
    return this.#q.oldestUnsynced();
  }

  /** Paths rsync could not sync, with their last error and attempts (status shows them). */
  failedPaths(): Array<{ path: string; message: string; attempts: number }> {
    return this.#q.failedPaths();
  }

  /** The watch counts, whenever they changed (after a batch, and on every heartbeat tick). */
  #emitWatchesIfChanged(): void {
    const st = this.#o.watcher.stats();
    const key = `${st.watchedDirs}/${st.unwatched.length}`;
    if (key === this.#lastWatches) return;
    this.#lastWatches = key;
    this.bus.emit({ type: 'watches', watchedDirs: st.watchedDirs, unwatchedDirs: st.unwatched.length });
  }

  #emitQueue(): void {
    this.bus.emit({ type: 'queue', pendingPaths: this.#q.pendingCount, inFlightPaths: this.#q.inFlightCount, oldestChangeAt: this.oldestUnsynced() });
  }

  #setState(state: MirrorState, reason?: string): void {
    if (this.#state === state) return;
    if (this.#state === 'halted' && state !== 'stopping') return;
    this.#state = state;
    this.bus.emit({ type: 'state', state, ...(reason ? { reason } : {}) });
  }

  #halt(reason: string): void {
    this.#sched.cancel();
    this.#warm.drop();
    this.bus.emit({ type: 'error', code: 'E_HALTED', message: `halted: ${reason}; nothing more is propagated to the target` });
    this.#setState('halted', reason);
    this.#idle.wake();
  }

  /**
   * Cutover hook: no new batch starts until `resume()`; resolves once no batch is in flight. Events keep
   * landing in the dirty set. The heartbeat stops writing into the source.
   */
  async quiesce(): Promise<void> {
    this.#paused = true;
    this.#sched.cancel();
    this.#warm.drop(); // its cwd is in the source the cutover is about to cover
    this.#heartbeat.stop();
    while (this.#q.busy) await this.#idle.wait(1_000);
  }

  /** Cutover hook (rollback): batches start again. */
  resume(): void {
    this.#paused = false;
    if (this.#o.heartbeat && !this.#heartbeat.running && !this.#stopping) this.#heartbeat.start();
    this.#sched.schedule(true);
  }

  /** Cutover hook, called with the applications frozen and the mirror quiesced (src/engine/final-delta.ts). */
  async finalDelta(options: { signal?: AbortSignal } = {}): Promise<FinalDeltaResult> {
    try {
      return await runFinalDelta(this.#view, this.#relink, options.signal);
    } finally {
      this.#emitQueue();
    }
  }

  /** Cutover hook: the share is now at the source path; mirroring ends for good. */
  async markCutOver(): Promise<void> {
    this.#paused = true;
    // changes seen after the final delta happened on the old tree (now hidden): nothing is pending any more
    this.#q.discard();
    this.#setState('cut-over');
    this.#emitQueue();
    await this.#o.watcher.close();
  }

  /** Cutover hook: state shown while the cutover runs (and restored on rollback). */
  setCutoverState(active: boolean): void {
    if (active) this.#setState('cutting-over');
    else this.#setState(this.oldestUnsynced() === null ? 'in-sync' : 'catching-up');
  }

  /**
   * Cutover hook, before the freeze: with the applications still running, sync now (no debounce) everything
   * changed until this call, so the frozen final delta carries only what changes meanwhile.
   */
  presync(timeoutMs: number): Promise<FlushResult> {
    this.#sched.schedule(true);
    return this.#flush.flush(timeoutMs);
  }

  /** Barrier: every change made in the source before the call is on the target (src/engine/flush.ts). */
  flush(timeoutMs: number): Promise<FlushResult> {
    return this.#flush.flush(timeoutMs);
  }

  async stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#sched.cancel(true);
      this.#relink.stop();
      this.#warm.drop();
      this.#heartbeat.stop();
      if (!this.#q.busy) this.#finishStop();
    }
    await this.#stopped.wait();
  }

  #finishStop(): void {
    if (this.#stopped.done) return;
    this.#setState('stopping');
    const hb = heartbeatCookie(this.info.name);
    unlinkUnder(this.info.source, hb);
    if (this.#seeded) unlinkUnder(this.info.target, hb);
    void this.#o.watcher.close().finally(() => this.#stopped.finish());
  }

  /** Pending work to persist on stop: the dirty, in-flight and failed paths and renames not yet on the target. */
  pending(): { entries: DirtyEntry[]; renames: Rename[] } {
    return this.#q.pending();
  }
}
