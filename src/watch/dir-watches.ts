/**
 * Keeps one inotify watch per directory in step with the disk: attach (add_watch, which also proves a
 * directory's identity, since re-adding a watched inode returns its existing wd), iterative walks (watch
 * first, then list, so nothing created in between is missed), removal of subtrees that left the tree, the
 * full rescan after a queue overflow, and the retry of directories that could not be watched.
 *
 * Policy here: which add_watch errors mean "gone" and which mean "unwatched" (ADD_WATCH_ERRNO).
 */
import { absBytes, join, type RelPath } from '../util/bpath.ts';
import { addWatch, listSubdirs, rmWatch } from '../sys/inotify.ts';
import type { ChangeBatch } from './change-batch.ts';
import { DirTree, type DirNode } from './dir-tree.ts';
import { WATCH_MASK } from './inotify-events.ts';

/** What a failed add_watch or listing means; anything not listed: the directory is there but unwatched. */
const ADD_WATCH_ERRNO: Readonly<Record<string, 'gone'>> = {
  // removed or renamed since it was listed or reported; the parent's events say what happened to it
  ENOENT: 'gone',
  // replaced by a file or a symlink (IN_ONLYDIR | IN_DONT_FOLLOW)
  ENOTDIR: 'gone',
  // ENOSPC (max_user_watches), EACCES (root-squashed NFS, FUSE), ENOMEM...: not listed, so 'unwatched'
};

function isGone(errno: string): boolean {
  return ADD_WATCH_ERRNO[errno] === 'gone';
}

export type AttachResult =
  /** a new watch; the directory was not known */
  | { kind: 'fresh'; node: DirNode }
  /** this inode already had a watch; `moved`: it was recorded at another place and has been re-parented */
  | { kind: 'known'; node: DirNode; moved: boolean }
  /** the directory is there but could not be watched: an unwatched node (reported, subtree emitted) */
  | { kind: 'failed'; node: DirNode; errno: string }
  /** nothing (or no directory) is at that path any more */
  | { kind: 'gone' };

export interface DirWatchesOptions {
  fd: number;
  root: string;
  rootWd: number;
  isExcluded: (rel: RelPath, isDir: boolean) => boolean;
  onWatchFailed: (path: RelPath, errno: string, message: string) => void;
}

/** An iterative walk in progress (resumable across event-loop turns). */
export class Walk {
  readonly stack: DirNode[];
  readonly visited = new Set<DirNode>();
  constructor(start: DirNode[]) {
    this.stack = [...start];
  }
}

export class DirWatches {
  readonly tree: DirTree;
  #o: DirWatchesOptions;
  /** set when the picture turned out inconsistent (a move would create a cycle): a full rescan is due */
  needsRescan = false;
  /** bumped by every full rescan, so a walk started earlier knows it is obsolete */
  rescans = 0;

  constructor(options: DirWatchesOptions) {
    this.#o = options;
    this.tree = new DirTree(options.rootWd);
  }

