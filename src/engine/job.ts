/**
 * The contract between a running mirror job (src/engine/mirror.ts) and everything that controls or observes it
 * (control socket, metrics, status, cutover). Observers read the event bus; controllers call these methods.
 */
import type { EventBus } from '../events/event.ts';

export interface JobInfo {
  name: string;
  /** absolute source path */
  source: string;
  /** absolute target path */
  target: string;
  stateDir: string;
  pid: number;
  /** ms since epoch */
  startedAt: number;
  watcher: 'inotify' | 'chokidar';
}

export type FlushResult =
  | { ok: true; durationMs: number }
  | { ok: false; reason: 'timeout' | 'halted' | 'degraded' | 'stopping'; message: string };

export interface JobControl {
  readonly info: JobInfo;
  readonly bus: EventBus;
  /**
   * Barrier: resolves ok once every change made in the source before the call is on the target
   * (writes a cookie, waits for its event, then for every earlier dirty path to be synced).
   */
  flush(timeoutMs: number): Promise<FlushResult>;
  /** Finishes the in-flight batch, persists what is pending, resolves when the job has stopped. */
  stop(): Promise<void>;
}
