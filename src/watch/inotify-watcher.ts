/**
 * The raw-inotify Watcher (the default): one watch per directory on one inotify fd read through a libuv poll
 * (native/inotify.c), so IN_Q_OVERFLOW is seen (libuv's own fs.watch drops it) and no watch is spent on files.
 *
 *   start()   watch the root, then walk the tree iteratively (watch each directory BEFORE listing it), in
 *             slices of WALK_SLICE_MS so events keep being read meanwhile; resolves when every directory has a
 *             watch or is on the unwatched list
 *   read      each chunk read from the fd -> parsed -> applied (event-apply.ts) -> one onChanges call
 *   retry     every retryUnwatchedMs, directories that could not be watched are tried again
 *   settle()  synchronous drain of the fd; everything queued before the call is delivered before it resolves
 *
 * Lifecycle: created -> start() -> running -> close() -> closed (not reusable).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { InternalError, ToolError } from '../errors/errors.ts';
import { ExitCode } from '../errors/exit-codes.ts';
import { absBytes, display } from '../util/bpath.ts';
import {
  addWatch,
  closeFd,
  drainSync,
  inotifyInit,
  startReadLoop,
  stopReadLoop,
  type ReadLoop,
} from '../sys/inotify.ts';
import { ChangeBatch } from './change-batch.ts';
import { DirWatches, Walk } from './dir-watches.ts';
import { EventApplier, MOVE_PAIR_HOLD_MS } from './event-apply.ts';
import { WATCH_MASK, parseEvents } from './inotify-events.ts';
import type { WatchChange, Watcher, WatcherFailure, WatcherOptions, WatcherStats } from './types.ts';

/** Retry period for unwatched directories: long enough not to spin on a hard limit, short enough to heal. */
export const UNWATCHED_RETRY_MS = 30_000;
/** The initial walk yields to the event loop this often, so the kernel queue is drained while it runs. */
export const WALK_SLICE_MS = 50;

export interface InotifyWatcherOptions extends WatcherOptions {
  /** retry period for unwatched directories (default UNWATCHED_RETRY_MS) */
  retryUnwatchedMs?: number;
}

type Problem = WatcherFailure & { kind: 'watch-failed' | 'overflow' | 'root-gone' };

export class InotifyWatcher implements Watcher {
  readonly kind = 'inotify' as const;
  onChanges: (changes: WatchChange[]) => void = () => {};
  onProblem: (problem: Problem) => void = () => {};

  #o: InotifyWatcherOptions;
  #fd = -1;
  #loop: ReadLoop | null = null;
  #watches: DirWatches | null = null;
  #applier: EventApplier | null = null;
  #batch = new ChangeBatch();
  #holdTimer: NodeJS.Timeout | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #overflows = 0;
  #rootGone = false;
  #closed = false;

