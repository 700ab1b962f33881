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
 *
 * The index follows the renames the watcher reports (a known name, or a directory with known names below it:
 * only those are re-keyed, so an unrelated rename costs O(1)). A name renamed where no rename was reported is
 * stale: if no name of its inode is known any more, the inode is searched for.
 *
 * Every group a batch carried is noted as touched; the relink pass (src/engine/relink.ts) takes them when the
 * mirror is idle and checks that each group is one inode on the target too.
 */
import { lstatSync, type Stats } from 'node:fs';
import { absBytes, type RelPath } from '../util/bpath.ts';

export class HardLinkIndex {
  #byInode = new Map<string, Set<RelPath>>();
  /** the inode (dev:ino) each known name had when last seen */
  #keyOf = new Map<RelPath, string>();
  /** inodes whose link count exceeds the names we know: a tree search (`find -inum`) must find the others */
  #unresolved = new Set<number>();
  /** groups (dev:ino) a batch carried since the relink pass last took them */
  #touched = new Set<string>();
  /**
   * Inodes whose search found every name there is in the tree (nothing was renamed meanwhile), with the link
   * count then: the other links are outside the tree (links from elsewhere on the filesystem), so no search
   * again until the count changes or a known name goes stale (was: a search, a batch and a search, forever).
   */
  #settled = new Map<string, number>();
  /** for each directory, how many known names are below it (a rename re-keys only what it moves) */
  #below = new Map<RelPath, number>();
  #root: string;

  constructor(sourceRoot: string) {
    this.#root = sourceRoot;
  }

  get size(): number {
    return this.#byInode.size;
  }

  add(path: RelPath, dev: number | bigint, ino: number | bigint): void {
    this.#put(path, `${dev}:${ino}`);
  }

