/**
 * The dirty set: every path whose state on the target may differ from the source, keyed by path in a trie of
 * path components. It is the engine's first-class structure: the steady-state batches and the cutover's final
 * delta both drain it, in O(dirty entries), never by scanning the tree.
 *
 *   mark*     O(depth) per event, no list is ever scanned; a path marked twice is one entry (coalescing)
 *   move      re-keys the dirty entries under `from` to `to` in O(depth) (the subtree node is re-parented)
 *   collapse  a directory in which more than COLLAPSE_CHILDREN entries were marked directly becomes one
 *             recursive entry: a burst in one directory is one `rsync -r dir/`. Only entries marked in the
 *             directory itself count, not subdirectories that merely lead to deeper marks: a directory whose
 *             thousands of subdirectories each hold one change collapsed too, and its recursive sync walked the
 *             whole subtree (measured: the cutover's final delta at 100k files took 2.6 s instead of 55 ms, and
 *             at 1M a batch walked the tree for ~25 s). Memory stays bounded by the distinct dirty paths.
 *   drain     hands out every entry, grouped by how it must be synced, and empties the set; `hold` keeps the
 *             entries carrying a flag (the deletions, while they settle: src/engine/schedule.ts) for later
 *
 * Entry kinds (flags, several may combine on one node):
 *   META   the entry itself (existence, type, attributes; a deleted path is a META entry whose source is gone)
 *   DATA   content was written: rsync's quick check may be fooled by a same-size rewrite in the same mtime tick,
 *          so the batch decides whether to force a content comparison (see src/engine/batch-plan.ts)
 *   DEEP   everything under the directory, recursively (new directory, overflow, unwatched, collapsed)
 *   GONE   deleted or moved away (its parent's mtime is fixed by a follow-up entry once the deletion landed)
 *   SETTLE carries a deletion: a GONE entry (set with GONE), or a DEEP entry that absorbed one (a mark below
 *          it, or its dropped children) or whose recursive sync must delete what no event reported (overflow)
 * A DEEP ancestor absorbs every later mark below it (and its SETTLE: `rsync -r --delete` of it deletes); a
 * rename out of it makes its destination DEEP (what was absorbed moved with it).
 *
 * Timestamps: each entry keeps the time it was first marked; `oldest` is the first-marked time of the oldest
 * entry (the lag clock), kept as a running minimum and reset by drain.
 */
import { components, join, type RelPath } from '../util/bpath.ts';
import { coveringDeep, DEEP, entriesBelow, GONE, META, newNode, nodeFor, SETTLE, type Node } from './dirty-trie.ts';

export { DATA, DEEP, GONE, META, SETTLE } from './dirty-trie.ts';

/** A directory with more entries marked directly in it than this is synced as one recursive entry. */
export const COLLAPSE_CHILDREN = 512;

/**
 * A directory with this many dirty entries below it (counted when its child count passes 513, 1026, 2052...:
 * O(1) amortised) is synced as one recursive entry too: memory stays bounded when a storm touches every file of
 * a big tree (1M events over 100k paths in 1,000 subdirectories: 456 MiB peak without it, budget 400), while a
 * few changes in each of many subdirectories (the cutover's case) stay single entries.
 */
export const COLLAPSE_DESCENDANTS = 32_768;

export interface DirtyEntry {
  path: RelPath;
  flags: number;
  since: number;
}

export interface Drained {
  entries: DirtyEntry[];
  /** first-marked time of the oldest entry, null when empty */
  oldest: number | null;
}

export class DirtySet {
  #root: Node = newNode();
  #size = 0;
  /** entries flagged SETTLE */
  #held = 0;
  #oldest: number | null = null;
  /**
   * What the last drain handed out, while that batch is in flight (until releaseInFlight): a rename meanwhile
   * carries those entries to the new path (rsync may find them vanished; the rename, replayed on the target by
   * the next batch, would move the stale copy to a path no event marks).
   */
  #inFlight: Node | null = null;

