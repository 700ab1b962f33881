/**
 * The mirror: one job keeping TARGET identical to SOURCE. Follow one event: the watcher (src/watch/) reports a
 * WatchChange → `#absorb` marks the dirty set (src/engine/dirty-set.ts) → `#schedule` arms the trailing
 * debounce (delay, capped by maxWait) → `#runBatch` drains the set, replays renames and hands the lists to
 * rsync (src/engine/batch-runner.ts) → success clears them, failure puts them back with a backoff.
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
import type { FlushResult, JobControl, JobInfo } from './job.ts';
import type { WatchChange, Watcher } from '../watch/types.ts';
import { display, parentOf, type RelPath } from '../util/bpath.ts';
import { identity, listRoot, multiLinkFiles, sameIdentity, unlinkUnder, writeFileUnder, type Identity } from '../sys/fsops.ts';
import { DATA, DEEP, DirtySet, GONE, META, type DirtyEntry } from './dirty-set.ts';
import { SAME_TICK_WINDOW_MS } from './batch-plan.ts';
import type { Rename } from './batch-runner.ts';
import { executeBatch } from './batch.ts';
import { FailedPaths } from './failures.ts';
import { HardLinkIndex } from './hardlinks.ts';
import { backoffMs } from '../sync/rsync-exit.ts';
import { seed } from '../sync/seed.ts';
import type { RsyncCommon } from '../sync/rsync-args.ts';
import { flushCookie, heartbeatCookie, HEARTBEAT_INTERVAL_MS, isCookie } from './cookies.ts';
import { Waiters } from './waiters.ts';

/** First-seen time given to cookie changes: later than any real change, so they never count as lag. */
const COOKIE_SINCE = Number.MAX_SAFE_INTEGER;

/** Lag above which an in-sync job reports catching-up again, and below which it is in-sync. */
export const CATCHING_UP_LAG_MS = 10_000;
/** A percentage --max-delete never halts below this many deletions (small trees churn a lot relative to size). */
export const MASS_DELETE_FLOOR = 10_000;

export interface MirrorOptions extends RsyncCommon {
  info: JobInfo;
  bus: EventBus;
  watcher: Watcher;
  isExcluded: (rel: RelPath, isDir: boolean) => boolean;
  /** trailing debounce after the last event */
  delayMs: number;
  /** a batch starts at most this long after the first unsynced event, however busy the source */
  maxWaitMs: number;
  seedWorkers: number;
  heartbeat: boolean;
  /** halt instead of propagating more deletions than this between two batches (or in the seed); null = no limit */
  maxDelete: { count: number } | { percent: number } | null;
  /** allow an empty source root to empty the target (otherwise: halted) */
  allowEmptySource: boolean;
}

export class Mirror implements JobControl {
  readonly info: JobInfo;
  readonly bus: EventBus;
  #o: MirrorOptions;
  #dirty = new DirtySet();
  #renames: Rename[] = [];
  #inFlight: DirtyEntry[] | null = null;
  #inFlightOldest: number | null = null;
  #recent = new Map<RelPath, number>();
  #state: MirrorState = 'starting';
  #seeded = false;
  #timer: NodeJS.Timeout | null = null;
  #firstPendingAt: number | null = null;
  #attempt = 0;
  #targetId: Identity | null = null;
  #sourceId: Identity | null = null;
  #heartbeat: { timer: NodeJS.Timeout | null; writtenAt: number | null } = { timer: null, writtenAt: null };
  #cookiesSeen = new Map<RelPath, () => void>();
  #flushes = 0;
  #idle = new Waiters();
  #stopped = new Waiters();
  #stopping = false;
  #batchId = 0;
  #failures = new FailedPaths();
  #pendingDeletes = 0;
  #treeEntries = 0;
  #hardlinks: HardLinkIndex;
  #linkSearch: Promise<void> | null = null;
  #paused = false;
  #failureTimer: NodeJS.Timeout | null = null;

