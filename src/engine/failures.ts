/**
 * The failed-paths map: paths rsync could not sync, each with its last error, attempt count and next retry
 * time (capped exponential backoff with jitter, src/sync/rsync-exit.ts). A failed path waits here, not in the
 * dirty set, so it never blocks the others; when due it goes back into the dirty set with its original
 * first-seen time, so the lag keeps counting it.
 */
import { backoffMs } from '../sync/rsync-exit.ts';
import type { RelPath } from '../util/bpath.ts';

/**
 * A path that failed this many times in a row makes the job `degraded` (status, the not-in-sync alert, flush
 * refuses) until it lands: one transient failure is retried quietly, a persistent one needs an operator.
 */
export const DEGRADED_AFTER_ATTEMPTS = 3;

export interface FailedEntry {
  path: RelPath;
  message: string;
  attempts: number;
  retryAt: number;
  flags: number;
  since: number;
}

export class FailedPaths {
  #map = new Map<RelPath, FailedEntry>();

  get size(): number {
    return this.#map.size;
  }

  record(path: RelPath, message: string, flags: number, since: number, now: number): FailedEntry {
    const prev = this.#map.get(path);
    const attempts = (prev?.attempts ?? 0) + 1;
    const entry: FailedEntry = { path, message, attempts, retryAt: now + backoffMs(attempts), flags: flags | (prev?.flags ?? 0), since: Math.min(since, prev?.since ?? since) };
    this.#map.set(path, entry);
    return entry;
  }

  /** Entries whose retry time has come; they stay recorded (attempt count kept) until `clear`. */
  due(now: number): FailedEntry[] {
    return [...this.#map.values()].filter((e) => e.retryAt <= now && e.retryAt !== Infinity).map((e) => {
      e.retryAt = Infinity; // handed back once per failure
      return e;
    });
  }

  has(path: RelPath): boolean {
    return this.#map.has(path);
  }

  clear(path: RelPath): boolean {
    return this.#map.delete(path);
  }

  /** the earliest pending retry time, or null */
  nextRetryAt(): number | null {
    let next: number | null = null;
    for (const e of this.#map.values()) if (e.retryAt !== Infinity && (next === null || e.retryAt < next)) next = e.retryAt;
    return next;
  }

  /** Entries that failed at least `attempts` times (persistent failures). */
  failingSince(attempts: number): FailedEntry[] {
    return [...this.#map.values()].filter((e) => e.attempts >= attempts);
  }

  oldest(): number | null {
    let oldest: number | null = null;
    for (const e of this.#map.values()) if (oldest === null || e.since < oldest) oldest = e.since;
    return oldest;
  }

  list(): FailedEntry[] {
    return [...this.#map.values()];
  }
}