  /** number of entries (distinct dirty paths) */
  get size(): number {
    return this.#size;
  }

  /** first-marked time of the oldest entry, or null */
  get oldest(): number | null {
    return this.#oldest;
  }

  /** number of entries flagged SETTLE (deletions waiting to settle) */
  get held(): number {
    return this.#held;
  }

  mark(path: RelPath, flags: number, since: number): void {
    if (flags & GONE) flags |= SETTLE;
    let node = this.#root;
    const parts = components(path);
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i]!;
      // covered by a recursive ancestor; a deletion below it makes it one (its `--delete` deletes)
      if (node.flags & DEEP) return this.#setFlags(node, flags & SETTLE, since);
      node.children ??= new Map();
      let child = node.children.get(name);
      if (!child) {
        child = newNode();
        node.children.set(name, child);
        const direct = i === parts.length - 1 ? ++node.direct : node.direct;
        if (node !== this.#root && (direct > COLLAPSE_CHILDREN || this.#crowded(node))) {
          this.#setFlags(node, DEEP | META | (flags & SETTLE), since);
          this.#dropChildren(node);
          return;
        }
      }
      node = child;
    }
    if (node.flags & DEEP) return this.#setFlags(node, flags & SETTLE, since);
    this.#setFlags(node, flags, since);
    if (flags & DEEP) this.#dropChildren(node);
  }

  /**
   * A rename inside the tree: the dirty entries under `from` now live under `to`; `from` becomes a META entry
   * (gone from the source) and `to` a META entry (appeared). Returns nothing; O(depth).
   * Under a recursive entry the marks below `from` were absorbed: `to` becomes recursive too (else a change
   * made there before the rename is lost: the rename, replayed on the target, moves the stale copy out of it).
   */
  move(from: RelPath, to: RelPath, since: number): void {
    const cover = coveringDeep(this.#root, from);
    const toFlags = cover ? META | DEEP | (cover.flags & SETTLE) : META;
    const detached = this.#detach(from);
    this.mark(from, META | GONE, since);
    if (detached) {
      const target = nodeFor(this.#root, to);
      if (target) {
        // `to` may already hold entries (a replaced file): merge by keeping the moved node's subtree.
        this.#count(target, -1);
        target.children = detached.children;
        target.flags = detached.flags;
        target.since = detached.since;
        this.#count(target, +1);
        if (detached.since) this.#noteSince(detached.since);
      }
    }
    this.mark(to, toFlags, since);
    if (this.#inFlight) this.#carryInFlight(this.#inFlight, from, to);
  }

  /** The batch handed out by the last drain landed (or was given back): renames no longer carry its entries. */
  releaseInFlight(): void {
    this.#inFlight = null;
  }

  /** Marks the in-flight entries at or under `from` (or the recursive entry covering it) under `to`. */
  #carryInFlight(root: Node, from: RelPath, to: RelPath): void {
    const cover = coveringDeep(root, from);
    if (cover) return this.mark(to, META | DEEP | (cover.flags & SETTLE), cover.since);
    let start: Node | undefined = root;
    for (const name of components(from)) if (!(start = start.children?.get(name))) return;
    const stack: Array<[Node, RelPath]> = [[start, to]];
    for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
      const [node, path] = top;
      if (node.flags) this.mark(path, node.flags, node.since);
      if (node.children && !(node.flags & DEEP)) for (const [name, child] of node.children) stack.push([child, join(path, name)]);
    }
  }

  /**
   * Every entry, then empty. O(number of nodes). With `hold`, entries carrying any of those flags stay (marked
   * again, first-marked times kept; O(held entries) more) and `oldest` is that of the entries handed out.
   */
  drain(hold = 0): Drained {
    const all = this.#drainAll();
    if (hold === 0) return all;
    const entries = all.entries.filter((e) => !(e.flags & hold));
    if (entries.length === all.entries.length) return all;
    this.restore(all.entries.filter((e) => e.flags & hold));
    let oldest: number | null = null;
    for (const e of entries) if (oldest === null || e.since < oldest) oldest = e.since;
    return { entries, oldest };
  }

  #drainAll(): Drained {
    const entries = this.peek();
    const oldest = this.#oldest;
    this.#inFlight = this.#root;
    this.#root = newNode();
    this.#size = 0;
    this.#held = 0;
    this.#oldest = null;
    return { entries, oldest };
  }

  /** Put entries back (a failed batch), keeping their original first-marked times. */
  restore(entries: readonly DirtyEntry[]): void {
    for (const e of entries) this.mark(e.path, e.flags, e.since);
  }

  /** The path is dirty: marked itself, or below a recursive entry. O(depth). */
  has(path: RelPath): boolean {
    let node: Node | undefined = this.#root;
    for (const name of components(path)) {
      if (node.flags & DEEP) return true;
      node = node.children?.get(name);
      if (!node) return false;
    }
    return node.flags !== 0;
  }

  /** Paths (with flags) without draining: for status, dry runs and persistence. */
  peek(limit = Infinity): DirtyEntry[] {
    const out: DirtyEntry[] = [];
    const stack: Array<[Node, RelPath]> = [[this.#root, '']];
    while (stack.length > 0 && out.length < limit) {
      const [node, path] = stack.pop()!;
      if (node.flags) out.push({ path, flags: node.flags, since: node.since });
      if (node.children && !(node.flags & DEEP)) {
        for (const [name, child] of node.children) stack.push([child, join(path, name)]);
      }
    }
    return out;
  }

  #setFlags(node: Node, flags: number, since: number): void {
    if (!flags) return;
    if (!node.flags) {
      this.#size++;
      node.since = since;
    } else if (since < node.since) {
      node.since = since;
    }
    if (flags & SETTLE && !(node.flags & SETTLE)) this.#held++;
    node.flags |= flags;
    this.#noteSince(node.since);
  }

  #noteSince(since: number): void {
    if (this.#oldest === null || since < this.#oldest) this.#oldest = since;
  }

  /** A node became DEEP: its subtree is one entry now, SETTLE kept if a dropped entry had it. */
  #dropChildren(node: Node): void {
    if (!node.children) return;
    let settle = 0;
    for (const child of node.children.values()) {
      settle |= this.#count(child, -1);
      if (child.since && child.since < node.since) node.since = child.since;
    }
    node.children = null;
    node.direct = 0;
    node.nextCheck = 0;
    this.#setFlags(node, settle, node.since);
  }

  /** At its next check point, whether `node` holds COLLAPSE_DESCENDANTS dirty entries (the walk stops there). */
  #crowded(node: Node): boolean {
    const at = Math.max(node.nextCheck, COLLAPSE_CHILDREN + 1);
    if (!node.children || node.children.size < at) return false;
    node.nextCheck = 2 * at;
    return entriesBelow(node, COLLAPSE_DESCENDANTS) >= COLLAPSE_DESCENDANTS;
  }

  /** Adds (`sign` +1) or removes (-1) the entries of a subtree from the counts; returns SETTLE if one had it. */
  #count(node: Node, sign: 1 | -1): number {
    let settle = 0;
    const stack = [node];
    while (stack.length > 0) {
      const cur = stack.pop()!;
      if (cur.flags) this.#size += sign;
      if (cur.flags & SETTLE) {
        this.#held += sign;
        settle = SETTLE;
      }
      if (cur.children) for (const c of cur.children.values()) stack.push(c);
    }
    return settle;
  }

  /** Removes the node at `path` (with its subtree) and returns it; fixes the entry count. */
  #detach(path: RelPath): Node | null {
    const names = components(path);
    const last = names.pop();
    if (last === undefined) return null;
    let node = this.#root;
    for (const name of names) {
      if (node.flags & DEEP) return null;
      const child = node.children?.get(name);
      if (!child) return null;
      node = child;
    }
    const found = node.children?.get(last);
    if (!found) return null;
    node.children!.delete(last);
    this.#count(found, -1);
    return found;
  }
}
