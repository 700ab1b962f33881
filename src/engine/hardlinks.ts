/**
 * Hard links across batches. rsync -H links only the names that are in the same file list, so a link created
 * in steady state (`ln a b`: inotify reports only b) would land as a copy. This index remembers, per inode,
 * the names of multi-link files (loaded once after the seed with one `find -links +1`, then kept up to date from
 * the batches); a batch that carries one name of a multi-link inode also carries its known siblings, and rsync
 * links them. Stale names are dropped when their inode changed.
 *
 * A write, chmod or xattr through one name produces an event for that name only: its siblings' content changed
 * silently. So a name that is no longer its recorded inode (deleted, renamed where the watcher could not pair
 * it, replaced) still brings the surviving names of the inode it had: they may hold a change made through it.
 */
import { lstatSync } from 'node:fs';
import { absBytes, type RelPath } from '../util/bpath.ts';

type Stats = ReturnType<typeof lstatSync>;

export class HardLinkIndex {
  #byInode = new Map<string, Set<RelPath>>();
  /** the inode (dev:ino) each known name had when last seen */
  #keyOf = new Map<RelPath, string>();
  /** inodes whose link count exceeds the names we know: a tree search (`find -inum`) must find the others */
  #unresolved = new Set<number>();
  #root: string;

  constructor(sourceRoot: string) {
    this.#root = sourceRoot;
  }

  get size(): number {
    return this.#byInode.size;
  }

  add(path: RelPath, dev: number | bigint, ino: number | bigint): void {
    const key = `${dev}:${ino}`;
    const old = this.#keyOf.get(path);
    if (old !== undefined && old !== key) this.#forget(path, old);
    let names = this.#byInode.get(key);
    if (!names) this.#byInode.set(key, (names = new Set()));
    names.add(path);
    this.#keyOf.set(path, key);
  }

  /** Takes the inode numbers waiting for a search. */
  takeUnresolved(): number[] {
    const out = [...this.#unresolved];
    this.#unresolved.clear();
    return out;
  }

  /**
   * For each path that is (now) a multi-link regular file, records it and returns the other known names of the
   * same inode that still are that inode; for each path that was a known name of another inode (gone or
   * replaced since), the surviving names of that inode too. O(paths) lstat calls. A link whose other names are
   * unknown (`ln a b` reports only b) is noted for a search; the mirror then re-syncs all names together and
   * rsync links them.
   */
  siblingsOf(paths: readonly RelPath[]): RelPath[] {
    const extra = new Set<RelPath>();
    const listed = new Set(paths);
    for (const p of paths) {
      const st = this.#stat(p);
      const multi = st !== undefined && (st.isFile() || st.isSymbolicLink()) && st.nlink >= 2;
      const key = multi ? `${st.dev}:${st.ino}` : null;
      const old = this.#keyOf.get(p);
      if (old !== undefined && old !== key) {
        this.#forget(p, old);
        this.#survivors(old, listed, extra);
      }
      if (multi) {
        this.add(p, st.dev, st.ino);
        this.#survivors(key!, listed, extra, st);
      }
    }
    return [...extra];
  }

  /**
   * Adds to `extra` the known names of inode `key` that still are it (others are forgotten), and notes the
   * inode for a search when it has more links than known names. `st`: the inode's stat, when already known.
   */
  #survivors(key: string, listed: ReadonlySet<RelPath>, extra: Set<RelPath>, st?: Stats): void {
    const names = this.#byInode.get(key);
    if (!names) return;
    let inode = st;
    for (const other of [...names]) {
      if (listed.has(other) || extra.has(other)) continue;
      const o = this.#stat(other);
      if (o && `${o.dev}:${o.ino}` === key) {
        extra.add(other);
        inode ??= o;
      } else {
        this.#forget(other, key);
      }
    }
    if (inode !== undefined && names.size < inode.nlink) this.#unresolved.add(Number(inode.ino));
  }

  #forget(path: RelPath, key: string): void {
    const names = this.#byInode.get(key);
    names?.delete(path);
    if (names?.size === 0) this.#byInode.delete(key);
    if (this.#keyOf.get(path) === key) this.#keyOf.delete(path);
  }

  #stat(p: RelPath): Stats | undefined {
    try {
      return lstatSync(absBytes(this.#root, p));
    } catch {
      return undefined;
    }
  }
}
