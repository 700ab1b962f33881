/**
 * The contract between a watcher (inotify or chokidar) and the mirror engine.
 *
 * Paths are RelPath binary strings relative to the source root (src/util/bpath.ts); '' is the root.
 * A watcher reports *what may have changed*, in kernel order, already paired and filtered by the excludes.
 * It never decides what to sync: the engine does (src/engine/).
 *
 * Concurrency: a watcher calls `onChanges` synchronously from its read loop, in order; the engine must not
 * block there. `start` resolves once every directory of the tree has a watch (or is listed as unwatched).
 */
import type { RelPath } from '../util/bpath.ts';

export type WatchChange =
  /** Content, attributes or existence of `path` changed (create, write, chmod, chown, xattr, utimes). */
  | { kind: 'change'; path: RelPath; isDir: boolean }
  /** `path` is gone (deleted, or moved out of the tree / into an excluded place). */
  | { kind: 'delete'; path: RelPath; isDir: boolean }
  /** Renamed inside the tree, both ends seen (same inotify cookie). */
  | { kind: 'move'; from: RelPath; to: RelPath; isDir: boolean }
  /**
   * Everything under `path` must be synced recursively: a directory that appeared (created or moved in; its
   * watch was added *before* it was listed, so later events are not lost), a directory whose watch could not
   * be added, or the whole tree after a queue overflow.
   */
  | { kind: 'subtree'; path: RelPath; reason: 'new-dir' | 'overflow' | 'unwatched' | 'rescan' };

export interface WatcherStats {
  watchedDirs: number;
  /** directories that could not get a watch, with the errno; they are rescanned periodically */
  unwatched: Array<{ path: RelPath; errno: string }>;
  overflows: number;
}

export interface WatcherFailure {
  errno: string;
  message: string;
  path?: RelPath;
}

export interface Watcher {
  readonly kind: 'inotify' | 'chokidar';
  /** Adds the watches on the whole tree. Resolves when done. */
  start(): Promise<void>;
  /** The consumer of changes; set before `start`. */
  onChanges: (changes: WatchChange[]) => void;
  /** Problems that do not stop watching (a watch that could not be added, an overflow). */
  onProblem: (problem: WatcherFailure & { kind: 'watch-failed' | 'overflow' | 'root-gone' }) => void;
  stats(): WatcherStats;
  /**
   * Resolves once every event queued in the kernel before this call has been delivered through onChanges
   * (reads the inotify fd until it is empty). The cutover barrier and flush use it.
   */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export interface WatcherOptions {
  /** absolute path of the source root */
  root: string;
  /** true when `rel` (a path under root) is excluded; excluded directories get no watch */
  isExcluded: (rel: RelPath, isDir: boolean) => boolean;
  /**
   * true when some exclude pattern matches more than the last path component (it has a '/' or '**'), so a
   * moved directory's descendants must be re-checked (compileExcludes(...).matchesPaths). Default true (safe).
   */
  excludesMatchPaths?: boolean;
}
