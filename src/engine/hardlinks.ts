/**
 * Hard links across batches. rsync -H links only the names that are in the same file list, so a link created
 * in steady state (`ln a b`: inotify reports only b) would land as a copy. This index remembers, per inode,
 * the names of multi-link files (loaded once after the seed with one `find -links +1`, then kept up to date from
 * the batches); a batch that carries one name of a multi-link inode also carries its known siblings, and rsync
 * links them. Stale names are dropped when their inode changed.
 */
import { lstatSync } from 'node:fs';
import { absBytes, type RelPath } from '../util/bpath.ts';

export class HardLinkIndex {
  #byInode = new Map<string, Set<RelPath>>();
  #root: string;

  constructor(sourceRoot: string) {
    this.#root = sourceRoot;
  }

  get size(): number {
    return this.#byInode.size;
  }

  add(path: RelPath, dev: number | bigint, ino: number | bigint): void {
    const key = `${dev}:${ino}`;
    let names = this.#byInode.get(key);
    if (!names) this.#byInode.set(key, (names = new Set()));
    names.add(path);
  }

  /** inodes whose link count exceeds the names we know: a tree search (`find -inum`) must find the others */
  #unresolved = new Set<number>();

  /** Takes the inode numbers waiting for a search. */
  takeUnresolved(): number[] {
    const out = [...this.#unresolved];
    this.#unresolved.clear();
    return out;
  }

  /**
   * For each path that is (now) a multi-link regular file, records it and returns the other known names of the
   * same inode that still are that inode. O(paths) lstat calls. A link whose other names are unknown (`ln a b`
   * reports only b) is noted for a search; the mirror then re-syncs all names together and rsync links them.
   */
  siblingsOf(paths: readonly RelPath[]): RelPath[] {
    const extra = new Set<RelPath>();
    const listed = new Set(paths);
    for (const p of paths) {
      const st = this.#stat(p);
      if (!st || !(st.isFile() || st.isSymbolicLink()) || st.nlink < 2) continue;
      const key = `${st.dev}:${st.ino}`;
      this.add(p, st.dev, st.ino);
      for (const other of this.#byInode.get(key)!) {
        if (other === p || listed.has(other) || extra.has(other)) continue;
        const o = this.#stat(other);
        if (o && o.dev === st.dev && o.ino === st.ino) extra.add(other);
        else this.#byInode.get(key)!.delete(other);
      }
      if (this.#byInode.get(key)!.size < st.nlink) this.#unresolved.add(Number(st.ino));
    }
    return [...extra];
  }

  #stat(p: RelPath): ReturnType<typeof lstatSync> | undefined {
    try {
      return lstatSync(absBytes(this.#root, p));
    } catch {
      return undefined;
    }
  }
}