  constructor(options: MirrorOptions) {
    this.#o = options;
    this.#hardlinks = new HardLinkIndex(options.source);
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
    return this.#dirty;
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
    if (!this.#stopping) await this.#seedLoop();
    if (this.#o.heartbeat && !this.#stopping) this.#startHeartbeat();
    await this.#stopped.wait();
  }

  async #seedLoop(): Promise<void> {
    for (let attempt = 1; !this.#stopping && this.#state !== 'halted'; attempt++) {
      this.#setState('seeding');
      if (this.#sourceEmptied()) return this.#halt(`source root ${this.info.source} is empty but the target is not; refusing to empty the target (--allow-empty-source overrides)`);
      const maxDeleteCount = this.#o.maxDelete && 'count' in this.#o.maxDelete ? this.#o.maxDelete.count : 0;
      const result = await seed({ ...this.#o, workers: this.#o.seedWorkers, bus: this.bus, maxDeleteCount });
      if (result.exitCode === 25) return this.#halt(`the seed would delete more than ${maxDeleteCount} paths on the target (--max-delete); target partly reconciled, deletions stopped`);
      if (result.outcome === 'ok' || result.outcome === 'vanished') {
        this.#treeEntries = result.entries;
        // before the first batch: a link made during the seed must find its sibling in the index
        for (const f of await multiLinkFiles(this.info.source)) this.#hardlinks.add(f.path, f.dev, f.ino);
        this.#seeded = true;
        this.#setState('catching-up');
        this.#schedule(true);
        return;
      }
      const wait = backoffMs(attempt);
      this.bus.emit({ type: 'error', code: 'E_SEED', message: `seed failed (${result.message}); retrying in ${wait} ms` });
      this.#setState('degraded', result.message);
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  #absorb(changes: WatchChange[]): void {
    const now = Date.now();
    for (const c of changes) {
      switch (c.kind) {
        case 'change': {
          // livesync's own cookies are synced like anything else but never count as lag
          const cookie = isCookie(c.path);
          const since = cookie ? COOKIE_SINCE : now;
          this.#dirty.mark(c.path, c.isDir ? META : META | DATA, since);
          if (!c.isDir && c.path !== '') this.#dirty.mark(parentOf(c.path), META, since);
          if (cookie) this.#cookiesSeen.get(c.path)?.();
          break;
        }
        case 'delete':
          this.#pendingDeletes++;
          this.#dirty.mark(c.path, c.isDir ? META | DEEP | GONE : META | GONE, now);
          this.#dirty.mark(parentOf(c.path), META, now);
          break;
        case 'move':
          this.#dirty.move(c.from, c.to, now);
          this.#renames.push({ from: c.from, to: c.to, isDir: c.isDir });
          this.#dirty.mark(parentOf(c.from), META, now);
          this.#dirty.mark(parentOf(c.to), META, now);
          break;
        case 'subtree':
          this.#dirty.mark(c.path, META | DEEP, now);
          if (c.path !== '') this.#dirty.mark(parentOf(c.path), META, now);
          break;
      }
    }
    this.bus.emit({ type: 'changes', count: changes.length });
    this.#emitQueue();
    this.#schedule(false);
  }

  /** Trailing debounce capped by maxWait; `now` fires as soon as possible. */
  #schedule(now: boolean): void {
    if (!this.#seeded || this.#stopping || this.#paused || this.#state === 'halted') return;
    if (this.#dirty.size === 0 && this.#renames.length === 0) return;
    const t = Date.now();
    this.#firstPendingAt ??= t;
    const deadline = this.#firstPendingAt + this.#o.maxWaitMs;
    const delay = now ? 0 : Math.max(0, Math.min(this.#o.delayMs, deadline - t));
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#inFlight === null) void this.#runBatch();
    }, delay);
  }

  async #runBatch(): Promise<void> {
    const current = identity(this.info.target);
    if (this.#targetId && !sameIdentity(current, this.#targetId)) {
      return this.#retryLater(`target ${this.info.target} is not the filesystem recorded at start (unmounted or replaced); not writing into it`);
    }
    const src = identity(this.info.source);
    if (this.#sourceId && !sameIdentity(src, this.#sourceId)) return this.#halt(`source root ${this.info.source} disappeared or was replaced`);
    const massDelete = this.#massDelete();
    if (massDelete) return this.#halt(massDelete);
    this.#pendingDeletes = 0;
    this.#requeueDueFailures(Date.now());
    if (this.#dirty.size === 0 && this.#renames.length === 0) return this.#afterBatch([]);
    const id = ++this.#batchId;
    const drained = this.#dirty.drain();
    const renames = this.#renames.splice(0);
    this.#firstPendingAt = null;
    this.#inFlight = drained.entries;
    this.#inFlightOldest = drained.oldest;
    this.#emitQueue();
    const started = Date.now();
    this.bus.emit({ type: 'batch-start', id, paths: drained.entries.length, deepPaths: drained.entries.filter((e) => e.flags & DEEP).length, renames: renames.length });
    const outcome = await executeBatch(this.#o, { entries: drained.entries, oldest: drained.oldest, renames, recentlySynced: this.#recent, hardlinks: this.#hardlinks }, started);
    for (const r of outcome.renames) this.bus.emit({ type: 'rename', from: r.from, to: r.to, ok: r.ok, ...(r.errno ? { errno: r.errno } : {}) });
    this.#inFlight = null;
    this.#inFlightOldest = null;
    if (outcome.kind === 'retry') {
      this.#dirty.restore(drained.entries);
      this.bus.emit({ type: 'batch-failed', id, exitCode: outcome.exitCode, outcome: outcome.outcome, message: outcome.message, retryInMs: 0 });
      return this.#retryLater(outcome.message);
    }
    this.#attempt = 0;
    const failed = new Set(outcome.failed.map((f) => f.path));
    for (const f of outcome.failed) {
      const e = drained.entries.find((x) => x.path === f.path);
      const rec = this.#failures.record(f.path, f.message, e?.flags ?? (META | DATA), e?.since ?? drained.oldest ?? started, Date.now());
      this.bus.emit({ type: 'path-failed', path: display(f.path), message: f.message, attempts: rec.attempts });
    }
    for (const e of drained.entries) {
      if (!failed.has(e.path) && this.#failures.clear(e.path)) this.bus.emit({ type: 'path-recovered', path: display(e.path) });
    }
    this.#noteSynced(outcome.plan.flat, outcome.plan.forced, started);
    this.#resolveHardLinks();
    // rsync sets a directory's mtime before deleting inside it: touch up the parents of deletions next batch
    const now = Date.now();
    for (const e of drained.entries) if (e.flags & GONE && e.path !== '') this.#dirty.mark(parentOf(e.path), META, now);
    this.bus.emit({
      type: 'batch-done',
      id,
      paths: drained.entries.length - failed.size,
      files: outcome.files,
      bytes: outcome.bytes,
      durationMs: Date.now() - started,
      lagMs: drained.oldest === null || drained.oldest >= COOKIE_SINCE ? 0 : Date.now() - drained.oldest,
    });
    this.#afterBatch(drained.entries);
  }

  /** Why the pending deletions must not be propagated, or null. */
  #massDelete(): string | null {
    if (this.#pendingDeletes === 0) return null;
    if (this.#sourceEmptied()) return `source root ${this.info.source} was emptied (${this.#pendingDeletes} deletions pending); target left untouched (--allow-empty-source overrides)`;
    const limit = this.#o.maxDelete === null ? 0 : 'count' in this.#o.maxDelete ? this.#o.maxDelete.count : Math.max(MASS_DELETE_FLOOR, Math.ceil((this.#o.maxDelete.percent / 100) * this.#treeEntries));
    if (limit > 0 && this.#pendingDeletes > limit) return `mass delete: ${this.#pendingDeletes} paths deleted in the source since the last batch, above the limit of ${limit} (--max-delete); target left untouched`;
    return null;
  }

  #sourceEmptied(): boolean {
    if (this.#o.allowEmptySource) return false;
    const visible = (dir: string): number => listRoot(dir).filter((n) => !isCookie(n)).length;
    return visible(this.info.source) === 0 && visible(this.info.target) > 0;
  }

  /**
   * A new link to an inode whose other names are unknown landed as a copy: search the tree for its names (one
   * find at a time, in the background) and re-sync them together so rsync -H links them.
   */
  #resolveHardLinks(): void {
    if (this.#linkSearch) return;
    const inodes = this.#hardlinks.takeUnresolved();
    if (inodes.length === 0) return;
    const since = Date.now();
    this.#linkSearch = multiLinkFiles(this.info.source, [''], inodes).then((found) => {
      this.#linkSearch = null;
      for (const f of found) {
        this.#hardlinks.add(f.path, f.dev, f.ino);
        this.#dirty.mark(f.path, META, since);
      }
      if (found.length > 0) this.#schedule(true);
      this.#resolveHardLinks();
    });
  }

  /** Failed paths whose backoff has passed go back into the dirty set; arms a timer for the next one. */
  #requeueDueFailures(now: number): void {
    for (const f of this.#failures.due(now)) this.#dirty.mark(f.path, f.flags, f.since);
    const next = this.#failures.nextRetryAt();
    if (next !== null && !this.#stopping) {
      if (this.#failureTimer) clearTimeout(this.#failureTimer);
      this.#failureTimer = setTimeout(() => {
        this.#failureTimer = null;
        const massDelete = this.#massDelete();
    if (massDelete) return this.#halt(massDelete);
    this.#pendingDeletes = 0;
    this.#requeueDueFailures(Date.now());
        this.#schedule(true);
      }, Math.max(0, next - now));
      this.#failureTimer.unref();
    }
  }

  #afterBatch(synced: readonly DirtyEntry[]): void {
    this.#emitQueue();
    const hb = heartbeatCookie(this.info.name);
    if (this.#heartbeat.writtenAt !== null && synced.some((e) => e.path === hb || (e.path === '' && e.flags & DEEP))) {
      this.bus.emit({ type: 'heartbeat', lagMs: Date.now() - this.#heartbeat.writtenAt });
      this.#heartbeat.writtenAt = null;
    }
    const lag = this.oldestUnsynced();
    if (this.#state === 'degraded' || this.#state === 'catching-up' || this.#state === 'in-sync') {
      if (lag === null || Date.now() - lag < 1_000) this.#setState('in-sync');
      else if (Date.now() - lag > CATCHING_UP_LAG_MS) this.#setState('catching-up');
    }
    this.#idle.wake();
    if (this.#stopping) return this.#finishStop();
    this.#schedule(true);
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

  #noteSynced(flat: RelPath[], forced: RelPath[], at: number): void {
    for (const [p, t] of this.#recent) if (at - t > SAME_TICK_WINDOW_MS) this.#recent.delete(p);
    for (const p of flat) this.#recent.set(p, at);
    for (const p of forced) this.#recent.set(p, at);
  }

  /** First-seen time of the oldest change not yet on the target, or null when everything is synced. */
  oldestUnsynced(): number | null {
    const all = [this.#dirty.oldest, this.#inFlightOldest, this.#failures.oldest()].filter((t): t is number => t !== null && t < COOKIE_SINCE);
    return all.length === 0 ? null : Math.min(...all);
  }

  /** Paths rsync could not sync, with their last error and attempts (status shows them). */
  failedPaths(): Array<{ path: string; message: string; attempts: number }> {
    return this.#failures.list().map((f) => ({ path: display(f.path), message: f.message, attempts: f.attempts }));
  }

  #emitQueue(): void {
    this.bus.emit({ type: 'queue', pendingPaths: this.#dirty.size + this.#renames.length, inFlightPaths: this.#inFlight?.length ?? 0, oldestChangeAt: this.oldestUnsynced() });
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
    this.bus.emit({ type: 'error', code: 'E_HALTED', message: `halted: ${reason}; nothing more is propagated to the target` });
    this.#setState('halted', reason);
    this.#idle.wake();
  }

  #startHeartbeat(): void {
    const beat = (): void => {
      const st = this.#o.watcher.stats();
      this.bus.emit({ type: 'watches', watchedDirs: st.watchedDirs, unwatchedDirs: st.unwatched.length });
      if (this.#stopping || this.#state === 'halted') return;
      const res = writeFileUnder(this.info.source, heartbeatCookie(this.info.name), `${Date.now()}\n`);
      if (res.ok && this.#heartbeat.writtenAt === null) this.#heartbeat.writtenAt = Date.now();
    };
    beat();
    this.#heartbeat.timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
    this.#heartbeat.timer.unref();
  }

  /**
   * Cutover hook: no new batch starts until `resume()`; resolves once no batch is in flight. Events keep
   * landing in the dirty set.
   */
  async quiesce(): Promise<void> {
    this.#paused = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    while (this.#inFlight !== null) await this.#idle.wait(1_000);
  }

  /** Cutover hook (rollback): batches start again. */
  resume(): void {
    this.#paused = false;
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
    for (const f of this.#failures.list()) this.#dirty.mark(f.path, f.flags, f.since);
    const drained = this.#dirty.drain();
    const renames = this.#renames.splice(0);
    const t1 = performance.now();
    if (options.signal?.aborted) {
      this.#dirty.restore(drained.entries);
      this.#renames.unshift(...renames);
      return { ok: false, message: 'aborted before the final delta' };
    }
    const outcome = await executeBatch(this.#o, { entries: drained.entries, oldest: drained.oldest, renames, recentlySynced: this.#recent, hardlinks: this.#hardlinks, forceAll: true }, Date.now(), options.signal);
    const syncMs = performance.now() - t1;
    if (outcome.kind === 'retry' || outcome.failed.length > 0) {
      this.#dirty.restore(drained.entries);
      const why = outcome.kind === 'retry' ? outcome.message : `${outcome.failed.length} paths failed: ${outcome.failed.slice(0, 3).map((f) => `${display(f.path)}: ${f.message}`).join('; ')}`;
      return { ok: false, message: `final delta failed: ${why}` };
    }
    for (const e of drained.entries) this.#failures.clear(e.path);
    this.#emitQueue();
    return { ok: true, paths: drained.entries.length, files: outcome.files, bytes: outcome.bytes, barrierMs, syncMs, entries: drained.entries };
  }

  /** Cutover hook: the share is now at the source path; mirroring ends for good. */
  async markCutOver(): Promise<void> {
    this.#paused = true;
    // changes seen after the final delta happened on the old tree (now hidden): nothing is pending any more
    this.#dirty.drain();
    this.#renames.length = 0;
    this.#setState('cut-over');
    this.#emitQueue();
    if (this.#heartbeat.timer) clearInterval(this.#heartbeat.timer);
    this.#heartbeat.timer = null;
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
      if (this.#heartbeat.timer) clearInterval(this.#heartbeat.timer);
      if (this.#failureTimer) clearTimeout(this.#failureTimer);
      if (this.#inFlight === null) this.#finishStop();
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

  /** Pending work to persist on stop: the dirty paths and renames not yet on the target. */
  pending(): { entries: DirtyEntry[]; renames: Rename[] } {
    const failed = this.#failures.list().map((f) => ({ path: f.path, flags: f.flags, since: f.since }));
    return { entries: [...(this.#inFlight ?? []), ...this.#dirty.peek(), ...failed], renames: [...this.#renames] };
  }
}

