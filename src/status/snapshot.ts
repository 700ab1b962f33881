/**
 * The status snapshot: what `livesync status --json` prints and the control socket's `status` method returns.
 * Stable and versioned (`schema`): fields are only ever added; a removal or change of meaning bumps the
 * schema. Every field is documented in docs/status.md. Times are ms since the epoch, durations ms, sizes bytes.
 * Paths are printable (src/status/printable.ts: a name that is not valid UTF-8 shows bytes as \xNN).
 *
 * Types only: built by src/status/tracker.ts.
 */
import type { MirrorState } from '../events/event.ts';

export const STATUS_SCHEMA = 1;

export interface FailedPath {
  path: string;
  error: string;
  attempts: number;
  /** first failure */
  since: number;
  /** latest failure */
  lastAt: number;
}

export interface SeedStatus {
  files: number;
  bytes: number;
  /** bytes per second */
  rate: number;
  etaS: number | null;
  percent: number | null;
  workers: number | null;
  startedAt: number;
}

export interface LagHistory {
  /** sample i covers the second starting at startAt + i * intervalMs */
  startAt: number;
  intervalMs: number;
  /** highest lag seen during each second, oldest first; null before the job started */
  samplesMs: Array<number | null>;
}

export interface StatusSnapshot {
  schema: typeof STATUS_SCHEMA;
  /** when this snapshot was taken */
  at: number;
  name: string;
  source: string;
  target: string;
  pid: number | null;
  version: string | null;
  watcher: string | null;
  startedAt: number | null;
  state: MirrorState;
  stateReason: string | null;
  stateSince: number | null;
  /** age of the oldest change not yet on the target; 0 when none */
  lagMs: number;
  oldestChangeAt: number | null;
  pendingPaths: number;
  inFlightPaths: number;
  /** the first FAILED_LIST_MAX failing paths, oldest failure first */
  failedPaths: FailedPath[];
  /** all failing paths (failedPaths may be cut short) */
  failedPathCount: number;
  syncedFiles: number;
  syncedBytes: number;
  syncedPaths: number;
  batches: number;
  batchFailures: number;
  lastSyncAt: number | null;
  lastBatch: { files: number; bytes: number; paths: number; durationMs: number; lagMs: number; at: number } | null;
  /** end-to-end lag of the latest heartbeat cookie; null before the first */
  heartbeatLagMs: number | null;
  heartbeatAt: number | null;
  watchedDirs: number;
  unwatchedDirs: number;
  /** the most recently reported unwatched directories (at most FAILED_LIST_MAX) */
  unwatched: Array<{ path: string; errno: string }>;
  overflows: number;
  /** watcher reads absorbed into the dirty set */
  changes: number;
  /** during the seed only, else null */
  seed: SeedStatus | null;
  lastSeed: { files: number; bytes: number; durationMs: number; at: number } | null;
  /** rates over the last `windowS` seconds */
  throughput: { windowS: number; changesPerS: number; filesPerS: number; bytesPerS: number };
  lastError: { event: 'error' | 'batch-failed'; message: string; at: number } | null;
  /** only when asked for (status method param historyS, `status --watch`) */
  lagHistory?: LagHistory;
}
