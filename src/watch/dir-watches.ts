/**
 * Keeps one inotify watch per directory in step with the disk: attach (add_watch, which also proves a
 * directory's identity, since re-adding a watched inode returns its existing wd), iterative walks (watch
 * first, then list, so nothing created in between is missed), removal of subtrees that left the tree, the
 * full rescan after a queue overflow, and the retry of directories that could not be watched.
 *
 * Policy here: which add_watch errors mean "gone" and which mean "unwatched" (ADD_WATCH_ERRNO).
 */
import { absBytes, join, type RelPath } from '../util/bpath.ts';
import { addWatch, fsMagic, listSubdirs, rmWatch, statDir } from '../sys/inotify.ts';
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

/**
 * Filesystems whose directory link count is exactly 2 + the number of subdirectories, so a directory with
 * nlink == 2 has no subdirectory and need not be listed (GNU find's leaf optimization). On a 1M-file tree the
 * listing of files, which the watcher does not need, is most of the walk. Anything else (btrfs reports 1,
 * FUSE and network filesystems may report anything) is always listed.
 */
export const NLINK_COUNTS_SUBDIRS: Readonly<Record<number, string>> = {
  0x01021994: 'tmpfs',
  0xef53: 'ext2/ext3/ext4 (a directory past 65,000 subdirectories reports 1, which is listed)',
  0x58465342: 'xfs',
};

/** Attempts for a "gone" directory: 1 when found, 2 after the events queued before it are applied, 3 spare. */
const GONE_ATTEMPTS = 3;

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
  /** directories whose subdirectories are known (listed, or proven leaves) */
  listed = 0;
  constructor(start: DirNode[]) {
    this.stack = [...start];
  }
}

export class DirWatches {
  readonly tree: DirTree;
  #o: DirWatchesOptions;
  /** st_dev -> its filesystem is in NLINK_COUNTS_SUBDIRS */
  #countsSubdirs = new Map<number, boolean>();
  /** set when the picture turned out inconsistent (a move would create a cycle): a full rescan is due */
  needsRescan = false;
  /** bumped by every full rescan, so a walk started earlier knows it is obsolete */
  rescans = 0;
  /**
   * Directories found "gone" (ENOENT) at a path the tree still believes in: usually an ancestor was renamed
   * and its events are not applied yet, so the directory is alive elsewhere with no watch (or unlisted).
   * Retried once those events are applied (retryGone), at most GONE_ATTEMPTS times.
   */
  #gone: Array<{ parent: DirNode; name: string; node: DirNode | null; attempts: number }> = [];
  /** attempt number given to directories found gone right now (raised while retrying) */
  #attempt = 1;

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
      const abs = absBytes(this.#o.root, path);
      // watched before this check, so a subdirectory created after it still produces IN_CREATE
      if (this.#isLeaf(abs)) {
        walk.listed++;
        if (node.errno !== null && node.wd >= 0) this.tree.clearUnwatched(node);
        continue;
      }
      const listing = listSubdirs(abs);
      if (!listing.ok) {
        if (isGone(listing.errno)) this.noteGone(node.parent ?? node, node.name, node);
        else this.#listingFailed(node, path, listing.errno, listing.message, batch);
        continue;
      }
      walk.listed++;
      if (node.errno !== null && node.wd >= 0) this.tree.clearUnwatched(node); // listing works again
      for (const name of listing.value) {
        if (this.#o.isExcluded(join(path, name), true)) continue;
        const r = this.attach(node, name, batch);
        if (r.kind === 'gone') this.noteGone(node, name, null);
        else if (!walk.visited.has(r.node)) walk.stack.push(r.node);
      }
      if ((++steps & 15) === 0 && performance.now() > deadline) return walk.stack.length === 0;
    }
    return true;
  }

  /** True when the directory's link count proves it has no subdirectory. */
  #isLeaf(abs: Buffer): boolean {
    const st = statDir(abs);
    if (!st.ok || st.value.nlink !== 2) return false;
    let counts = this.#countsSubdirs.get(st.value.dev);
    if (counts === undefined) {
      const magic = fsMagic(abs);
      counts = magic.ok && NLINK_COUNTS_SUBDIRS[magic.value] !== undefined;
      this.#countsSubdirs.set(st.value.dev, counts);
    }
    return counts;
  }

  /** Remembers a directory found gone: `node` when it is known but could not be listed, else parent/name. */
  noteGone(parent: DirNode, name: string, node: DirNode | null): void {
    if (this.#attempt <= GONE_ATTEMPTS) this.#gone.push({ parent, name, node, attempts: this.#attempt });
  }

  get hasGone(): boolean {
    return this.#gone.length > 0;
  }

  /**
   * Call once every event queued before the directories were found gone has been applied (the fd drained):
   * each one is tried again where the tree now puts it; found -> watched, walked, `subtree` emitted.
   */
  retryGone(batch: ChangeBatch): void {
    const entries = this.#gone;
    this.#gone = [];
    for (const e of entries) {
      if (e.node !== null ? e.node.dropped : e.parent.dropped) continue;
      this.#attempt = e.attempts + 1;
      let node = e.node;
      if (node === null) {
        if (this.tree.child(e.parent, e.name) !== undefined) continue; // attached since, by an event
        const r = this.attach(e.parent, e.name, batch);
        if (r.kind === 'gone') {
          this.noteGone(e.parent, e.name, null);
          continue;
        }
        node = r.node;
      }
      const walk = new Walk([node]);
      this.walk(walk, batch);
      if (walk.listed > 0 && node.errno === null) batch.subtree(this.tree.pathOf(node), 'rescan');
    }
    this.#attempt = 1;
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
    this.#gone = [];
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
