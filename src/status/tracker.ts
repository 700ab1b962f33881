/**
 * StatusTracker: the job's status, derived from the event stream only (src/events/event.ts). It subscribes to
 * the EventBus and folds every event into a small state through the REDUCERS table (one row per event type),
 * plus a per-second history (src/status/history.ts) for the lag sparkline and throughput.
 *
 * Pure: no timers, no I/O. Time enters through event.time and the `now` of snapshot(); between events the lag
 * grows on its own (now - oldestChangeAt), and the history is filled in for the seconds nobody asked about, so
 * a scripted event sequence always gives the same snapshot. Create it before the engine emits its first event.
 * Must not import anything with side effects (src/sys, node:fs, node:net): it is the pure core of status.
 */
import type { EventBus, EventOf, EventType, LivesyncEvent, MirrorState } from '../events/event.ts';
import { HISTORY_S, SecondRing } from './history.ts';
import { printablePath } from './printable.ts';
import { STATUS_SCHEMA, type FailedPath, type SeedStatus, type StatusSnapshot } from './snapshot.ts';

/** failedPaths and unwatched list at most this many entries (the counts stay exact) */
export const FAILED_LIST_MAX = 100;
/** throughput is averaged over the last minute */
export const THROUGHPUT_WINDOW_S = 60;
/** unwatched directories remembered for the list (the count comes from the watcher) */
const UNWATCHED_KEEP = 1000;

/** What the tracker keeps: the snapshot's own fields, plus the maps behind its failed and unwatched lists. */
type TrackerState = Pick<
  StatusSnapshot,
  | 'name' | 'source' | 'target' | 'pid' | 'version' | 'watcher' | 'startedAt' | 'state' | 'stateReason' | 'stateSince'
  | 'oldestChangeAt' | 'pendingPaths' | 'inFlightPaths' | 'syncedFiles' | 'syncedBytes' | 'syncedPaths' | 'batches'
  | 'batchFailures' | 'lastSyncAt' | 'lastBatch' | 'heartbeatLagMs' | 'heartbeatAt' | 'watchedDirs' | 'unwatchedDirs'
  | 'overflows' | 'changes' | 'lastSeed' | 'lastError'
> & {
  failed: Map<string, Omit<FailedPath, 'path'>>;
  unwatched: Map<string, string>;
  seed: SeedStatus | null;
};

function initialState(): TrackerState {
  return {
    name: '', source: '', target: '', pid: null, version: null, watcher: null, startedAt: null,
    state: 'starting', stateReason: null, stateSince: null,
    oldestChangeAt: null, pendingPaths: 0, inFlightPaths: 0, failed: new Map(),
    syncedFiles: 0, syncedBytes: 0, syncedPaths: 0, batches: 0, batchFailures: 0, lastSyncAt: null, lastBatch: null,
    heartbeatLagMs: null, heartbeatAt: null, watchedDirs: 0, unwatchedDirs: 0, unwatched: new Map(), overflows: 0,
    changes: 0, seed: null, lastSeed: null, lastError: null,
  };
}

type Reducers = { [T in EventType]: (s: TrackerState, e: EventOf<T>, ring: SecondRing) => void };

