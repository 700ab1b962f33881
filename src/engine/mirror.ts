/**
 * The mirror: one job keeping TARGET identical to SOURCE. Follow one event: the watcher (src/watch/) reports a
 * WatchChange → `#absorb` marks the SyncQueue's dirty set (src/engine/sync-queue.ts, dirty-set.ts) →
 * `#schedule` arms one timer for the next batch (src/engine/schedule.ts: an idle mirror starts at once, later
 * changes wait for the --delay debounce, deletions for their settle time) → `#runBatch` takes what is due and
 * runs one batch (src/engine/batch.ts: renames replayed, lists to rsync) → landed paths are done, failed paths
 * wait in the failed-paths map with a backoff, a failed batch goes back whole.
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
 */
import type { EventBus, MirrorState } from '../events/event.ts';
import { errorText } from '../errors/errors.ts';
import type { FlushResult, JobControl, JobInfo } from './job.ts';
import type { WatchChange, Watcher } from '../watch/types.ts';
import type { RelPath } from '../util/bpath.ts';
import { identity, sameIdentity, unlinkUnder, writeFileUnder, type Identity } from '../sys/fsops.ts';
import { DEEP, type DirtyEntry, type DirtySet } from './dirty-set.ts';
import type { Rename } from './batch-runner.ts';
import { executeBatch, type BatchOutcome } from './batch.ts';
import { WarmRsync } from './batch-runner.ts';
import { massDelete, sourceEmptied } from './safety.ts';
import { COOKIE_SINCE, SyncQueue } from './sync-queue.ts';
import { BatchClock, DELETE_MAX_WAIT_MS, DELETE_SETTLE_MS, type Lane } from './schedule.ts';
import { backoffMs } from '../sync/rsync-exit.ts';
import { seed } from '../sync/seed.ts';
import { reconcile, targetHasTree } from './reconcile.ts';
import { failedPaths } from '../sync/rsync-errors.ts';
import type { RsyncCommon } from '../sync/rsync-args.ts';
import { flushCookie, heartbeatCookie, HEARTBEAT_INTERVAL_MS, HEARTBEAT_RETRY_MS } from './cookies.ts';
import { Waiters } from './waiters.ts';

/** Lag above which an in-sync job reports catching-up again, and below which it is in-sync. */
export const CATCHING_UP_LAG_MS = 10_000;

export interface MirrorOptions extends RsyncCommon {
  info: JobInfo;
  bus: EventBus;
  watcher: Watcher;
  isExcluded: (rel: RelPath, isDir: boolean) => boolean;
  /** the --exclude patterns themselves (the restart reconcile's comparison skips what the mirror skips) */
  excludes: readonly string[];
  /** changes carried over from the previous run's pending record, synced after the seed or reconcile */
  carryOver?: readonly WatchChange[];
  /** trailing debounce after the last event */
  delayMs: number;
  /** a batch starts at most this long after the first unsynced event, however busy the source */
  maxWaitMs: number;
  seedWorkers: number;
  heartbeat: boolean;
  /** halt instead of propagating more deletions than this within 10 s (or in the seed); null = no limit */
  maxDelete: { count: number } | { percent: number } | null;
  /** allow an empty source root to empty the target (otherwise: halted) */
  allowEmptySource: boolean;
}

export class Mirror implements JobControl {
  readonly info: JobInfo;
  readonly bus: EventBus;
  #o: MirrorOptions;
  #q: SyncQueue;
  #state: MirrorState = 'starting';
  #seeded = false;
  #paused = false;
  #stopping = false;
  #timer: NodeJS.Timeout | null = null;
  /** the next batch when it is due at once (a timeout waits 1 ms at least) */
  #immediate: NodeJS.Immediate | null = null;
  /** #schedule(true) since the last batch: the writes lane is due at once */
  #hurry = false;
  #clock: BatchClock;
  /** an rsync started while idle, for the next small batch (src/engine/batch-runner.ts) */
  #warm: WarmRsync;
  #failureTimer: NodeJS.Timeout | null = null;
  /** consecutive failed batches (backoff) */
  #attempt = 0;
  #batchId = 0;
  #treeEntries = 0;
  #targetId: Identity | null = null;
  #sourceId: Identity | null = null;
  #heartbeat: { timer: NodeJS.Timeout | null; writtenAt: number | null } = { timer: null, writtenAt: null };
  #cookiesSeen = new Map<RelPath, () => void>();
  #flushes = 0;
  #idle = new Waiters();
  #stopped = new Waiters();

