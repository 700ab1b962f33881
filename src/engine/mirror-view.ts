/**
 * The mirror's options, and the one view of the running job its parts work through: start-up (startup.ts),
 * one batch (batch-cycle.ts), the heartbeat (heartbeat.ts), the flush barrier (flush.ts), the relink pass
 * (relink.ts) and the cutover's final delta (final-delta.ts). The Mirror (src/engine/mirror.ts) builds the view
 * once over its private state and keeps the decisions about that state (its state machine, its timers).
 */
import type { EventBus, MirrorState } from '../events/event.ts';
import type { RelPath } from '../util/bpath.ts';
import type { WatchChange, Watcher } from '../watch/types.ts';
import type { RsyncCommon } from '../sync/rsync-args.ts';
import type { JobInfo } from './job.ts';
import type { SyncQueue } from './sync-queue.ts';
import type { Waiters } from './waiters.ts';

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

export interface MirrorView {
  readonly options: MirrorOptions;
  readonly info: JobInfo;
  readonly bus: EventBus;
  /** what is not yet on the target (src/engine/sync-queue.ts) */
  readonly queue: SyncQueue;
  /** woken after every batch (landed or failed) and on a halt */
  readonly idle: Waiters;
  state(): MirrorState;
  stopping(): boolean;
  /** quiesced by a cutover */
  paused(): boolean;
  /** batches may run: seeded, and not stopping, quiesced or halted */
  active(): boolean;
  /** a failed batch waits for its backoff */
  retrying(): boolean;
  setState(state: MirrorState, reason?: string): void;
  /** arms the next batch: when its lanes are due, or as soon as possible (`now`) */
  schedule(now: boolean): void;
  /** a `queue` event (the dirty set changed) */
  emitQueue(): void;
  /** a `watches` event, when the counts changed */
  emitWatches(): void;
}