/** How each event changes the status. Every event type has a row, so a new type needs a decision here. */
const REDUCERS: Reducers = {
  // identity of the job; its time is the start time
  job: (s, e) => Object.assign(s, { name: e.name, source: e.source, target: e.target, watcher: e.watcher, pid: e.pid ?? null, version: e.version ?? null, startedAt: e.time }),
  // the state machine moved
  state: (s, e) => Object.assign(s, { state: e.state, stateReason: e.reason ?? null, stateSince: e.time }),
  // the dirty set changed size: the lag is measured from oldestChangeAt
  queue: (s, e) => Object.assign(s, { pendingPaths: e.pendingPaths, inFlightPaths: e.inFlightPaths, oldestChangeAt: e.oldestChangeAt }),
  // watcher reads absorbed (the events/s in)
  changes: (s, e, ring) => {
    s.changes += e.count;
    ring.add(e.time, { changes: e.count });
  },
  // a batch landed on the target
  'batch-done': (s, e, ring) => {
    s.syncedFiles += e.files;
    s.syncedBytes += e.bytes;
    s.syncedPaths += e.paths;
    s.batches += 1;
    s.lastSyncAt = e.time;
    s.lastBatch = { files: e.files, bytes: e.bytes, paths: e.paths, durationMs: e.durationMs, lagMs: e.lagMs, at: e.time };
    ring.add(e.time, { files: e.files, bytes: e.bytes });
  },
  // a batch failed as a whole; it is retried
  'batch-failed': (s, e) => {
    s.batchFailures += 1;
    s.lastError = { event: 'batch-failed', message: e.message, at: e.time };
  },
  // the batch start changes nothing visible (the queue event carries the in-flight count)
  'batch-start': () => {},
  // one path keeps failing: listed with its error until it recovers
  'path-failed': (s, e) => {
    const path = printablePath(e.path);
    const before = s.failed.get(path);
    s.failed.set(path, { error: e.message, attempts: e.attempts, since: before?.since ?? e.time, lastAt: e.time });
  },
  // a failing path synced again
  'path-recovered': (s, e) => void s.failed.delete(printablePath(e.path)),
  // the initial watch pass finished
  'watch-ready': (s, e) => Object.assign(s, { watchedDirs: e.watchedDirs, watcher: e.watcher }),
  // one directory could not get a watch: it is rescanned periodically
  'watch-failed': (s, e) => {
    const path = printablePath(e.path);
    if (!s.unwatched.has(path)) s.unwatchedDirs += 1;
    s.unwatched.delete(path);
    s.unwatched.set(path, e.errno);
    if (s.unwatched.size > UNWATCHED_KEEP) s.unwatched.delete(s.unwatched.keys().next().value ?? '');
  },
  // the watcher's authoritative counts
  watches: (s, e) => Object.assign(s, { watchedDirs: e.watchedDirs, unwatchedDirs: e.unwatchedDirs }),
  // the kernel queue overflowed (total is cumulative)
  overflow: (s, e) => void (s.overflows = Math.max(s.overflows, e.total)),
  // the seed began
  'seed-start': (s, e) => void (s.seed = { files: 0, bytes: 0, rate: 0, etaS: null, percent: null, workers: e.workers, startedAt: e.time }),
  // seed progress (rsync's own numbers)
  'seed-progress': (s, e) => {
    const p = e.progress;
    s.seed = { files: p.files, bytes: p.bytes, rate: p.rate, etaS: p.etaS, percent: p.percent, workers: s.seed?.workers ?? null, startedAt: s.seed?.startedAt ?? e.time };
  },
  // the seed finished: its figures move to lastSeed
  'seed-done': (s, e) => {
    s.seed = null;
    s.lastSeed = { files: e.files, bytes: e.bytes, durationMs: e.durationMs, at: e.time };
  },
  // end-to-end lag of the heartbeat cookie
  heartbeat: (s, e) => Object.assign(s, { heartbeatLagMs: e.lagMs, heartbeatAt: e.time }),
  // a fatal or serious error
  error: (s, e) => void (s.lastError = { event: 'error', message: e.message, at: e.time }),
  // renames, warnings and info are logged, not part of the status
  rename: () => {},
  warning: () => {},
  info: () => {},
};

export interface SnapshotOptions {
  /** defaults to the tracker's clock */
  now?: number;
  /** include lagHistory for the last N seconds (at most HISTORY_S) */
  historyS?: number;
}

export class StatusTracker implements Disposable {
  #s = initialState();
  #ring = new SecondRing();
  /** time up to which the lag history is filled in */
  #filledTo: number | null = null;
  #now: () => number;
  #unsubscribe: () => void;

  constructor(bus: EventBus, options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#unsubscribe = bus.subscribe((event) => this.#apply(event));
  }

  get state(): MirrorState {
    return this.#s.state;
  }