  constructor(options: MirrorOptions) {
    this.#o = options;
    this.#q = new SyncQueue(options.source);
    // deletions never go out sooner than writes would (--delay 600000: nothing until stop)
    this.#clock = new BatchClock({
      delayMs: options.delayMs,
      maxWaitMs: options.maxWaitMs,
      settleMs: Math.max(DELETE_SETTLE_MS, options.delayMs),
      settleMaxWaitMs: Math.max(DELETE_MAX_WAIT_MS, options.maxWaitMs),
    });
    this.#warm = new WarmRsync(options);
    this.info = options.info;
    this.bus = options.bus;
    options.watcher.onChanges = (changes) => this.#absorb(changes);
    options.watcher.onProblem = (p) => {
      if (p.kind === 'root-gone') this.#halt(`source root ${this.info.source} disappeared or was replaced`);
      else if (p.kind === 'overflow') this.bus.emit({ type: 'overflow', total: options.watcher.stats().overflows });
      else this.bus.emit({ type: 'watch-failed', path: p.path ?? '', errno: p.errno, message: p.message });
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
    const src = identity(this.info.source);
    const dst = identity(this.info.target);
    if (!('dev' in src) || !('dev' in dst)) throw new Error('source or target vanished before start');
    this.#sourceId = src;
    this.#targetId = dst;
    const t0 = performance.now();
    await this.#o.watcher.start();
    this.bus.emit({ type: 'watch-ready', watchedDirs: this.#o.watcher.stats().watchedDirs, durationMs: Math.round(performance.now() - t0), watcher: this.#o.watcher.kind });
    if (this.#o.carryOver?.length) this.#absorb([...this.#o.carryOver]);
    if (!this.#stopping) await this.#seedLoop();
    if (this.#o.heartbeat && !this.#stopping) this.#startHeartbeat();
    await this.#stopped.wait();
  }

  async #seedLoop(): Promise<void> {
    for (let attempt = 1; !this.#stopping && this.#state !== 'halted'; attempt++) {
      this.#setState('seeding');
      if (sourceEmptied(this.#o)) return this.#halt(`source root ${this.info.source} is empty but the target is not; refusing to empty the target (--allow-empty-source overrides)`);
      const maxDeleteCount = this.#o.maxDelete && 'count' in this.#o.maxDelete ? this.#o.maxDelete.count : 0;
      // a restart (the target holds a tree): compare both trees and queue the differences instead of a full pass
      const r = targetHasTree(this.info.target) ? await reconcile({ ...this.info, excludes: this.#o.excludes, maxDeleteCount }) : null;
      if (r?.kind === 'halt') return this.#halt(r.why);
      if (r?.kind === 'fallback') this.bus.emit({ type: 'warning', code: 'W_RECONCILE', message: r.why });
      if (r?.kind === 'plan') {
        this.bus.emit({ type: 'info', message: r.summary, data: { ...r.plan, changes: r.plan.changes.length } });
        this.#treeEntries = r.plan.entries;
        this.#q.absorb(r.plan.changes, Date.now(), () => undefined);
        this.#emitQueue();
        return this.#startMirroring(true);
      }
      if (this.#stopping) return;
      const result = await seed({ ...this.#o, workers: this.#o.seedWorkers, bus: this.bus, maxDeleteCount });
      if (result.exitCode === 25) return this.#halt(`the seed would delete more than ${maxDeleteCount} paths on the target (--max-delete); target partly reconciled, deletions stopped`);
      // issue 3 fix: a partial seed (23) with known failed paths is a seed; those paths wait with a backoff
      const failed = result.exitCode === 23 ? failedPaths(result.stderr ?? '', [this.info.source, this.info.target], new Map([['', true]])) : [];
      if (result.outcome === 'ok' || result.outcome === 'vanished' || failed.length > 0) {
        this.#q.seedFailed(failed, Date.now(), this.bus);
        this.#treeEntries = result.entries;
        return this.#startMirroring();
      }
      const wait = backoffMs(attempt);
      this.bus.emit({ type: 'error', code: 'E_SEED', message: `seed failed (${result.message}); retrying in ${wait} ms` });
      this.#setState('degraded', result.message);
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** After the seed or the reconcile: the dirty set (events since the watches, differences) drains in batches. */
  async #startMirroring(reconciled = false): Promise<void> {
    // before the first batch: a link made during the seed must find its sibling in the index
    await this.#q.loadHardLinks(reconciled);
    this.#seeded = true;
    this.#armFailureRetry(); // the seed's failed paths, if any
    this.#setState('catching-up');
    // #schedule is a no-op on an empty queue: without this a quiet job with --no-heartbeat stayed catching-up
    if (this.#q.pendingCount === 0) this.#afterBatch([]);
    else this.#schedule(true);
  }

  #absorb(changes: WatchChange[]): void {
    const now = Date.now();
    this.#q.absorb(changes, now, (cookie) => this.#cookiesSeen.get(cookie)?.());
    for (const lane of lanesOf(changes)) this.#clock.note(lane, now, changes.length);
    this.bus.emit({ type: 'changes', count: changes.length });
    this.#emitQueue();
    // a directory came or went: the watch count may have changed
    if (changes.some((c) => c.kind === 'subtree' || (c.kind !== 'change' && c.isDir))) this.#emitWatchesIfChanged();
    this.#schedule(false);
  }

  /**
   * Arms the timer for the next batch (src/engine/schedule.ts); `now`: the writes lane goes as soon as possible.
   * Nothing while a batch is in flight: #afterBatch schedules what arrived meanwhile.
   */
  #schedule(now: boolean): void {
    if (!this.#seeded || this.#stopping || this.#paused || this.#state === 'halted' || this.#q.busy) return;
    if (now) this.#hurry = true;
    const at = this.#clock.nextBatch(this.#q.pendingLanes, this.#hurry);
    if (at === null || this.#immediate) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const wait = at - Date.now();
    if (wait <= 0) this.#immediate = setImmediate(() => ((this.#immediate = null), this.#fire()));
    // a timer runs before the loop polls the inotify fd: look again after the poll (an immediate), so changes
    // already queued in the kernel (the daemon was busy) still move the debounce instead of splitting a burst
    else this.#timer = setTimeout(() => ((this.#timer = null), this.#schedule(false)), wait);
  }

  /** The batch is due; stop, quiesce and halt clear #timer only, so an immediate re-checks here. */
  #fire(): void {
    if (this.#q.busy || this.#stopping || this.#paused || this.#state === 'halted') return;
    const at = this.#clock.nextBatch(this.#q.pendingLanes, this.#hurry);
    if (at !== null && at > Date.now()) return this.#schedule(false);
    this.#hurry = false;
    void this.#runBatch();
  }

  async #runBatch(): Promise<void> {
    if (this.#targetId && !sameIdentity(identity(this.info.target), this.#targetId)) {
      return this.#retryLater(`target ${this.info.target} is not the filesystem recorded at start (unmounted or replaced); not writing into it`);
    }
    if (this.#sourceId && !sameIdentity(identity(this.info.source), this.#sourceId)) return this.#halt(`source root ${this.info.source} disappeared or was replaced`);
    const unsafe = massDelete(this.#o, this.#q.pendingDeletes, this.#treeEntries);
    if (unsafe) return this.#halt(unsafe);
    const now = Date.now();
    this.#q.requeueDue(now);
    const lanes = this.#q.pendingLanes;
    // the deletion lane when its deletions settled; else the writes lane alone (held deletions stay, none made)
    const deletions = this.#clock.deletionsDue(now, lanes);
    if (!lanes.writes && !deletions) return this.#afterBatch([]);
    const id = ++this.#batchId;
    const input = this.#q.take({ holdDeletions: !deletions });
    this.#clock.took(deletions);
    this.#emitQueue();
    const started = Date.now();
    this.bus.emit({ type: 'batch-start', id, paths: input.entries.length, deepPaths: input.entries.filter((e) => e.flags & DEEP).length, renames: input.renames.length });
    let outcome: BatchOutcome;
    try {
      outcome = await executeBatch(this.#o, input, started, undefined, this.#warm);
    } catch (err) {
      // an unexpected error inside the batch (a bug, an OS error no table knows): nothing is trusted to have
      // landed, the batch goes back whole (renames too: one already replayed falls back to a sync) and retries
      this.#q.giveBack(input);
      const message = `batch ${id} failed unexpectedly: ${errorText(err)}`;
      this.bus.emit({ type: 'error', code: 'E_BATCH', message });
      return this.#retryLater(message);
    }
    for (const r of outcome.renames) this.bus.emit({ type: 'rename', from: r.from, to: r.to, ok: r.ok, ...(r.errno ? { errno: r.errno } : {}) });
    if (outcome.kind === 'retry') {
      this.#q.giveBack({ ...input, renames: [] }); // renames were replayed (or fell back to syncing their destinations)
      this.bus.emit({ type: 'batch-failed', id, exitCode: outcome.exitCode, outcome: outcome.outcome, message: outcome.message, retryInMs: 0 });
      return this.#retryLater(outcome.message);
    }
    this.#attempt = 0;
    const failed = this.#q.landed(input, outcome, started, this.bus);
    this.#armFailureRetry();
    this.#q.resolveHardLinks(() => this.#schedule(true));
    this.bus.emit({
      type: 'batch-done',
      id,
      paths: input.entries.length - failed,
      files: outcome.files,
      bytes: outcome.bytes,
      durationMs: Date.now() - started,
      lagMs: input.oldest === null || input.oldest >= COOKIE_SINCE ? 0 : Date.now() - input.oldest,
    });
    this.#afterBatch(input.entries);
  }

  /** Failed paths wait for their backoff; a timer hands them back to the dirty set when the first is due. */
  #armFailureRetry(): void {
    const next = this.#q.nextRetryAt();
    if (next === null || this.#stopping) return;
    if (this.#failureTimer) clearTimeout(this.#failureTimer);
    this.#failureTimer = setTimeout(() => {
      this.#failureTimer = null;
      this.#q.requeueDue(Date.now());
      this.#armFailureRetry();
      this.#schedule(true);
    }, Math.max(0, next - Date.now()));
    this.#failureTimer.unref();
  }

  #afterBatch(synced: readonly DirtyEntry[]): void {
    this.#emitQueue();
    this.#emitWatchesIfChanged();
    const hb = heartbeatCookie(this.info.name);
    if (this.#heartbeat.writtenAt !== null && synced.some((e) => e.path === hb || (e.path === '' && e.flags & DEEP))) {
      this.bus.emit({ type: 'heartbeat', lagMs: Date.now() - this.#heartbeat.writtenAt });
      this.#heartbeat.writtenAt = null;
    }
    const lag = this.oldestUnsynced();
    if (this.#state === 'degraded' || this.#state === 'catching-up' || this.#state === 'in-sync') {
      const failing = this.#q.persistentFailure();
      if (failing !== null) this.#setState('degraded', failing);
      else if (lag === null || Date.now() - lag < 1_000) this.#setState('in-sync');
      else if (Date.now() - lag > CATCHING_UP_LAG_MS) this.#setState('catching-up');
    }
    this.#idle.wake();
    if (this.#stopping) return this.#finishStop();
    this.#schedule(false);
    // going idle: start the rsync for the next small write now, while nothing waits for it
    if (!this.#q.busy && !this.#q.pendingLanes.writes && !this.#paused && this.#state !== 'halted') this.#warm.prepare();
  }

  #retryLater(reason: string): void {
    this.#attempt++;
    const wait = backoffMs(this.#attempt);
    this.#setState('degraded', reason);
    this.#idle.wake();
    if (this.#stopping) return this.#finishStop();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#runBatch();
    }, wait);
  }

  /** First-seen time of the oldest change not yet on the target, or null when everything is synced. */
  oldestUnsynced(): number | null {
    return this.#q.oldestUnsynced();
  }

  /** Paths rsync could not sync, with their last error and attempts (status shows them). */
  failedPaths(): Array<{ path: string; message: string; attempts: number }> {
    return this.#q.failedPaths();
  }

  #lastWatches = '';

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
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#warm.drop();
    this.bus.emit({ type: 'error', code: 'E_HALTED', message: `halted: ${reason}; nothing more is propagated to the target` });
    this.#setState('halted', reason);
    this.#idle.wake();
  }

  /**
   * The cookie is rewritten HEARTBEAT_INTERVAL_MS after each beat; #afterBatch times it to the target. A beat
   * due while a batch is pending or in flight waits for the mirror to be idle (polled every
   * HEARTBEAT_RETRY_MS), one interval at most: in a burst synced as one recursive rsync run, the cookie would
   * add a run of its own (the flat list) to the batch; under sustained load it is written anyway and rides
   * along. One timer, held in #heartbeat.timer (quiesce and stop clear it).
   */
  #startHeartbeat(): void {
    let dueAt = Date.now();
    const beat = (first = false): void => {
      this.#heartbeat.timer = null;
      if (this.#stopping || this.#paused) return; // stop and quiesce end the heartbeat (resume starts it again)
      const now = Date.now();
      const busy = this.#q.busy || this.#q.pendingCount > 0;
      if (busy && !first && now - dueAt < HEARTBEAT_INTERVAL_MS) return arm(HEARTBEAT_RETRY_MS);
      this.#emitWatchesIfChanged();
      if (this.#state !== 'halted') {
        const res = writeFileUnder(this.info.source, heartbeatCookie(this.info.name), `${now}\n`);
        if (res.ok && this.#heartbeat.writtenAt === null) this.#heartbeat.writtenAt = now;
      }
      dueAt = now + HEARTBEAT_INTERVAL_MS;
      arm(HEARTBEAT_INTERVAL_MS);
    };
    const arm = (ms: number): void => {
      this.#heartbeat.timer = setTimeout(() => beat(), ms);
      this.#heartbeat.timer.unref();
    };
    beat(true); // the first beat goes at once: status shows a heartbeat lag from the start
  }

  /**
   * Cutover hook: no new batch starts until `resume()`; resolves once no batch is in flight. Events keep
   * landing in the dirty set. The heartbeat stops writing into the source.
   */
  async quiesce(): Promise<void> {
    this.#paused = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#warm.drop(); // its cwd is in the source the cutover is about to cover
    if (this.#heartbeat.timer) clearInterval(this.#heartbeat.timer);
    this.#heartbeat.timer = null;
    while (this.#q.busy) await this.#idle.wait(1_000);
  }

  /** Cutover hook (rollback): batches start again. */
  resume(): void {
    this.#paused = false;
    if (this.#o.heartbeat && !this.#heartbeat.timer && !this.#stopping) this.#startHeartbeat();
    this.#schedule(true);
  }

  /**
   * Cutover hook, called with the applications frozen and the mirror quiesced: waits until the watcher has
   * delivered every queued event (the barrier), then syncs exactly the dirty set (O(changes), never a scan)
   * with content compared for every written file. Failed paths are included. Nothing else runs meanwhile.
   */
  async finalDelta(options: { signal?: AbortSignal } = {}): Promise<
    { ok: true; paths: number; files: number; bytes: number; barrierMs: number; syncMs: number; entries: DirtyEntry[] } | { ok: false; message: string }
  > {
    const t0 = performance.now();
    await this.#o.watcher.settle();
    const barrierMs = performance.now() - t0;
    const input = this.#q.take({ includeFailed: true, forceAll: true });
    if (options.signal?.aborted) {
      this.#q.giveBack(input);
      return { ok: false, message: 'aborted before the final delta' };
    }
    const t1 = performance.now();
    const outcome = await executeBatch(this.#o, input, Date.now(), options.signal);
    const syncMs = performance.now() - t1;
    if (outcome.kind === 'retry' || outcome.failed.length > 0) {
      this.#q.giveBack({ ...input, renames: [] });
      const why = outcome.kind === 'retry' ? outcome.message : `${outcome.failed.length} paths failed: ${outcome.failed.slice(0, 3).map((f) => f.message).join('; ')}`;
      return { ok: false, message: `final delta failed: ${why}` };
    }
    this.#q.landed(input, outcome, Date.now(), this.bus);
    this.#q.clearFailures(input.entries.map((e) => e.path));
    this.#emitQueue();
    return { ok: true, paths: input.entries.length, files: outcome.files, bytes: outcome.bytes, barrierMs, syncMs, entries: input.entries };
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

  async flush(timeoutMs: number): Promise<FlushResult> {
    const started = Date.now();
    const fail = (reason: 'timeout' | 'halted' | 'degraded' | 'stopping', message: string): FlushResult => ({ ok: false, reason, message });
    if (this.#stopping) return fail('stopping', 'the job is stopping');
    if (this.#state === 'halted') return fail('halted', 'the job is halted; see the log for why');
    const cookie = flushCookie(this.info.name, ++this.#flushes);
    const seen = new Promise<number>((resolve) => this.#cookiesSeen.set(cookie, () => resolve(Date.now())));
    const res = writeFileUnder(this.info.source, cookie, '');
    if (!res.ok) return fail('degraded', `cannot write the flush cookie into the source: ${res.errno}`);
    try {
      const deadline = started + timeoutMs;
      await this.#o.watcher.settle();
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), Math.max(0, deadline - Date.now()))));
      const seenAt = await Promise.race([seen, expired]).finally(() => clearTimeout(timer));
      if (seenAt === null) return fail('timeout', `the watcher did not report the flush cookie within ${timeoutMs} ms`);
      for (;;) {
        const oldest = this.oldestUnsynced();
        if (oldest === null || oldest > seenAt) return { ok: true, durationMs: Date.now() - started };
        const state = this.state;
        if (state === 'halted') return fail('halted', 'the job halted during the flush');
        if (state === 'degraded' && this.#attempt > 0) return fail('degraded', 'the job is degraded (rsync or target failing); see status');
        const failing = this.#q.persistentFailure();
        if (failing !== null) return fail('degraded', failing);
        const left = deadline - Date.now();
        if (left <= 0) return fail('timeout', `changes older than the flush were still unsynced after ${timeoutMs} ms`);
        await this.#idle.wait(left);
      }
    } finally {
      this.#cookiesSeen.delete(cookie);
      unlinkUnder(this.info.source, cookie);
    }
  }

  async stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      if (this.#timer) clearTimeout(this.#timer);
      this.#warm.drop();
      if (this.#heartbeat.timer) clearInterval(this.#heartbeat.timer);
      if (this.#failureTimer) clearTimeout(this.#failureTimer);
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

/** The lanes a watcher read touches (src/engine/schedule.ts): deletions, moves (the old name is gone), the rest. */
function lanesOf(changes: readonly WatchChange[]): Lane[] {
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