  /** add_watch on parent/name and record the result in the tree. */
  attach(parent: DirNode, name: string, batch: ChangeBatch): AttachResult {
    const tree = this.tree;
    const path = join(tree.pathOf(parent), name);
    const res = addWatch(this.#o.fd, absBytes(this.#o.root, path), WATCH_MASK);
    const current = tree.child(parent, name);
    if (!res.ok) {
      if (isGone(res.errno)) return { kind: 'gone' };
      // a watched node here would have made add_watch succeed (same inode): it is stale, replace it
      const node = current !== undefined && current.wd < 0 ? current : tree.add(parent, name, -1);
      const wasUnwatched = node.errno !== null;
      tree.markUnwatched(node, res.errno);
      if (!wasUnwatched) this.#o.onWatchFailed(path, res.errno, res.message);
      batch.subtree(path, 'unwatched');
      return { kind: 'failed', node, errno: res.errno };
    }
    const wd = res.value;
    const known = tree.byWd(wd);
    if (known !== undefined) {
      const moved = !tree.isLinked(known) || known.parent !== parent || known.name !== name;
      if (moved && !tree.place(known, parent, name)) this.needsRescan = true;
      return { kind: 'known', node: known, moved };
    }
    if (current !== undefined && current.wd < 0) {
      tree.setWatch(current, wd); // an unwatched placeholder finally got its watch
      return { kind: 'fresh', node: current };
    }
    return { kind: 'fresh', node: tree.add(parent, name, wd) };
  }

  /**
   * Lists each directory on the walk's stack and attaches its subdirectories (excluded ones are skipped).
   * Returns true when the stack is empty, false when `deadline` (performance.now() ms) passed first.
   */
  walk(walk: Walk, batch: ChangeBatch, deadline = Infinity): boolean {
    const tree = this.tree;
    let steps = 0;
    for (let node = walk.stack.pop(); node !== undefined; node = walk.stack.pop()) {
      if (node.dropped || walk.visited.has(node)) continue;
      walk.visited.add(node);
      const path = tree.pathOf(node);
      const listing = listSubdirs(absBytes(this.#o.root, path));
      if (!listing.ok) {
        if (!isGone(listing.errno)) this.#listingFailed(node, path, listing.errno, listing.message, batch);
        continue;
      }
      if (node.errno !== null && node.wd >= 0) this.tree.clearUnwatched(node); // listing works again
      for (const name of listing.value) {
        if (this.#o.isExcluded(join(path, name), true)) continue;
        const r = this.attach(node, name, batch);
        if (r.kind !== 'gone' && !walk.visited.has(r.node)) walk.stack.push(r.node);
      }
      if ((++steps & 15) === 0 && performance.now() > deadline) return walk.stack.length === 0;
    }
    return true;
  }

  #listingFailed(node: DirNode, path: RelPath, errno: string, message: string, batch: ChangeBatch): void {
    const wasUnwatched = node.errno !== null;
    this.tree.markUnwatched(node, errno);
    if (!wasUnwatched) this.#o.onWatchFailed(path, errno, message);
    batch.subtree(path, 'unwatched');
  }

  /** Removes the watches of `node`'s whole subtree (it left the tree) and forgets it. */
  remove(node: DirNode): void {
    for (const wd of this.tree.drop(node)) rmWatch(this.#o.fd, wd); // EINVAL: the kernel dropped it already
  }

  /**
   * Full rescan after an overflow (or an inconsistent picture): re-attach every directory from the root
   * (known watches are re-parented to where they are now, missing ones added), then remove the watches of
   * every directory not seen (deleted, moved out, or newly excluded while events were lost). Synchronous,
   * so no event is applied against a half-rebuilt picture.
   */
  rescanAll(batch: ChangeBatch): void {
    this.rescans++;
    this.needsRescan = false;
    const walk = new Walk([this.tree.root]);
    this.walk(walk, batch);
    for (const node of this.tree.allNodes()) {
      if (node !== this.tree.root && !walk.visited.has(node) && !node.dropped) this.remove(node);
    }
  }

  /**
   * One retry round for the unwatched list: add the missing watch (or list again), walk what is now
   * watchable and emit `subtree` 'rescan' for it; what is still unwatched gets `subtree` 'unwatched' again,
   * so the engine re-syncs it every round. Directories that vanished are forgotten.
   */
  retryUnwatched(batch: ChangeBatch): void {
    const tree = this.tree;
    for (const node of tree.unwatched()) {
      if (node.dropped || node.errno === null) continue;
      if (node.parent === null || !tree.isLinked(node)) {
        this.remove(node);
        continue;
      }
      let target = node;
      if (node.wd < 0) {
        const r = this.attach(node.parent, node.name, batch);
        if (r.kind === 'gone') this.remove(node);
        if (r.kind === 'gone' || r.kind === 'failed') continue;
        if (r.node !== node) this.remove(node);
        target = r.node;
      }
      this.walk(new Walk([target]), batch);
      if (target.errno === null) batch.subtree(tree.pathOf(target), 'rescan');
    }
  }

  /**
   * After a directory moved: when excludes match whole paths, some descendants may now be excluded (their
   * watches go) and some formerly excluded ones included (they get watches).
   */
  reconcileExcludes(node: DirNode, batch: ChangeBatch): void {
    const tree = this.tree;
    for (const n of tree.subtree(node)) {
      if (n !== node && !n.dropped && this.#o.isExcluded(tree.pathOf(n), true)) this.remove(n);
    }
    this.walk(new Walk([node]), batch);
  }
}