  #put(path: RelPath, key: string): void {
    const old = this.#keyOf.get(path);
    if (old === key) return;
    if (old !== undefined) this.#forget(path, old);
    let names = this.#byInode.get(key);
    if (!names) this.#byInode.set(key, (names = new Set()));
    names.add(path);
    this.#keyOf.set(path, key);
    this.#countBelow(path, 1);
  }

  /** A rename in the tree (a file, or a directory with everything below it): known names move with it. */
  renamed(from: RelPath, to: RelPath): void {
    const moving: Array<[RelPath, string]> = [];
    const own = this.#keyOf.get(from);
    if (own !== undefined) moving.push([from, own]);
    if (this.#below.has(from)) for (const [p, key] of this.#keyOf) if (p.startsWith(`${from}/`)) moving.push([p, key]);
    for (const [p, key] of moving) this.#remove(p, key);
    for (const [p, key] of moving) this.#put(to + p.slice(from.length), key);
  }

  /** Keeps #below: `delta` names more (or fewer) below every directory above `path`. */
  #countBelow(path: RelPath, delta: number): void {
    for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) {
      const dir = path.slice(0, i);
      const n = (this.#below.get(dir) ?? 0) + delta;
      if (n > 0) this.#below.set(dir, n);
      else this.#below.delete(dir);
    }
  }

  /** Some inode waits for a search. */
  get hasUnresolved(): boolean {
    return this.#unresolved.size > 0;
  }

  /** Groups carried by a batch and not yet checked by the relink pass. */
  get touched(): number {
    return this.#touched.size;
  }

  /** The known names below `dirs` (deleted directories, recursive entries): O(dirs), or O(known names) if any. */
  namesUnder(dirs: readonly RelPath[]): RelPath[] {
    const set = new Set(dirs);
    if (set.has('')) return [...this.#keyOf.keys()];
    if (!dirs.some((d) => this.#below.has(d))) return [];
    const out: RelPath[] = [];
    for (const p of this.#keyOf.keys()) {
      for (let i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) {
        if (set.has(p.slice(0, i))) {
          out.push(p);
          break;
        }
      }
    }
    return out;
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
        this.#touched.add(old);
      }
      if (multi) {
        this.add(p, st.dev, st.ino);
        this.#survivors(key!, listed, extra, st);
        this.#touched.add(key!);
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
    let stale = false;
    for (const other of [...names]) {
      if (listed.has(other) || extra.has(other)) continue;
      const o = this.#current(other, key);
      if (o === null) {
        stale = true;
        continue;
      }
      extra.add(other);
      inode ??= o;
      // its last link: carried (it may hold a change made through a name gone since), no longer indexed
      if (o.nlink < 2) this.#forget(other, key);
    }
    if (inode !== undefined) {
      if (inode.nlink >= 2) this.#complete(key, names.size, inode.nlink, inode.ino);
    } else if (stale) {
      // no known name is the inode any more, and one went away unseen (renamed where no rename was reported):
      // the inode may live on under names the index never saw, and a change made through the name listed
      // reached them (churn SEED=1034: written through one name, a directory above it deleted, the other stale)
      this.#unresolved.add(Number(key.slice(key.indexOf(':') + 1)));
    }
  }

  /** A known name of inode `key`, with its stat, if it still is that inode (else it is forgotten: null). */
  #current(name: RelPath, key: string): Stats | null {
    const st = this.#stat(name);
    if (st && `${st.dev}:${st.ino}` === key) return st;
    this.#forget(name, key);
    return null;
  }

  /**
   * Takes up to `limit` touched groups and checks them on the source (O(names) lstat calls): stale names are
   * forgotten, a group with more links than known names is noted for a search; returns the groups whose every
   * name is known, for the relink pass to compare with the target.
   */
  takeTouched(limit: number): Array<{ key: string; names: RelPath[] }> {
    const out: Array<{ key: string; names: RelPath[] }> = [];
    for (const key of this.#touched) {
      if (limit-- <= 0) break;
      this.#touched.delete(key);
      let inode: Stats | undefined;
      for (const name of [...(this.#byInode.get(key) ?? [])]) inode ??= this.#current(name, key) ?? undefined;
      const names = this.#byInode.get(key);
      if (!names || !inode || inode.nlink < 2) continue;
      if (this.#complete(key, names.size, inode.nlink, inode.ino)) out.push({ key, names: [...names] });
    }
    return out;
  }

  /**
   * What a search for the names of some inodes found (src/engine/link-search.ts). `everything`: nothing was
   * renamed while it ran, so it found every name in the tree; an inode with more links is linked from outside.
   */
  searched(found: ReadonlyArray<{ path: RelPath; dev: number; ino: number }>, everything: boolean): void {
    for (const f of found) this.add(f.path, f.dev, f.ino);
    if (!everything) return;
    for (const f of found) {
      const key = `${f.dev}:${f.ino}`;
      const st = this.#settled.has(key) ? undefined : this.#stat(f.path);
      if (st && `${st.dev}:${st.ino}` === key) this.#settled.set(key, st.nlink);
    }
  }

  /** Whether `known` names are all the links of the inode in the tree; if not, notes it for a search. */
  #complete(key: string, known: number, nlink: number, ino: number): boolean {
    if (known >= nlink) {
      this.#settled.delete(key);
      return true;
    }
    if (this.#settled.get(key) === nlink) return true;
    this.#unresolved.add(ino);
    return false;
  }

  /** Forgets a name that is no longer inode `key`: the group's other names may have moved too (search again). */
  #forget(path: RelPath, key: string): void {
    this.#remove(path, key);
    this.#settled.delete(key);
  }

  #remove(path: RelPath, key: string): void {
    const names = this.#byInode.get(key);
    names?.delete(path);
    if (names?.size === 0) this.#byInode.delete(key);
    if (this.#keyOf.get(path) !== key) return;
    this.#keyOf.delete(path);
    this.#countBelow(path, -1);
  }

  #stat(p: RelPath): Stats | undefined {
    try {
      return lstatSync(absBytes(this.#root, p));
    } catch {
      return undefined;
    }
  }
}