  constructor(options: InotifyWatcherOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    if (this.#watches !== null || this.#closed) throw new InternalError('InotifyWatcher.start called twice');
    const init = inotifyInit();
    if (!init.ok) {
      throw new ToolError('E_INOTIFY_INIT', `cannot create an inotify instance: ${init.message}`, {
        hint: 'raise fs.inotify.max_user_instances (sysctl -w fs.inotify.max_user_instances=1024) or use --watcher chokidar',
        exitCode: ExitCode.config,
      });
    }
    this.#fd = init.value;
    const rootWatch = addWatch(this.#fd, absBytes(this.#o.root, ''), WATCH_MASK);
    if (!rootWatch.ok) {
      closeFd(this.#fd);
      this.#closed = true;
      throw new ToolError('E_WATCH_ROOT', `cannot watch the source ${this.#o.root}: ${rootWatch.message}`, {
        hint: rootWatch.errno === 'ENOSPC' ? 'raise fs.inotify.max_user_watches (sysctl -w fs.inotify.max_user_watches=1048576)' : 'check that the source is an existing, readable directory',
        exitCode: ExitCode.config,
      });
    }
    const watches = new DirWatches({
      fd: this.#fd,
      root: this.#o.root,
      rootWd: rootWatch.value,
      isExcluded: this.#o.isExcluded,
      onWatchFailed: (path, errno, message) => this.#problem({ kind: 'watch-failed', errno, message: `cannot watch ${display(path)}: ${message}`, path }),
    });
    this.#watches = watches;
    this.#applier = new EventApplier(watches, {
      isExcluded: this.#o.isExcluded,
      excludesMatchPaths: this.#o.excludesMatchPaths ?? true,
      onOverflow: () => {
        this.#overflows++;
        this.#problem({ kind: 'overflow', errno: 'IN_Q_OVERFLOW', message: 'the inotify queue overflowed: events were lost, the whole tree is rescanned' });
      },
      onRootGone: (why) => {
        if (this.#rootGone) return;
        this.#rootGone = true;
        this.#problem({ kind: 'root-gone', errno: 'ENOENT', message: `${why}: ${this.#o.root}`, path: '' });
      },
    });
    this.#loop = startReadLoop(
      this.#fd,
      (records) => this.#onRecords(records),
      (errno) => this.#problem({ kind: 'watch-failed', errno, message: `reading the inotify fd failed: ${errno}` }),
    );
    const walk = new Walk([watches.tree.root]);
    const rescansBefore = watches.rescans;
    while (!watches.walk(walk, this.#batch, performance.now() + WALK_SLICE_MS)) {
      this.#flush();
      await nextTurn();
      if (this.#closed) return;
      if (watches.rescans !== rescansBefore) break; // an overflow rescan already covered the whole tree
    }
    this.#process(false);
  }

  stats(): WatcherStats {
    const watches = this.#watches;
    if (watches === null) return { watchedDirs: 0, unwatched: [], overflows: this.#overflows };
    const unwatched = watches.tree
      .unwatched()
      .filter((n) => n.errno !== null)
      .map((n) => ({ path: watches.tree.pathOf(n), errno: n.errno ?? '' }));
    return { watchedDirs: watches.tree.watchedCount, unwatched, overflows: this.#overflows };
  }

  async settle(): Promise<void> {
    if (this.#closed || this.#applier === null) return;
    this.#drain();
    this.#process(true);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#loop !== null) stopReadLoop(this.#loop);
    this.#loop = null;
    if (this.#holdTimer !== null) clearTimeout(this.#holdTimer);
    if (this.#retryTimer !== null) clearInterval(this.#retryTimer);
    if (this.#fd >= 0) closeFd(this.#fd);
    this.#fd = -1;
  }

  #onRecords(records: Buffer): void {
    if (this.#closed || this.#applier === null) return;
    this.#applier.push(parseEvents(records, performance.now()));
    this.#process(false);
  }

  /** Synchronously reads everything queued in the kernel now into the applier's queue. */
  #drain(): void {
    const drained = drainSync(this.#fd);
    if (drained.ok) this.#applier?.push(parseEvents(drained.value, performance.now()));
    else this.#problem({ kind: 'watch-failed', errno: drained.errno, message: `reading the inotify fd failed: ${drained.message}` });
  }

  #process(force: boolean): void {
    const applier = this.#applier;
    const watches = this.#watches;
    if (applier === null || watches === null) return;
    let held = applier.run(this.#batch, performance.now(), force);
    if (watches.hasGone) {
      // some directories were not found where the tree says: apply every event queued before that moment
      // (a rename of an ancestor, usually), then look for them again where the tree now puts them
      this.#drain();
      held = applier.run(this.#batch, performance.now(), true);
      watches.retryGone(this.#batch);
    }
    if (held && this.#holdTimer === null) {
      this.#holdTimer = setTimeout(() => {
        this.#holdTimer = null;
        if (!this.#closed) this.#process(false);
      }, MOVE_PAIR_HOLD_MS);
    }
    this.#flush();
    this.#armRetry();
  }

  #flush(): void {
    if (this.#batch.size === 0 || this.#closed) return;
    this.onChanges(this.#batch.take());
  }

  /** The retry timer runs only while something is unwatched; unref'd so it never keeps the process alive. */
  #armRetry(): void {
    const watches = this.#watches;
    if (watches === null || this.#retryTimer !== null || this.#closed) return;
    if (watches.tree.unwatchedCount === 0) return;
    this.#retryTimer = setInterval(() => {
      if (this.#closed) return;
      watches.retryUnwatched(this.#batch);
      this.#process(false);
      if (watches.tree.unwatchedCount === 0 && this.#retryTimer !== null) {
        clearInterval(this.#retryTimer);
        this.#retryTimer = null;
      }
    }, this.#o.retryUnwatchedMs ?? UNWATCHED_RETRY_MS);
    this.#retryTimer.unref();
  }

  #problem(problem: Problem): void {
    if (!this.#closed) this.onProblem(problem);
  }
}