  /** paths failing right now */
  get failedPathCount(): number {
    return this.#s.failed.size;
  }

  /** directories without a watch right now */
  get unwatchedDirs(): number {
    return this.#s.unwatchedDirs;
  }

  /** Age of the oldest change not yet on the target at `now`; 0 when there is none. */
  lagMs(now: number = this.#now()): number {
    const oldest = this.#s.oldestChangeAt;
    return oldest === null ? 0 : Math.max(0, now - oldest);
  }

  #apply(event: LivesyncEvent): void {
    this.#fillTo(event.time);
    (REDUCERS[event.type] as (s: TrackerState, e: LivesyncEvent, ring: SecondRing) => void)(this.#s, event, this.#ring);
    const t = this.#filledTo ?? event.time;
    this.#ring.lag(t, this.lagMs(t));
  }

  /** Records the lag at the end of every second between the last event and `t`, then at `t`. */
  #fillTo(t: number): void {
    const from = this.#filledTo;
    if (from !== null && t < from) return; // the clock stepped back: keep the later time
    if (from !== null) {
      const first = Math.max(Math.floor(from / 1000), Math.floor(t / 1000) - HISTORY_S);
      for (let second = first; second < Math.floor(t / 1000); second++) {
        const end = second * 1000 + 999;
        this.#ring.lag(end, this.lagMs(end));
      }
    }
    this.#ring.lag(t, this.lagMs(t));
    this.#filledTo = t;
  }

  snapshot(options: SnapshotOptions = {}): StatusSnapshot {
    const now = Math.max(options.now ?? this.#now(), this.#filledTo ?? 0);
    this.#fillTo(now);
    const s = this.#s;
    const sums = this.#ring.sums(now, THROUGHPUT_WINDOW_S);
    const per = (n: number): number => (sums.seconds === 0 ? 0 : n / sums.seconds);
    const failedPaths = [...s.failed.entries()].slice(0, FAILED_LIST_MAX).map(([path, f]) => ({ path, ...f }));
    const unwatched = [...s.unwatched.entries()].slice(-FAILED_LIST_MAX).map(([path, errno]) => ({ path, errno }));
    const snapshot: StatusSnapshot = {
      schema: STATUS_SCHEMA,
      at: now,
      name: s.name,
      source: s.source,
      target: s.target,
      pid: s.pid,
      version: s.version,
      watcher: s.watcher,
      startedAt: s.startedAt,
      state: s.state,
      stateReason: s.stateReason,
      stateSince: s.stateSince,
      lagMs: this.lagMs(now),
      oldestChangeAt: s.oldestChangeAt,
      pendingPaths: s.pendingPaths,
      inFlightPaths: s.inFlightPaths,
      failedPaths,
      failedPathCount: s.failed.size,
      syncedFiles: s.syncedFiles,
      syncedBytes: s.syncedBytes,
      syncedPaths: s.syncedPaths,
      batches: s.batches,
      batchFailures: s.batchFailures,
      lastSyncAt: s.lastSyncAt,
      lastBatch: s.lastBatch === null ? null : { ...s.lastBatch },
      heartbeatLagMs: s.heartbeatLagMs,
      heartbeatAt: s.heartbeatAt,
      watchedDirs: s.watchedDirs,
      unwatchedDirs: s.unwatchedDirs,
      unwatched,
      overflows: s.overflows,
      changes: s.changes,
      seed: s.seed === null ? null : { ...s.seed },
      lastSeed: s.lastSeed === null ? null : { ...s.lastSeed },
      throughput: { windowS: sums.seconds, changesPerS: per(sums.changes), filesPerS: per(sums.files), bytesPerS: per(sums.bytes) },
      lastError: s.lastError === null ? null : { ...s.lastError },
    };
    if (options.historyS !== undefined && options.historyS > 0) {
      snapshot.lagHistory = { intervalMs: 1000, ...this.#ring.lagSamples(now, options.historyS) };
    }
    return snapshot;
  }

  [Symbol.dispose](): void {
    this.#unsubscribe();
  }
}
