/**
 * The heartbeat: the mirror's end-to-end lag, measured like any change. The cookie file (src/engine/cookies.ts)
 * is rewritten HEARTBEAT_INTERVAL_MS after each beat; when a batch lands it (or the whole root), the time since
 * it was written is the lag (a `heartbeat` event). A beat due while a batch is pending or in flight waits for
 * the mirror to be idle (polled every HEARTBEAT_RETRY_MS), one interval at most: in a burst synced as one
 * recursive rsync run, the cookie would add a run of its own (the flat list) to the batch; under sustained load
 * it is written anyway and rides along. One timer; the cutover's quiesce and stop end it.
 */
import type { RelPath } from '../util/bpath.ts';
import { writeFileUnder } from '../sys/fsops.ts';
import { DEEP, type DirtyEntry } from './dirty-set.ts';
import { heartbeatCookie, HEARTBEAT_INTERVAL_MS, HEARTBEAT_RETRY_MS } from './cookies.ts';
import type { MirrorView } from './mirror-view.ts';

export class Heartbeat {
  #view: MirrorView;
  #cookie: RelPath;
  #timer: NodeJS.Timeout | null = null;
  /** when the cookie not yet seen on the target was written */
  #writtenAt: number | null = null;

  constructor(view: MirrorView) {
    this.#view = view;
    this.#cookie = heartbeatCookie(view.info.name);
  }

  get running(): boolean {
    return this.#timer !== null;
  }

  /** The first beat goes at once: status shows a heartbeat lag from the start. */
  start(): void {
    let dueAt = Date.now();
    const view = this.#view;
    const beat = (first = false): void => {
      this.#timer = null;
      if (view.stopping() || view.paused()) return; // stop and quiesce end the heartbeat (resume starts it again)
      const now = Date.now();
      const busy = view.queue.busy || view.queue.pendingCount > 0;
      if (busy && !first && now - dueAt < HEARTBEAT_INTERVAL_MS) return arm(HEARTBEAT_RETRY_MS);
      view.emitWatches();
      if (view.state() !== 'halted') {
        const res = writeFileUnder(view.info.source, this.#cookie, `${now}\n`);
        if (res.ok && this.#writtenAt === null) this.#writtenAt = now;
      }
      dueAt = now + HEARTBEAT_INTERVAL_MS;
      arm(HEARTBEAT_INTERVAL_MS);
    };
    const arm = (ms: number): void => {
      this.#timer = setTimeout(() => beat(), ms);
      this.#timer.unref();
    };
    beat(true);
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** After a batch: when it synced the cookie (or the whole root), the lag since the cookie was written. */
  synced(entries: readonly DirtyEntry[]): void {
    if (this.#writtenAt === null || !entries.some((e) => e.path === this.#cookie || (e.path === '' && e.flags & DEEP))) return;
    this.#view.bus.emit({ type: 'heartbeat', lagMs: Date.now() - this.#writtenAt });
    this.#writtenAt = null;
  }
}
