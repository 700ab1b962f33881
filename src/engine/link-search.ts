/**
 * The hard-link searches (the hard-link index itself: src/engine/hardlinks.ts). A new link to an inode whose
 * other names the index does not know (`ln a b`: inotify reports only b) landed as a copy; one background
 * `find -inum` of the tree at a time finds every name of the inodes noted since, and marks them in the dirty
 * set, so the next batch carries them together and rsync -H links them. Until the names are in the dirty set
 * the change counts as unsynced, with the time it was first seen (lag, `livesync flush`). Also: the one-time
 * load of the index after the seed or the reconcile.
 */
import type { RelPath } from '../util/bpath.ts';
import { multiLinkFiles } from '../sys/fsops.ts';
import { META, type DirtySet } from './dirty-set.ts';
import type { HardLinkIndex } from './hardlinks.ts';

export class LinkSearch {
  #source: string;
  #index: HardLinkIndex;
  #dirty: DirtySet;
  #search: Promise<void> | null = null;
  /** first-seen time of the changes whose links wait for a search (`#waiting`) or are being searched */
  #waiting: number | null = null;
  #searching: number | null = null;
  /** names the searches found, in all */
  #found = 0;
  /** renames and new directories absorbed, in all: a search that saw none meanwhile found every name */
  #moves = 0;

  /** the watcher's barrier: every event queued in the kernel is absorbed when it resolves */
  #barrier: () => Promise<void>;

  constructor(source: string, index: HardLinkIndex, dirty: DirtySet, barrier: () => Promise<void>) {
    this.#source = source;
    this.#index = index;
    this.#dirty = dirty;
    this.#barrier = barrier;
  }

  /** Links wait for a search or are being searched. */
  get pending(): boolean {
    return this.#search !== null || this.#index.hasUnresolved;
  }

  /** First-seen time of the oldest change whose links are not found yet, or null. */
  get oldest(): number | null {
    if (this.#waiting === null) return this.#searching;
    return this.#searching === null ? this.#waiting : Math.min(this.#waiting, this.#searching);
  }

  /**
   * Indexes every multi-link file of the tree: `known`, the list the reconcile's walk made, or one
   * `find -links +1`. `relink`: also mark them all, so the first batches carry every link group whole and rsync
   * -H (re)links them on the target: a reconcile compares names one by one and syncs a new directory
   * recursively, which would copy a name whose siblings live elsewhere instead of linking it.
   */
  async load(relink: boolean, known?: ReadonlyArray<{ path: RelPath; dev: number; ino: number | bigint }>): Promise<void> {
    const now = Date.now();
    for (const f of known ?? (await multiLinkFiles(this.#source))) {
      this.#index.add(f.path, f.dev, f.ino);
      if (relink) this.#dirty.mark(f.path, META, now);
    }
  }

  /** A rename or a new directory was absorbed: a search running now may miss a name that moved under it. */
  moved(): void {
    this.#moves++;
  }

  /** A batch landed: if it noted inodes for a search, its changes (first seen at `since`) wait for it. */
  landed(since: number): void {
    if (this.#index.hasUnresolved) this.#waiting = Math.min(this.#waiting ?? since, since);
  }

  /** Starts the search for the inodes noted, unless one runs (it starts the next when it ends). */
  resolve(onFound: () => void): void {
    if (this.#search) return;
    const inodes = this.#index.takeUnresolved();
    if (inodes.length === 0) {
      this.#waiting = null;
      return;
    }
    const since = (this.#searching = this.#waiting ?? Date.now());
    this.#waiting = null;
    const moves = this.#moves;
    this.#search = (async () => {
      try {
        const found = await multiLinkFiles(this.#source, [''], inodes);
        // a rename while `find` walked may have hidden a name from it: then the search is not the last word
        await this.#barrier();
        this.#index.searched(found, this.#moves === moves);
        for (const f of found) this.#dirty.mark(f.path, META, since);
        this.#found += found.length;
        if (found.length > 0) onFound();
      } finally {
        this.#search = null;
        this.#searching = null;
      }
      this.resolve(onFound);
    })();
  }

  /** Runs the searches still due, now, and waits for them (the cutover's final delta); true if one found names. */
  async settle(): Promise<boolean> {
    const before = this.#found;
    while (this.pending) {
      if (!this.#search) this.resolve(() => undefined);
      await this.#search;
    }
    return this.#found > before;
  }
}
