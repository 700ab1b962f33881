/**
 * The job's Prometheus metrics (docs/metrics.md): one prom-client Registry per job, never the global one, so
 * two jobs (or tests) in one process do not mix. Names follow the Prometheus conventions: `livesync_` prefix,
 * base units (seconds, bytes), `_total` for counters. Values are set only by the event matchers
 * (src/metrics/matchers.ts), except the lag, which grows between events and is read from the StatusTracker
 * (itself derived from events) at scrape time.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MIRROR_STATES } from '../status/states.ts';
import type { StatusTracker } from '../status/tracker.ts';

/** Batch durations: a single-file batch takes ~10 ms, a catch-up batch minutes. */
const BATCH_DURATION_BUCKETS_S = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Lag of a landed batch: sub-second is the goal, minutes means the job is behind. */
const BATCH_LAG_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900];
export const FAILURE_KINDS = ['batch', 'path', 'watch'] as const;

export function createMetrics(tracker: StatusTracker) {
  const registry = new Registry();
  const registers = [registry];
  const metrics = {
    registry,
    /** the overflow event carries a cumulative total; the counter grows by the difference */
    overflowTotalSeen: 0,
    lag: new Gauge({
      name: 'livesync_lag_seconds',
      help: 'Age of the oldest change not yet on the target (0 when none).',
      registers,
      collect() {
        this.set(tracker.lagMs() / 1000);
      },
    }),
    heartbeatLag: new Gauge({ name: 'livesync_heartbeat_lag_seconds', help: 'End-to-end lag of the latest heartbeat cookie (written in the source, seen on the target).', registers }),
    pendingPaths: new Gauge({ name: 'livesync_pending_paths', help: 'Paths changed and not yet in a batch.', registers }),
    inFlightPaths: new Gauge({ name: 'livesync_in_flight_paths', help: 'Paths in the batch being synced.', registers }),
    failedPaths: new Gauge({ name: 'livesync_failed_paths', help: 'Paths failing to sync right now (retried).', registers }),
    batchDuration: new Histogram({ name: 'livesync_batch_duration_seconds', help: 'Duration of each successful batch.', buckets: BATCH_DURATION_BUCKETS_S, registers }),
    batchLag: new Histogram({ name: 'livesync_batch_lag_seconds', help: 'Age of the oldest change a batch carried, when it landed.', buckets: BATCH_LAG_BUCKETS_S, registers }),
    batches: new Counter({ name: 'livesync_batches_total', help: 'Batches run, by result.', labelNames: ['result'] as const, registers }),
    syncedFiles: new Counter({ name: 'livesync_synced_files_total', help: 'Files transferred to the target.', registers }),
    syncedBytes: new Counter({ name: 'livesync_synced_bytes_total', help: 'Bytes transferred to the target.', registers }),
    failures: new Counter({ name: 'livesync_failures_total', help: 'Failures: a whole batch, one path, or a directory watch.', labelNames: ['kind'] as const, registers }),
    errors: new Counter({ name: 'livesync_errors_total', help: 'Serious errors (seed failed, halted), by code.', labelNames: ['code'] as const, registers }),
    overflows: new Counter({ name: 'livesync_overflows_total', help: 'Kernel event queue overflows (each triggers a rescan).', registers }),
    changes: new Counter({ name: 'livesync_changes_total', help: 'Watcher reads absorbed into the dirty set.', registers }),
    watchedDirs: new Gauge({ name: 'livesync_watched_dirs', help: 'Directories with a watch.', registers }),
    unwatchedDirs: new Gauge({ name: 'livesync_unwatched_dirs', help: 'Directories without a watch (rescanned periodically).', registers }),
    state: new Gauge({ name: 'livesync_state', help: 'Current state of the job: 1 for the current state, 0 for the others.', labelNames: ['state'] as const, registers }),
    lastSync: new Gauge({ name: 'livesync_last_sync_timestamp_seconds', help: 'When the latest batch landed (unix time).', registers }),
    seedFiles: new Gauge({ name: 'livesync_seed_files', help: 'Files copied by the seed so far.', registers }),
    seedBytes: new Gauge({ name: 'livesync_seed_bytes', help: 'Bytes copied by the seed so far.', registers }),
    startTime: new Gauge({ name: 'livesync_start_time_seconds', help: 'When the job started (unix time).', registers }),
    info: new Gauge({ name: 'livesync_job_info', help: 'The job: always 1, labels name the job.', labelNames: ['name', 'source', 'target', 'version'] as const, registers }),
  };
  // Every series exists from the first scrape (absent series break rate() and alerts).
  for (const state of MIRROR_STATES) metrics.state.labels(state).set(state === tracker.state ? 1 : 0);
  for (const kind of FAILURE_KINDS) metrics.failures.labels(kind).inc(0);
  for (const result of ['ok', 'failed']) metrics.batches.labels(result).inc(0);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
