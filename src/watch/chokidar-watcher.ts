/**
 * The Watcher contract over chokidar 5 (`--watcher chokidar`), for small trees and for filesystems where raw
 * inotify is not wanted. Known limits, all from chokidar itself (see docs/watch.md for the measurements):
 * - one inotify watch per FILE (fs.watch per file): ENOSPC comes early; measured 10.3 s and 572 MB to
 *   ready on 100k files, 121 s and ~1.8 GB with most files unwatched on 1M files;
 * - no move pairing: a rename is `delete` + `change` (file) or `delete` + `subtree` (dir);
 * - a queue overflow is invisible (libuv drops IN_Q_OVERFLOW): overflows stays 0;
 * - names are decoded as UTF-8 by Node: a name that is not valid UTF-8 is reported wrongly;
 * - settle() cannot drain the kernel queue: it waits CHOKIDAR_SETTLE_MS (best effort, no guarantee).
 * Defaults that are wrong for a mirror are turned off: atomic (hides *.swp, *~), followSymlinks.
 */
import { relative, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Stats } from 'node:fs';
import { watch, type FSWatcher } from 'chokidar';
import { errnoCode, errorText } from '../errors/errors.ts';
import type { RelPath } from '../util/bpath.ts';
import type { WatchChange, Watcher, WatcherFailure, WatcherOptions, WatcherStats } from './types.ts';

/** What settle() waits: chokidar stats a path before emitting, so events trail the kernel by a few ms. */
export const CHOKIDAR_SETTLE_MS = 200;

/** chokidar event -> change (policy table; one row per chokidar event). */
const EVENT_MAP: Readonly<Record<string, (path: RelPath) => WatchChange>> = {
  // a file appeared (created, or moved in; chokidar cannot tell)
  add: (path) => ({ kind: 'change', path, isDir: false }),
  // content or metadata of a file changed
  change: (path) => ({ kind: 'change', path, isDir: false }),
  // a file disappeared (deleted or moved away)
  unlink: (path) => ({ kind: 'delete', path, isDir: false }),
  // a directory appeared: chokidar lists it after watching... or not (paulmillr/chokidar#1112): sync it whole
  addDir: (path) => ({ kind: 'subtree', path, reason: 'new-dir' }),
  // a directory disappeared
  unlinkDir: (path) => ({ kind: 'delete', path, isDir: true }),
};

type Problem = WatcherFailure & { kind: 'watch-failed' | 'overflow' | 'root-gone' };

export class ChokidarWatcher implements Watcher {
  readonly kind = 'chokidar' as const;
  onChanges: (changes: WatchChange[]) => void = () => {};
  onProblem: (problem: Problem) => void = () => {};
  #o: WatcherOptions;
  #fsw: FSWatcher | null = null;
  #pending: WatchChange[] = [];
  #flushScheduled = false;

  constructor(options: WatcherOptions) {
    this.#o = options;
  }

  /** Binary RelPath of an absolute path chokidar reports ('' for the root). */
  #rel(abs: string): RelPath {
    const rel = relative(this.#o.root, abs);
    return Buffer.from(sep === '/' ? rel : rel.split(sep).join('/'), 'utf8').toString('latin1');
  }

  async start(): Promise<void> {
    const fsw = watch(this.#o.root, {
      ignoreInitial: true,
      followSymlinks: false,
      atomic: false,
      ignorePermissionErrors: false,
      // stats is missing on the first call for a path; chokidar asks again with stats before descending
      ignored: (abs: string, stats?: Stats) => {
        const rel = this.#rel(abs);
        return rel !== '' && this.#o.isExcluded(rel, stats?.isDirectory() ?? false);
      },
    });
    this.#fsw = fsw;
    for (const [event, toChange] of Object.entries(EVENT_MAP)) {
      fsw.on(event as 'add', (abs: string) => {
        const rel = this.#rel(abs);
        if (rel === '' && event === 'unlinkDir') {
          this.onProblem({ kind: 'root-gone', errno: 'ENOENT', message: `the source directory was removed: ${this.#o.root}`, path: '' });
          return;
        }
        this.#queue(toChange(rel));
      });
    }
    fsw.on('error', (err: unknown) => {
      this.onProblem({ kind: 'watch-failed', errno: errnoCode(err) ?? 'EUNKNOWN', message: errorText(err) });
    });
    await new Promise<void>((resolve) => fsw.once('ready', () => resolve()));
  }

  /** Changes from one event-loop turn go out in one onChanges call. */
  #queue(change: WatchChange): void {
    this.#pending.push(change);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const changes = this.#pending;
      this.#pending = [];
      if (changes.length > 0) this.onChanges(changes);
    });
  }

  stats(): WatcherStats {
    // getWatched() also lists the root's parent directory: count only the tree
    const dirs = Object.keys(this.#fsw?.getWatched() ?? {}).filter((d) => d === this.#o.root || d.startsWith(`${this.#o.root}${sep}`));
    return { watchedDirs: dirs.length, unwatched: [], overflows: 0 };
  }

  async settle(): Promise<void> {
    await sleep(CHOKIDAR_SETTLE_MS);
    await new Promise((resolve) => setImmediate(resolve)); // the batch queued in the last turn goes out first
  }

  async close(): Promise<void> {
    await this.#fsw?.close();
    this.#fsw = null;
  }
}
