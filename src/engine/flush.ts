/**
 * The flush barrier (JobControl.flush, `livesync flush`): resolves ok once every change made in the source
 * before the call is on the target. A cookie file is written into the source (src/engine/cookies.ts); once the
 * watcher reported it, every earlier change is in the dirty set (inotify keeps order per instance), so the
 * flush waits until nothing first seen before the cookie is unsynced (the mirror's oldestUnsynced: the dirty
 * set, the batch in flight, failed paths and hard links waiting for their search).
 */
import type { RelPath } from '../util/bpath.ts';
import { unlinkUnder, writeFileUnder } from '../sys/fsops.ts';
import type { FlushResult } from './job.ts';
import { flushCookie } from './cookies.ts';
import type { MirrorView } from './mirror-view.ts';

export class FlushBarrier {
  #view: MirrorView;
  #seen = new Map<RelPath, () => void>();
  #count = 0;

  constructor(view: MirrorView) {
    this.#view = view;
  }

  /** The watcher reported a cookie file. */
  cookieSeen(path: RelPath): void {
    this.#seen.get(path)?.();
  }

  async flush(timeoutMs: number): Promise<FlushResult> {
    const view = this.#view;
    const { source, name } = view.info;
    const started = Date.now();
    const fail = (reason: 'timeout' | 'halted' | 'degraded' | 'stopping', message: string): FlushResult => ({ ok: false, reason, message });
    if (view.stopping()) return fail('stopping', 'the job is stopping');
    if (view.state() === 'halted') return fail('halted', 'the job is halted; see the log for why');
    const cookie = flushCookie(name, ++this.#count);
    const seen = new Promise<number>((resolve) => this.#seen.set(cookie, () => resolve(Date.now())));
    const res = writeFileUnder(source, cookie, '');
    if (!res.ok) return fail('degraded', `cannot write the flush cookie into the source: ${res.errno}`);
    try {
      const deadline = started + timeoutMs;
      await view.options.watcher.settle();
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), Math.max(0, deadline - Date.now()))));
      const seenAt = await Promise.race([seen, expired]).finally(() => clearTimeout(timer));
      if (seenAt === null) return fail('timeout', `the watcher did not report the flush cookie within ${timeoutMs} ms`);
      for (;;) {
        const oldest = view.queue.oldestUnsynced();
        if (oldest === null || oldest > seenAt) return { ok: true, durationMs: Date.now() - started };
        const state = view.state();
        if (state === 'halted') return fail('halted', 'the job halted during the flush');
        if (state === 'degraded' && view.retrying()) return fail('degraded', 'the job is degraded (rsync or target failing); see status');
        const failing = view.queue.persistentFailure();
        if (failing !== null) return fail('degraded', failing);
        const left = deadline - Date.now();
        if (left <= 0) return fail('timeout', `changes older than the flush were still unsynced after ${timeoutMs} ms`);
        await view.idle.wait(left);
      }
    } finally {
      this.#seen.delete(cookie);
      unlinkUnder(source, cookie);
    }
  }
}
