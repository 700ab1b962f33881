/**
 * Event matchers: how each event updates the metrics (one row per event type; an event type without a row
 * changes no metric). The only way metric values change besides the scrape-time lag gauge.
 */
import type { EventBus, EventOf, EventType, LivesyncEvent } from '../events/event.ts';
import { MIRROR_STATES } from '../status/states.ts';
import type { StatusTracker } from '../status/tracker.ts';
import type { Metrics } from './registry.ts';
import { VERSION } from '../version.ts';

type Matchers = { [T in EventType]?: (m: Metrics, e: EventOf<T>, tracker: StatusTracker) => void };

const seconds = (ms: number): number => ms / 1000;

export const MATCHERS: Matchers = {
  // identity of the job, as labels of livesync_job_info; the metrics are served by the daemon itself, so an
  // event without a version (the engine does not announce one) is this process's version
  job: (m, e) => {
    m.info.labels(e.name, e.source, e.target, e.version ?? VERSION).set(1);
    m.startTime.set(seconds(e.time));
  },
  // exactly one state series is 1
  state: (m, e) => {
    for (const state of MIRROR_STATES) m.state.labels(state).set(state === e.state ? 1 : 0);
  },
  // queue depth
  queue: (m, e) => {
    m.pendingPaths.set(e.pendingPaths);
    m.inFlightPaths.set(e.inFlightPaths);
  },
  // a batch landed: totals, duration and lag distributions, freshness
  'batch-done': (m, e) => {
    m.batches.labels('ok').inc();
    m.syncedFiles.inc(e.files);
    m.syncedBytes.inc(e.bytes);
    m.batchDuration.observe(seconds(e.durationMs));
    m.batchLag.observe(seconds(e.lagMs));
    m.lastSync.set(seconds(e.time));
  },
  // a whole batch failed (it is retried)
  'batch-failed': (m) => {
    m.batches.labels('failed').inc();
    m.failures.labels('batch').inc();
  },
  // one path failed; the gauge follows the tracker's set of failing paths
  'path-failed': (m, _e, tracker) => {
    m.failures.labels('path').inc();
    m.failedPaths.set(tracker.failedPathCount);
  },
  // a failing path synced again
  'path-recovered': (m, _e, tracker) => m.failedPaths.set(tracker.failedPathCount),
  // the initial watch pass
  'watch-ready': (m, e) => m.watchedDirs.set(e.watchedDirs),
  // one directory without a watch
  'watch-failed': (m, _e, tracker) => {
    m.failures.labels('watch').inc();
    m.unwatchedDirs.set(tracker.unwatchedDirs);
  },
  // the watcher's current counts
  watches: (m, e) => {
    m.watchedDirs.set(e.watchedDirs);
    m.unwatchedDirs.set(e.unwatchedDirs);
  },
  // cumulative overflow total -> counter increment
  overflow: (m, e) => {
    if (e.total > m.overflowTotalSeen) m.overflows.inc(e.total - m.overflowTotalSeen);
    m.overflowTotalSeen = Math.max(m.overflowTotalSeen, e.total);
  },
  // watcher reads absorbed
  changes: (m, e) => m.changes.inc(e.count),
  // end-to-end lag probe
  heartbeat: (m, e) => m.heartbeatLag.set(seconds(e.lagMs)),
  // seed progress
  'seed-start': (m) => {
    m.seedFiles.set(0);
    m.seedBytes.set(0);
  },
  'seed-progress': (m, e) => {
    m.seedFiles.set(e.progress.files);
    m.seedBytes.set(e.progress.bytes);
  },
  'seed-done': (m, e) => {
    m.seedFiles.set(e.files);
    m.seedBytes.set(e.bytes);
  },
  // serious errors, by their stable code
  error: (m, e) => m.errors.labels(e.code).inc(),
};

/** Feeds the metrics from the bus. The tracker must be subscribed first (it is created first). */
export function matchEvents(bus: EventBus, metrics: Metrics, tracker: StatusTracker): () => void {
  return bus.subscribe((event: LivesyncEvent) => {
    const match = MATCHERS[event.type] as ((m: Metrics, e: LivesyncEvent, t: StatusTracker) => void) | undefined;
    match?.(metrics, event, tracker);
  });
}
