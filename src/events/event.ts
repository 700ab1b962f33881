/**
 * The one internal event stream. Every component reports what happens as a typed event on an EventBus;
 * logs (src/log), metrics (src/metrics) and status (src/engine/status.ts) are subscribers that derive
 * everything they show from these events. Nothing else counts or logs on its own.
 *
 * Must not import anything with side effects: this file is pure types plus a tiny synchronous bus.
 */

export type MirrorState =
  | 'starting'
  | 'seeding'
  | 'catching-up'
  | 'in-sync'
  | 'degraded'
  | 'halted'
  | 'cutting-over'
  | 'cut-over'
  | 'stopping';

export interface SeedProgress {
  files: number;
  bytes: number;
  /** bytes per second */
  rate: number;
  /** seconds left, when rsync can estimate it */
  etaS: number | null;
  percent: number | null;
}

export type EventBody =
  | { type: 'state'; state: MirrorState; reason?: string }
  | { type: 'watch-ready'; watchedDirs: number; durationMs: number; watcher: string }
  | { type: 'watch-failed'; path: string; errno: string; message: string }
  /** the watcher's current counts (emitted when they change, or with each heartbeat): keeps status and metrics fresh */
  | { type: 'watches'; watchedDirs: number; unwatchedDirs: number }
  | { type: 'overflow'; total: number }
  /** watcher events absorbed into the dirty set (one event per watcher read, not per inotify event) */
  | { type: 'changes'; count: number }
  /** the dirty set and in-flight batch changed size; oldestChangeAt is the first-seen time of the oldest unsynced change */
  | { type: 'queue'; pendingPaths: number; inFlightPaths: number; oldestChangeAt: number | null }
  | { type: 'seed-start'; workers: number }
  | { type: 'seed-progress'; progress: SeedProgress }
  | { type: 'seed-done'; files: number; bytes: number; durationMs: number }
  | { type: 'batch-start'; id: number; paths: number; deepPaths: number; renames: number }
  | {
      type: 'batch-done';
      id: number;
      paths: number;
      files: number;
      bytes: number;
      durationMs: number;
      /** age of the oldest change this batch carried, when it landed */
      lagMs: number;
    }
  | { type: 'batch-failed'; id: number; exitCode: number | null; outcome: string; message: string; retryInMs: number }
  | { type: 'rename'; from: string; to: string; ok: boolean; errno?: string }
  | { type: 'path-failed'; path: string; message: string; attempts: number }
  | { type: 'path-recovered'; path: string }
  /** pid and version (optional, additive) let status and metrics show which process answers */
  | { type: 'job'; name: string; source: string; target: string; stateDir: string; watcher: string; pid?: number; version?: string }
  | { type: 'heartbeat'; lagMs: number }
  | { type: 'warning'; code: string; message: string }
  | { type: 'info'; message: string; data?: Record<string, unknown> }
  | { type: 'error'; code: string; message: string };

export type LivesyncEvent = EventBody & { time: number };
export type EventType = LivesyncEvent['type'];
export type EventOf<T extends EventType> = Extract<LivesyncEvent, { type: T }>;

export type Listener = (event: LivesyncEvent) => void;

/** Synchronous fan-out. A throwing listener is isolated so one sink cannot break the engine. */
export class EventBus {
  #listeners = new Set<Listener>();
  #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(body: EventBody): void {
    const event = { ...body, time: this.#now() } as LivesyncEvent;
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A sink failing (e.g. a closed log stream) must never stop the mirror.
      }
    }
  }
}
